import { useEffect, useState } from "preact/hooks";
import type { ChatStore } from "./store";

/** Re-renders the calling component whenever the store changes. */
export function useStore(store: ChatStore): ChatStore {
  const [, setVersion] = useState(0);
  useEffect(
    () =>
      store.subscribe(() => {
        setVersion((version) => version + 1);
      }),
    [store],
  );
  return store;
}
