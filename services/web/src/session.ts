import { ParleyClient } from "../../sdk/index";

interface DevToken {
  userId: string;
  token: string;
  expiresAt: string;
}

/** Per tab, so that two tabs of one browser can be two people; a reload keeps you signed in. */
const NAME_KEY = "parley.name";
/** A token this close to its expiry is replaced before a reconnection uses it. */
const TOKEN_RENEW_MARGIN_MS = 60_000;

/** Signs in by name with the development server's token endpoint (only `parley dev` has it). */
async function fetchDevToken(name: string): Promise<DevToken> {
  const response = await fetch("/v1/dev/token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: name }) });
  const body = (await response.json().catch(() => ({}))) as Partial<DevToken> & { error?: string };
  if (!response.ok || body.token === undefined) {
    throw new Error(response.status === 404 ? "this server signs nobody in by name: it is not `parley dev`" : (body.error ?? `sign-in failed (HTTP ${response.status})`));
  }
  return body as DevToken;
}

/** One device id per user and browser profile: the server stores it with each message sent. */
function deviceIdFor(userId: string): string {
  const key = `parley.device.${userId}`;
  let id = localStorage.getItem(key);
  if (id === null) {
    id = `web-${Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    localStorage.setItem(key, id);
  }
  return id;
}

export function savedName(): string | null {
  return sessionStorage.getItem(NAME_KEY);
}

export function forgetName(): void {
  sessionStorage.removeItem(NAME_KEY);
}

/** Signs `name` in: a client for that user, not connected yet. */
export async function signIn(name: string): Promise<{ userId: string; client: ParleyClient }> {
  let current = await fetchDevToken(name.trim());
  sessionStorage.setItem(NAME_KEY, current.userId);
  const userId = current.userId;
  const client = new ParleyClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
    deviceId: deviceIdFor(userId),
    token: async (reason) => {
      if (reason === "expired" || Date.parse(current.expiresAt) - Date.now() < TOKEN_RENEW_MARGIN_MS) current = await fetchDevToken(userId);
      return current.token;
    },
  });
  return { userId, client };
}
