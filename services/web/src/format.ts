import type { PresenceView } from "../../sdk/index";

export function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** "online", "last seen 5 min ago", or null when the user hides it from you. */
export function presenceText(view: PresenceView | undefined, now = Date.now()): string | null {
  if (!view || view.online === null) return null;
  if (view.online) return "online";
  if (view.lastSeen === null) return "offline";
  const minutes = Math.round((now - Date.parse(view.lastSeen)) / 60_000);
  if (minutes < 1) return "last seen just now";
  if (minutes < 60) return `last seen ${minutes} min ago`;
  const seen = new Date(view.lastSeen);
  return `last seen ${seen.toDateString() === new Date(now).toDateString() ? "" : seen.toLocaleDateString() + " "}${clock(view.lastSeen)}`;
}

export function percent(sent: number, total: number): number {
  return total === 0 ? 100 : Math.round((sent / total) * 100);
}
