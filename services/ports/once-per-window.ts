/**
 * Claims that let something happen at most once per key per window, shared by every
 * replica of a service: the typing push of a (typer, conversation), the notification of
 * a user. Whichever replica claims first wins; the others see the claim and skip.
 */
export interface OncePerWindow {
  /**
   * True, and the key is claimed for `windowMs`, when no claim on `key` is live; false
   * otherwise (the existing claim is not extended).
   */
  claim(key: string, windowMs: number): Promise<boolean>;
  close(): Promise<void>;
}
