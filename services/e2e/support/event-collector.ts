import type { InboxEvent, Message } from "../../protocol/frames.js";

/** Anything that hands on inbox events: the SDK's ParleyClient. */
interface InboxEventSource {
  on(event: "event", listener: (event: InboxEvent) => void): unknown;
}

/** Records a client's inbox events and lets a test await the ones it expects. */
export class EventCollector {
  readonly events: InboxEvent[] = [];
  private waiters: { predicate: () => boolean; resolve: () => void }[] = [];

  /** Collects the events a client emits from now on. */
  static of(client: InboxEventSource): EventCollector {
    const collector = new EventCollector();
    client.on("event", collector.record);
    return collector;
  }

  /** A listener to attach before connecting (`onEvent`), so that the first sync is collected too. */
  readonly record = (event: InboxEvent): void => {
    this.events.push(event);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.predicate()) return true;
      waiter.resolve();
      return false;
    });
  };

  get messages(): Message[] {
    return this.events.flatMap((e) => (e.type === "message" ? [e.message] : []));
  }

  /** Resolves once the collected events satisfy `predicate` (at once if they already do). */
  until(predicate: (events: InboxEvent[]) => boolean): Promise<InboxEvent[]> {
    return new Promise((resolve) => {
      const check = (): boolean => predicate(this.events);
      if (check()) {
        resolve(this.events);
        return;
      }
      this.waiters.push({ predicate: check, resolve: () => { resolve(this.events); } });
    });
  }

  untilMessages(count: number): Promise<Message[]> {
    return this.until(() => this.messages.length >= count).then(() => this.messages);
  }
}
