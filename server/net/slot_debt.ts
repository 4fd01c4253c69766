/**
 * A connection's slot debt (unproductive time), the bookkeeping alone: time
 * with a read or write on the peer pending, less the time its bytes would
 * take at the floor rate (`--min-rate`), never below 0. `timed_conn.ts`
 * keeps one per connection and says when operations begin and end;
 * `connection_slots.ts` evicts by it.
 *
 * @module
 */

/**
 * The default floor rate (`--min-rate`), in bytes per second: a transfer at
 * least this fast keeps its connection's unproductive time from growing.
 */
export const DEFAULT_FLOOR_RATE = 64 * 1024;

/**
 * A connection's unproductive time (see `timed_conn.ts`, which keeps one per connection): time
 * with a read or write on the peer pending, less n / `floorRate` seconds for
 * every n bytes moved, never below 0.
 *
 * @example
 * ```ts
 * import { SlotDebt } from "./slot_debt.ts";
 *
 * const debt = new SlotDebt(1000); // 1000 bytes/s
 * debt.begin(0);
 * debt.end(3000, 500); // 3 s pending, 500 bytes: 0.5 s paid back
 * console.assert(debt.unproductiveMs(3000) === 2500);
 * ```
 */
export class SlotDebt {
  readonly #msPerByte: number;
  /** The debt settled so far, in milliseconds. */
  #settledMs = 0;
  /** Reads and writes pending now. */
  #pending = 0;
  /** Since when pending time has not been settled (`performance.now()`), while some is pending. */
  #since = 0;

  /**
   * @param floorRate Bytes per second that pay back the time they take.
   * @throws {RangeError} if the rate is not a positive number.
   */
  constructor(floorRate: number) {
    if (!(floorRate > 0) || !Number.isFinite(floorRate)) {
      throw new RangeError(
        `Cannot keep slot debt: the floor rate must be positive, not ${floorRate}`,
      );
    }
    this.#msPerByte = 1000 / floorRate;
  }

  /**
   * A request's first byte arrived: the debt carried into it is capped at
   * `ms`, so a client that waited long before it does not stay in debt for
   * as long again once it transfers faster than the floor rate. A request
   * starts no lower than `ms`, so repeated requests never clear a debt.
   */
  carryAtMost(ms: number): void {
    this.#settledMs = Math.min(this.#settledMs, ms);
  }

  /** A read or write on the peer starts, at `now`. */
  begin(now: number): void {
    if (this.#pending++ === 0) this.#since = now;
  }

  /** A read or write on the peer ends at `now`, having moved `bytes`. */
  end(now: number, bytes: number): void {
    if (this.#pending === 0) return;
    this.#settledMs += now - this.#since;
    this.#since = now;
    this.#pending--;
    this.#settledMs = Math.max(0, this.#settledMs - bytes * this.#msPerByte);
  }

  /** The unproductive time at `now`, in milliseconds, the pending operation's time included. */
  unproductiveMs(now: number): number {
    return this.#settledMs + (this.#pending > 0 ? Math.max(0, now - this.#since) : 0);
  }
}
