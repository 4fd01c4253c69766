/**
 * A TCP connection whose every read and write has a deadline: a peer that
 * goes quiet, or stops reading, is disconnected instead of holding a
 * connection slot forever. A request has two deadlines of its own, both
 * counted from its first byte, so a peer trickling a byte every few seconds
 * (slow loris) is cut off as well:
 *
 * | deadline | covers                                                  | restarted           |
 * |----------|---------------------------------------------------------|---------------------|
 * | idle     | one read or one write                                   | by each call        |
 * | header   | the request header and payload (not an upload's packets) | never               |
 * | request  | the whole request, an upload's packets and a download's frames included | by each MiB received or sent |
 *
 * The idle deadline of every read and write runs under one timer per
 * connection (`common/watchdog.ts`), not one per call; this file only
 * decides when each starts and ends.
 *
 * It also keeps the connection's **unproductive time** (its slot debt,
 * `slot_debt.ts`), by which `connection_slots.ts` chooses whom to evict when
 * the server is full:
 *
 * | what happens                                             | unproductive time                          |
 * |----------------------------------------------------------|--------------------------------------------|
 * | a read or write on the peer is pending (the wait for the next request included, a write the peer does not read) | grows with the time it is pending (once, when a read and a write are pending together) |
 * | a read or write moves n bytes                            | pays back n / floor rate seconds, never below 0 |
 * | nothing is pending (the server decrypts, writes to disk, waits for a buffer grant, commits) | unchanged |
 * | a request's first byte arrives                           | capped at the sign-in grace (`connection_slots.ts`) |
 *
 * So a peer moving at least the floor rate keeps it near 0, a slow one or a
 * silent one sees it grow by up to a second a second, and the server's own
 * slowness is never the peer's debt. A fast transfer earns nothing for later:
 * the debt does not go below 0. Pure bookkeeping: nothing is closed for it here.
 *
 * @module
 */

import { Watchdog } from "../../common/watchdog.ts";
import { writeAll } from "../../common/write_all.ts";
import { type ByteSource } from "../../protocol/mod.ts";
import type { NetConn } from "./listen.ts";
import { SIGN_IN_GRACE_MS } from "./connection_slots.ts";
import { DEFAULT_FLOOR_RATE, SlotDebt } from "./slot_debt.ts";

export { DEFAULT_FLOOR_RATE } from "./slot_debt.ts";

/** Every this many bytes of a request, received or sent, restart its deadline (a minimum rate). */
export const REQUEST_PROGRESS_BYTES = 1024 * 1024;

/** The deadlines of a {@linkcode TimedConn}, in milliseconds. */
export interface ConnDeadlines {
  /** How long one read or write may wait. */
  idleMs: number;
  /**
   * How long a whole request may take to arrive, from its first byte; each
   * {@linkcode REQUEST_PROGRESS_BYTES} received restart it. No limit when omitted.
   */
  requestMs?: number;
  /**
   * How long a request's header and payload may take to arrive, from its
   * first byte, until {@linkcode TimedConn.endHeader}. No limit when omitted.
   */
  headerMs?: number;
}

/** Which deadline passed. */
export type Expired = "idle" | "header" | "request";

/**
 * Wraps a connection (TCP, or TLS from `tls_terminator.ts`): a deadline that passes closes the connection, so the
 * pending call fails. Closing is idempotent.
 */
export class TimedConn implements ByteSource {
  #conn: NetConn;
  #deadlines: ConnDeadlines;
  #requestTimer: ReturnType<typeof setTimeout> | undefined;
  #headerTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The request's progress: none awaited, awaited (not one byte of it read
   * yet: the connection is idle), or started (its deadlines armed).
   */
  #request: "none" | "awaited" | "started" = "none";
  #requestBytes = 0;
  /** When the wait for the next request's first byte times out (`performance.now()`). */
  #waitEndsAt = 0;
  #closed = false;
  #expired: Expired | undefined;
  readonly #debt: SlotDebt;
  /** The idle deadline of every read and write, under one timer. */
  readonly #watchdog: Watchdog;
  /** Called when the idle deadline passes, just before the connection is closed. */
  onTimeout: (() => void) | undefined;

  /**
   * Wraps `conn`.
   *
   * @param conn The connection; this object owns it from now on.
   * @param deadlines The deadlines.
   * @param floorRate Bytes per second that keep the unproductive time at 0
   * (`--min-rate`); default {@linkcode DEFAULT_FLOOR_RATE}.
   */
  constructor(conn: NetConn, deadlines: ConnDeadlines, floorRate: number = DEFAULT_FLOOR_RATE) {
    this.#conn = conn;
    this.#deadlines = deadlines;
    this.#debt = new SlotDebt(floorRate);
    this.#watchdog = new Watchdog({
      onExpire: () => {
        this.#expired ??= "idle";
        this.onTimeout?.();
        this.close();
      },
      message: `Cannot go on: no data for ${deadlines.idleMs} ms`,
    });
  }

  /**
   * The connection's unproductive time at `now` (`performance.now()`), in
   * milliseconds: see the module documentation.
   */
  unproductiveMs(now: number = performance.now()): number {
    return this.#debt.unproductiveMs(now);
  }

  /** Which deadline passed (and so closed the connection), if any. */
  get expired(): Expired | undefined {
    return this.#expired;
  }

  /** Whether a request took too long to arrive (and so closed the connection). */
  get requestTooSlow(): boolean {
    return this.#expired === "header" || this.#expired === "request";
  }

  /** Whether a read or write timed out (and so closed the connection). */
  get timedOut(): boolean {
    return this.#expired !== undefined;
  }

  /**
   * Whether a request is awaited and not one byte of it has been read:
   * the connection is idle.
   */
  get awaitingRequest(): boolean {
    return this.#request === "awaited";
  }

  /**
   * Starts waiting for a request: its deadlines start with the next byte
   * read. Ends the previous request, if any. The wait for its first byte is
   * under the idle deadline counted from `idleSince` (default now): a
   * request that did no work (a discovery) does not give the connection a
   * new idle period.
   */
  beginRequest(idleSince: number = performance.now()): void {
    this.endRequest();
    this.#request = "awaited";
    this.#waitEndsAt = idleSince + this.#deadlines.idleMs;
  }

  /** The request's header and payload are in: only the request deadline applies now. */
  endHeader(): void {
    clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
  }

  /** Ends the current request: its deadlines no longer apply. */
  endRequest(): void {
    this.endHeader();
    clearTimeout(this.#requestTimer);
    this.#requestTimer = undefined;
    this.#request = "none";
    this.#requestBytes = 0;
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Reads up to `p.length` bytes; `null` at the end of the stream. */
  async read(p: Uint8Array): Promise<number | null> {
    const waitMs = this.awaitingRequest
      ? Math.max(1, this.#waitEndsAt - performance.now())
      : this.#deadlines.idleMs;
    const n = await this.#counted(this.#timed(this.#conn.read(p), waitMs), (n) => n ?? 0);
    if (n !== null && n > 0 && this.#request !== "none") this.#progress(n);
    return n;
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    await writeAll(
      {
        write: (p) =>
          this.#counted(this.#timed(this.#conn.write(p), this.#deadlines.idleMs), (n) => n),
      },
      bytes,
    );
    // An answer streamed back (a download) is held to the same minimum rate.
    if (this.#request === "started") this.#progress(bytes.length);
  }

  /** Closes the connection; does nothing if it is closed already. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.endRequest();
    this.#watchdog.release();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }

  /** Arms the deadlines on a request's first byte; re-arms the request's every 1 MiB. */
  #progress(n: number): void {
    if (this.#request !== "started") {
      this.#request = "started";
      this.#debt.carryAtMost(SIGN_IN_GRACE_MS);
      this.#headerTimer = this.#arm(this.#deadlines.headerMs, "header");
    }
    this.#requestBytes += n;
    if (this.#requestTimer !== undefined && this.#requestBytes < REQUEST_PROGRESS_BYTES) return;
    clearTimeout(this.#requestTimer);
    this.#requestBytes = 0;
    this.#requestTimer = this.#arm(this.#deadlines.requestMs, "request");
  }

  #arm(ms: number | undefined, which: Expired): ReturnType<typeof setTimeout> | undefined {
    if (ms === undefined) return undefined;
    return setTimeout(() => this.#expire(which), ms);
  }

  #expire(which: Expired): void {
    this.#expired ??= which;
    this.close();
  }

  /** `operation`, pending on the peer: its time and the bytes it moved go to the slot debt. */
  async #counted<T>(operation: Promise<T>, bytes: (value: T) => number): Promise<T> {
    this.#debt.begin(performance.now());
    let moved = 0;
    try {
      const value = await operation;
      moved = bytes(value);
      return value;
    } finally {
      this.#debt.end(performance.now(), moved);
    }
  }

  #timed<T>(operation: Promise<T>, ms: number): Promise<T> {
    return this.#watchdog.watch(operation, ms);
  }
}
