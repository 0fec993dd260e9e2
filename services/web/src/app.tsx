import { useEffect, useState } from "preact/hooks";
import { forgetName, savedName, signIn } from "./session";
import { ChatStore } from "./store";
import { Messenger } from "./messenger";
import { field } from "./forms";

/** Sign-in by name (the development server's), then the messenger. */
export function App() {
  const [store, setStore] = useState<ChatStore | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function enter(name: string): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      const { userId, client } = await signIn(name);
      const next = new ChatStore(userId, client);
      next.start();
      setStore(next);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    const name = savedName();
    if (name !== null) void enter(name);
  }, []);

  if (store) {
    return (
      <Messenger
        store={store}
        onSignOut={() => {
          forgetName();
          void store.stop();
          setStore(null);
        }}
      />
    );
  }
  return (
    <main class="sign-in">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const name = field(event.currentTarget, "name");
          if (name !== "") void enter(name);
        }}
      >
        <h1>Parley</h1>
        <p>Development sign-in: a name is enough.</p>
        <label for="name">Your name</label>
        <input id="name" name="name" autoComplete="username" required maxLength={64} pattern="[A-Za-z0-9_.@\-]+" title="letters, digits and _ . @ -" autoFocus />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error !== null && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
