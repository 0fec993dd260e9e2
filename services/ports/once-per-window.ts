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
  /**
   * `claim` of each key, in one call (the offline recipients of a message): the answer is
   * in the order of `keys`. A key listed twice is granted at most once.
   */
  claimEach(keys: readonly string[], windowMs: number): Promise<boolean[]>;
  close(): Promise<void>;
}
