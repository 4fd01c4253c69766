/**
 * A cap on registrations per address: each name registered costs the
 * registry a row and the log a line, and was free (issue 17: over 500 a
 * second from one address). An address may register at most `perMinute`
 * names in any minute; the next 825 from it is refused (1601, the answer a
 * refused registration gets) until a minute has passed since the oldest one
 * counted.
 *
 * | registrations from the address in the last minute | the next 825            |
 * |---------------------------------------------------|-------------------------|
 * | fewer than `perMinute`                            | served as usual         |
 * | `perMinute`                                       | refused with 1601       |
 *
 * Counted per server instance, in memory: behind a balancer each instance
 * counts its own.
 *
 * @example
 * ```ts
 * import { RegistrationRate } from "./registration_rate.ts";
 *
 * const rate = new RegistrationRate(2);
 * console.assert(rate.take("192.0.2.1", 0));
 * console.assert(rate.take("192.0.2.1", 10));
 * console.assert(!rate.take("192.0.2.1", 20));
 * console.assert(rate.take("192.0.2.1", 60_001));
 * ```
 *
 * @module
 */

/** Default most registrations per address per minute. */
export const DEFAULT_REGISTRATIONS_PER_MINUTE = 60;

/** Most addresses remembered; the least recently seen is forgotten first. */
const MAX_ADDRESSES = 100_000;

const MINUTE_MS = 60_000;

/** Registrations per address over the last minute. */
export class RegistrationRate {
  readonly #perMinute: number;
  /** Address → times (`performance.now()`) of its registrations in the last minute, oldest first. */
  readonly #recent = new Map<string, number[]>();

  /**
   * @param perMinute Most registrations per address per minute, at least 1.
   * @throws {RangeError} if `perMinute` is below 1.
   */
  constructor(perMinute: number) {
    if (!Number.isSafeInteger(perMinute) || perMinute < 1) {
      throw new RangeError(`Cannot limit registrations: ${perMinute} per minute is below 1`);
    }
    this.#perMinute = perMinute;
  }

  /** The cap. */
  get perMinute(): number {
    return this.#perMinute;
  }

  /** Counts a registration from `address` at `now`; `false` (not counted) when over the cap. */
  take(address: string, now: number = performance.now()): boolean {
    const times = (this.#recent.get(address) ?? []).filter((at) => now - at < MINUTE_MS);
    this.#recent.delete(address); // re-inserted last: the map stays in order of use
    if (times.length >= this.#perMinute) {
      this.#recent.set(address, times);
      return false;
    }
    times.push(now);
    this.#recent.set(address, times);
    if (this.#recent.size > MAX_ADDRESSES) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
    return true;
  }
}
