/**
 * A few batch-sized buffers kept for reuse, so that an upload's batches do
 * not each allocate fresh megabytes.
 *
 * A fresh large buffer costs more than its allocation: its memory comes
 * from the system zeroed, page by page, at the first write (a page fault per
 * 4 KiB), and goes back when it is freed. On the development machine (a
 * virtual machine, where page faults are dear) that was a fifth of the
 * server's CPU time during a transfer. Reused buffers are already mapped.
 *
 * | asked for                               | given                                          |
 * |-----------------------------------------|------------------------------------------------|
 * | more than half of `capacity` bytes      | a kept buffer of `capacity` bytes (or a new one), cut to the size |
 * | less                                    | a fresh buffer of that size (small batches: many uploads at once) |
 *
 * A buffer given back ({@linkcode BatchBuffers.recycle}) is kept while
 * fewer than `most` are kept, else freed at once (`releaseBuffer`): the
 * buffers kept idle never take more than `most × capacity` bytes, on top of
 * what the buffer budget grants.
 *
 * @example
 * ```ts
 * import { BatchBuffers } from "./batch_buffers.ts";
 *
 * const buffers = new BatchBuffers(1024 * 1024, 2);
 * const a = buffers.take(1000 * 1000);
 * buffers.recycle(a);
 * const b = buffers.take(900 * 1000);
 * console.log(a.buffer.detached, b.length, buffers.kept); // false 900000 0
 * ```
 *
 * @module
 */

import { releaseBuffer } from "../../common/release_buffer.ts";

/** A bounded free list of buffers of one large size. */
export class BatchBuffers {
  readonly #capacity: number;
  readonly #most: number;
  readonly #free: ArrayBuffer[] = [];

  /**
   * @param capacity Size of the buffers kept: the largest batch.
   * @param most How many idle buffers are kept at most.
   * @throws {RangeError} if either is not a positive integer (`most` may be 0).
   */
  constructor(capacity: number, most: number) {
    if (
      !Number.isSafeInteger(capacity) || capacity < 1 || !Number.isSafeInteger(most) || most < 0
    ) {
      throw new RangeError(`Cannot keep ${most} buffers of ${capacity} bytes`);
    }
    this.#capacity = capacity;
    this.#most = most;
  }

  /** Idle buffers kept now. */
  get kept(): number {
    return this.#free.length;
  }

  /**
   * A buffer of `size` bytes, its content unspecified (a reused buffer
   * holds an earlier batch's bytes): write it before reading it.
   *
   * @throws {RangeError} if `size` is negative or above the capacity.
   */
  take(size: number): Uint8Array<ArrayBuffer> {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.#capacity) {
      throw new RangeError(`Cannot take a buffer of ${size} bytes: at most ${this.#capacity}`);
    }
    if (size * 2 <= this.#capacity) return new Uint8Array(size);
    return new Uint8Array(this.#free.pop() ?? new ArrayBuffer(this.#capacity), 0, size);
  }

  /**
   * Gives back a buffer from {@linkcode BatchBuffers.take}: kept if it is
   * one of the large ones and there is room, else freed. `bytes` (and every
   * view of its buffer) must not be used afterwards.
   */
  recycle(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (
      buffer instanceof ArrayBuffer && !buffer.detached && buffer.byteLength === this.#capacity &&
      this.#free.length < this.#most && !this.#free.includes(buffer)
    ) {
      this.#free.push(buffer);
      return;
    }
    releaseBuffer(bytes);
  }
}
