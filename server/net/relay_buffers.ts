/**
 * The buffers a secure connection's relay (`secure_conn.ts`) reads into:
 * each direction owns a small one, and borrows a large one from a pool
 * shared by the secure port while bytes keep coming faster than the small
 * one holds.
 *
 * Why: every chunk relayed costs a read from one socket and a write to the
 * other, and a write on loopback runs the receiving side's TCP path too. With
 * only {@linkcode SMALL_RELAY_BUFFER_SIZE} bytes per chunk, a 100 MB upload
 * took 6,000 writes and 12,300 reads on the server; with 256 KiB chunks, 450
 * writes and 6,800 reads (about what TLS alone needs), and the server's
 * system time fell by a third.
 *
 * | the last read                              | the next read goes into                          |
 * |--------------------------------------------|--------------------------------------------------|
 * | filled the small buffer                    | a large buffer, if the pool has one free         |
 * | brought more than the small buffer holds   | the same large buffer                            |
 * | brought at most that (the flow slowed)     | the small buffer; the large one goes back        |
 *
 * The pool holds at most `most` large buffers: however many connections
 * relay at once, the large buffers never take more than `most × size`
 * bytes; when all are lent, a relay reads in small chunks, as before.
 *
 * @example
 * ```ts
 * import { RelayBuffer, RelayBufferPool, SMALL_RELAY_BUFFER_SIZE } from "./relay_buffers.ts";
 *
 * const pool = new RelayBufferPool(256 * 1024, 1);
 * const relay = new RelayBuffer(pool);
 * relay.after(SMALL_RELAY_BUFFER_SIZE); // the small buffer came back full
 * console.log(relay.buffer.length, pool.free); // 262144 0
 * relay.after(100); // the flow slowed
 * console.log(relay.buffer.length, pool.free); // 17408 1
 * ```
 *
 * @module
 */

/** Bytes each direction of a relay owns: one TLS record and its overhead. */
export const SMALL_RELAY_BUFFER_SIZE = 17 * 1024;

/** Size of the large buffers a relay borrows while bytes keep coming. */
export const LARGE_RELAY_BUFFER_SIZE = 256 * 1024;

/** Large buffers a secure port lends at most at once: 16 × 256 KiB = 4 MiB. */
export const LARGE_RELAY_BUFFERS = 16;

/** The large buffers one secure port lends to its relays. */
export class RelayBufferPool {
  readonly #size: number;
  readonly #free: Uint8Array[] = [];
  #unmade: number;

  /**
   * @param size Size of each large buffer.
   * @param most How many large buffers exist at most (made when first lent).
   */
  constructor(size: number = LARGE_RELAY_BUFFER_SIZE, most: number = LARGE_RELAY_BUFFERS) {
    this.#size = size;
    this.#unmade = most;
  }

  /** Large buffers not lent now (made or not yet made). */
  get free(): number {
    return this.#free.length + this.#unmade;
  }

  /** A large buffer, or `undefined` when all are lent. */
  lend(): Uint8Array | undefined {
    const buffer = this.#free.pop();
    if (buffer !== undefined) return buffer;
    if (this.#unmade === 0) return undefined;
    this.#unmade--;
    return new Uint8Array(this.#size);
  }

  /** Takes back a buffer from {@linkcode RelayBufferPool.lend}. */
  giveBack(buffer: Uint8Array): void {
    this.#free.push(buffer);
  }
}

/**
 * One direction's read buffer: its own small one, or a large one borrowed
 * from the pool (see the module table). Read into
 * {@linkcode RelayBuffer.buffer}, pass the bytes on, then report the count
 * to {@linkcode RelayBuffer.after}; {@linkcode RelayBuffer.release} at the end.
 */
export class RelayBuffer {
  readonly #pool: RelayBufferPool;
  readonly #small = new Uint8Array(SMALL_RELAY_BUFFER_SIZE);
  #large: Uint8Array | undefined;

  /** A relay direction's buffer, borrowing from `pool`. */
  constructor(pool: RelayBufferPool) {
    this.#pool = pool;
  }

  /** Where the next read goes. */
  get buffer(): Uint8Array {
    return this.#large ?? this.#small;
  }

  /** The last read brought `n` bytes (and they were passed on): picks the next buffer. */
  after(n: number): void {
    if (
      n > SMALL_RELAY_BUFFER_SIZE || (n === SMALL_RELAY_BUFFER_SIZE && this.#large === undefined)
    ) {
      this.#large ??= this.#pool.lend();
      return;
    }
    this.release();
  }

  /** Gives a borrowed large buffer back; idempotent. */
  release(): void {
    if (this.#large === undefined) return;
    this.#pool.giveBack(this.#large);
    this.#large = undefined;
  }
}
