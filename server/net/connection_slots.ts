/**
 * Who gets a connection slot: a cap on open connections, a cap per address,
 * and, when a cap is reached, which connection makes room for a newcomer.
 *
 * | cap reached     | candidates                         |
 * |-----------------|------------------------------------|
 * | per address     | that address's own connections     |
 * | all connections | every connection                   |
 *
 * Among the candidates, the first that exists goes:
 *
 * | order | closed to make room                                                                  |
 * |-------|--------------------------------------------------------------------------------------|
 * | 1     | the oldest not signed in that is past {@linkcode SIGN_IN_GRACE_MS}                   |
 * | 2     | the signed-in one with the most unproductive time, if it is at least {@linkcode SIGN_IN_GRACE_MS} |
 * | 3     | the oldest not signed in (still within its grace)                                     |
 * | 4     | the signed-in one with the most unproductive time among those waiting for a request with no upload in hand |
 * | —     | none: the newcomer is refused                                                         |
 *
 * Unproductive time (slot debt, `timed_conn.ts`): time with a read or write
 * on the peer pending (the wait for the next request included), less
 * n / `--min-rate` seconds for each n bytes moved, never below 0; the
 * server's own work (disk, storage, buffers) adds nothing. So a connection
 * that moves at least `--min-rate` (an upload, a download) is never closed
 * for a newcomer; one that trickles below it, waits between cheap requests,
 * or leaves a 1603 unanswered runs up debt at up to a second a second, and
 * goes once it owes {@linkcode SIGN_IN_GRACE_MS}, however many identities
 * and addresses hold such connections.
 *
 * A connection that has not signed in costs an attacker nothing to open, so
 * it is the first to go once it had its chance. A newcomer that signs in
 * promptly keeps its slot while connections in debt remain.
 * Pure bookkeeping: the caller closes what it is told to.
 *
 * @example
 * ```ts
 * import { ConnectionSlots, type SlotHolder } from "./connection_slots.ts";
 *
 * const slots = new ConnectionSlots<SlotHolder>({ maxConnections: 1, maxPerAddress: 1 });
 * const first = {
 *   address: "192.0.2.1",
 *   signedIn: false,
 *   betweenRequests: true,
 *   unproductiveMs: () => 0,
 * };
 * slots.add(first, 0);
 * const room = slots.makeRoom("192.0.2.7");
 * console.assert(room !== undefined && room[0] === first);
 * ```
 *
 * @module
 */

/**
 * How long a connection not signed in yet is passed over for eviction while
 * one in debt, or an older one not signed in, can go instead; and how much
 * unproductive time makes a signed-in connection go before such a young one
 * (issue 17): a newcomer that signs in promptly keeps its slot even while
 * others reconnect as fast as they are closed.
 */
export const SIGN_IN_GRACE_MS = 2_000;

/** What the slots need to know of a connection. */
export interface SlotHolder {
  /** The peer's address, without the port. */
  readonly address: string;
  /** Whether a client signed in on it (826 or 827 accepted). */
  readonly signedIn: boolean;
  /**
   * Whether it waits for its next request (not one byte of it read) with no
   * upload in hand: closing it loses no work under way.
   */
  readonly betweenRequests: boolean;
  /** Its unproductive time at `now` (`performance.now()`), in milliseconds (`timed_conn.ts`). */
  unproductiveMs(now: number): number;
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

  /** The connection to close among those `candidate` accepts (the order in the module documentation). */
  #victim(candidate: (holder: T) => boolean, now: number): T | undefined {
    let unsigned: T | undefined;
    let unsignedSince = Infinity;
    let debtor: T | undefined;
    let debt = -1;
    let waiting: T | undefined;
    let waitingDebt = -1;
    for (const [holder, openedAt] of this.#openedAt) {
      if (!candidate(holder)) continue;
      if (!holder.signedIn) {
        if (openedAt < unsignedSince) [unsigned, unsignedSince] = [holder, openedAt];
        continue;
      }
      const owed = holder.unproductiveMs(now);
      if (owed > debt) [debtor, debt] = [holder, owed];
      if (holder.betweenRequests && owed > waitingDebt) [waiting, waitingDebt] = [holder, owed];
    }
    if (unsigned !== undefined && now - unsignedSince >= SIGN_IN_GRACE_MS) return unsigned;
    if (debtor !== undefined && debt >= SIGN_IN_GRACE_MS) return debtor;
    return unsigned ?? waiting;
  }
}
