/**
 * Tells a change feed subscriber when to look at an event's outbox again:
 * when the outbox may have new entries, or entries may have come due for
 * redelivery. In the service it is the process's one outbox reader
 * (`OutboxReader.follow`: the appending scripts' notifications, with a poll
 * beside them).
 */
export interface OutboxSignal {
  /** Starts following the event for one subscription; `close` the result when it ends. */
  follow(eventId: string): OutboxFollow;
}

export interface OutboxFollow {
  /**
   * Resolves when the outbox may have changed since the previous `wait`
   * returned (at once if it may have meanwhile); rejects with `signal.reason`
   * once `signal` aborts.
   */
  wait(signal: AbortSignal): Promise<void>;
  close(): void;
}
