/**
 * Deadlines for a stream of short operations (one connection's reads and
 * writes) under one timer: {@linkcode withDeadline} arms and clears a timer
 * for every call, which on a socket read every 16 KiB was a tenth of the
 * secure server's CPU per upload. A watchdog arms its timer only when none
 * is armed or a new deadline comes sooner; when it fires with nothing
 * overdue it re-arms for the soonest pending deadline, so a connection
 * that keeps moving costs one timer per deadline period, not one per call.
 *
 * An operation that passes its deadline fails with `Deno.errors.TimedOut`,
 * after `onExpire` (close the connection, so the operation itself fails and
 * nothing outlives the deadline), exactly as with {@linkcode withDeadline}.
 *
 * @example
 * ```ts
 * import { Watchdog } from "./watchdog.ts";
 *
 * const watchdog = new Watchdog({ message: "the peer made no progress for 10 ms" });
 * const slow = new Promise<number>((resolve) => setTimeout(() => resolve(1), 50));
 * try {
 *   await watchdog.watch(slow, 10);
 * } catch (error) {
 *   console.log(error instanceof Deno.errors.TimedOut); // true
 * }
 * await slow;
 * watchdog.release();
 * ```
 *
 * @module
 */

import type { DeadlineOptions } from "./deadline.ts";

/** One operation watched: when it is overdue, and how to fail it. */
interface Watch {
  readonly deadlineAt: number;
  readonly fail: (error: Error) => void;
}

/** One timer for the deadlines of many operations; see the module doc. */
export class Watchdog {
  readonly #options: DeadlineOptions;
  readonly #pending = new Set<Watch>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires (`performance.now()`). */
  #timerAt = Infinity;
  #expired = false;
  #released = false;

  /**
   * @param options What to do when an operation passes its deadline
   * (`onExpire` is called once, for the first), and the message of the
   * `Deno.errors.TimedOut` each overdue operation fails with.
   */
  constructor(options: DeadlineOptions = {}) {
    this.#options = options;
  }

  /**
   * Settles like `operation`, unless `ms` milliseconds pass first: then
   * `onExpire` runs and every operation pending fails with
   * `Deno.errors.TimedOut`. A limit of 0 or `Infinity` means none.
   *
   * @throws {RangeError} if `ms` is not a duration.
   */
  watch<T>(operation: Promise<T>, ms: number): Promise<T> {
    if (ms === 0 || ms === Infinity) return operation;
    if (!(ms > 0)) throw new RangeError(`Cannot set a deadline: ${ms} ms is not a duration`);
    return new Promise<T>((resolve, reject) => {
      const watch: Watch = { deadlineAt: performance.now() + ms, fail: reject };
      this.#pending.add(watch);
      operation.then(
        (value) => {
          if (this.#settled(watch)) resolve(value);
        },
        (error) => {
          if (this.#settled(watch)) reject(error);
        },
      );
      this.#arm(watch.deadlineAt);
    });
  }

  /**
   * No more operations will come (the connection is closed): the timer is
   * cleared as soon as none is pending, at once if none is.
   */
  release(): void {
    this.#released = true;
    if (this.#pending.size === 0) this.#disarm();
  }

  /** Whether `watch` was still pending (so its outcome counts); forgets it. */
  #settled(watch: Watch): boolean {
    if (!this.#pending.delete(watch)) return false;
    if (this.#released && this.#pending.size === 0) this.#disarm();
    return true;
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    const overdue = [...this.#pending].filter((watch) => watch.deadlineAt <= now);
    if (overdue.length === 0) {
      const soonest = Math.min(...[...this.#pending].map((watch) => watch.deadlineAt));
      if (soonest !== Infinity) this.#arm(soonest);
      return;
    }
    for (const watch of overdue) this.#pending.delete(watch);
    try {
      if (!this.#expired) {
        this.#expired = true;
        this.#options.onExpire?.();
      }
    } finally {
      const message = this.#options.message ?? "Cannot finish in time: the deadline passed";
      for (const watch of overdue) watch.fail(new Deno.errors.TimedOut(message));
      const soonest = Math.min(...[...this.#pending].map((watch) => watch.deadlineAt));
      if (soonest !== Infinity) this.#arm(soonest);
    }
  }
}
