/**
 * Who gets a connection slot: a cap on open connections, a cap per address,
 * and, when a cap is reached, which connection makes room for a newcomer.
 *
 * | cap reached     | closed to make room (first that exists)                          |
 * |-----------------|------------------------------------------------------------------|
 * | per address     | that address's oldest connection not signed in, else its         |
 * |                 | connection idle for the longest; else the newcomer is refused    |
 * | all connections | the oldest connection not signed in, else the one idle for the   |
 * |                 | longest; else the newcomer is refused                            |
 *
 * Within each rule, connections past {@linkcode SIGN_IN_GRACE_MS} (open
 * that long without signing in, idle that long) go first: the order is old
 * unsigned, long idle, young unsigned, briefly idle. Idle: waiting for a request, counted from the
 * last request that did work; a signed-in client that leaves a 1603
 * unanswered counts as idle after a short grace (`session/connection.ts`).
 *
 * A connection that has not signed in costs an attacker nothing to open, so
 * it is the first to go, whatever it is doing; a signed-in connection goes
 * only when idle (waiting for a request, none of it read), never mid-upload.
 * Pure bookkeeping: the caller closes what it is told to.
 *
 * @example
 * ```ts
 * import { ConnectionSlots, type SlotHolder } from "./connection_slots.ts";
 *
 * const slots = new ConnectionSlots<SlotHolder>({ maxConnections: 1, maxPerAddress: 1 });
 * const first = { address: "192.0.2.1", signedIn: false, idleSince: undefined };
 * slots.add(first, 0);
 * const room = slots.makeRoom("192.0.2.7");
 * console.assert(room !== undefined && room[0] === first);
 * ```
 *
 * @module
 */

/**
 * How long a connection not signed in yet is passed over for eviction while
 * an idle one, or an older one not signed in, can go instead: a newcomer that
 * signs in promptly keeps its slot even while others reconnect as fast as
 * they are closed (issue 17).
 */
export const SIGN_IN_GRACE_MS = 2_000;

/** What the slots need to know of a connection. */
export interface SlotHolder {
  /** The peer's address, without the port. */
  readonly address: string;
  /** Whether a client signed in on it (826 or 827 accepted). */
  readonly signedIn: boolean;
  /** Since when (`performance.now()`) it has been idle, or `undefined` when it is not. */
  readonly idleSince: number | undefined;
}

/** The caps. */
export interface SlotLimits {
  /** Most open connections. */
  maxConnections: number;
  /** Most open connections from one address. */
  maxPerAddress: number;
}

/** Open connections, by address, with when each was opened. */
export class ConnectionSlots<T extends SlotHolder> {
  readonly #limits: SlotLimits;
  readonly #openedAt = new Map<T, number>();
  readonly #perAddress = new Map<string, number>();

  /**
   * @param limits The caps; each at least 1.
   * @throws {RangeError} if a cap is below 1.
   */
  constructor(limits: SlotLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`Cannot limit connections: ${name} must be at least 1, not ${value}`);
      }
    }
    this.#limits = { ...limits };
  }

  /** Open connections counted. */
  get size(): number {
    return this.#openedAt.size;
  }

  /** Connections counted from `address`. */
  countFrom(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  /** Counts `holder`, opened at `now` (`performance.now()`). */
  add(holder: T, now: number = performance.now()): void {
    if (this.#openedAt.has(holder)) return;
    this.#openedAt.set(holder, now);
    this.#perAddress.set(holder.address, this.countFrom(holder.address) + 1);
  }

  /** Stops counting `holder` (closed, or being closed); does nothing if it is not counted. */
  remove(holder: T): void {
    if (!this.#openedAt.delete(holder)) return;
    const count = this.countFrom(holder.address) - 1;
    if (count > 0) this.#perAddress.set(holder.address, count);
    else this.#perAddress.delete(holder.address);
  }

  /**
   * What to close so that a newcomer from `address` fits: nothing when it
   * fits already, `undefined` when nothing may be closed (refuse it). The
   * connection returned is no longer counted. One is always enough: closing
   * one of the address's own connections frees a slot overall as well.
   */
  makeRoom(address: string, now: number = performance.now()): T[] | undefined {
    const full = this.countFrom(address) >= this.#limits.maxPerAddress
      ? (holder: T) => holder.address === address
      : this.size >= this.#limits.maxConnections
      ? () => true
      : undefined;
    if (full === undefined) return [];
    const victim = this.#victim(full, now);
    if (victim === undefined) return undefined;
    this.remove(victim);
    return [victim];
  }

  /**
   * The oldest not signed in among `candidates` that is past its sign-in
   * grace, else the one idle the longest, else the oldest not signed in.
   */
  #victim(candidate: (holder: T) => boolean, now: number): T | undefined {
    let unsigned: T | undefined;
    let unsignedSince = Infinity;
    let idle: T | undefined;
    let idleSince = Infinity;
    for (const [holder, openedAt] of this.#openedAt) {
      if (!candidate(holder)) continue;
      if (!holder.signedIn) {
        if (openedAt < unsignedSince) [unsigned, unsignedSince] = [holder, openedAt];
        continue;
      }
      const since = holder.idleSince;
      if (since !== undefined && since < idleSince) [idle, idleSince] = [holder, since];
    }
    // A newcomer signing in promptly is not the next one's victim while
    // connections that had their chance (or left their work unanswered) remain;
    // nor is it between its own requests, idle for a moment.
    if (unsigned !== undefined && now - unsignedSince >= SIGN_IN_GRACE_MS) return unsigned;
    if (idle !== undefined && now - idleSince >= SIGN_IN_GRACE_MS) return idle;
    return unsigned ?? idle;
  }
}
