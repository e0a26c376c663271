import type { WatchHub, WatchKind } from "../watch/watch-hub.js";
import { PositionLoop, type PositionWatchOptions } from "./position-loop.js";
import type { QueueStore } from "./queue-store.js";
import { Watcher, type WatchItem } from "./watcher.js";

/** The fan-out of WatchPosition. */
export type PositionHub = WatchHub<Watcher, WatchItem, string>;

/** WatchPosition as a kind of watch: a stream follows one user's ticket. */
export function positionWatch(store: QueueStore, options: PositionWatchOptions): WatchKind<Watcher, WatchItem, string> {
  return {
    watcher: (userId, signal) => new Watcher(userId, signal, options.now),
    loop: (eventId, reader) => new PositionLoop(eventId, reader, store, options),
  };
}
