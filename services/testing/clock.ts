/** A clock that moves only when a test says so: hand `now` to an adapter, call `advance`. */
export class ManualClock {
  private current: number;

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.current = start;
  }

  readonly now = (): number => this.current;

  readonly advance = (ms: number): void => {
    this.current += ms;
  };
}
