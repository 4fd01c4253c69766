/**
 * A stored object's body from S3 (GetObject, ranged past the start), read
 * into the caller's buffer as it arrives; closing cancels the rest of the
 * download.
 *
 * @example
 * ```ts ignore
 * const reader = new S3ObjectReader(output.Body?.transformToWebStream().getReader(), size);
 * const n = await reader.read(new Uint8Array(64 * 1024));
 * await reader.close();
 * ```
 *
 * @module
 */

import type { StoredFileReader } from "./file_store.ts";

/** An object's body, read into the caller's buffer as it arrives. */
export class S3ObjectReader implements StoredFileReader {
  readonly size: number;
  #body: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #left: Uint8Array = new Uint8Array(0);

  /**
   * Reads `body`, the object of `size` bytes (its whole size, whatever range was asked).
   *
   * @param body The body's reader; `undefined` for nothing to read.
   * @param size The object's whole size in bytes.
   */
  constructor(body: ReadableStreamDefaultReader<Uint8Array> | undefined, size: number) {
    this.#body = body;
    this.size = size;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#left.length === 0) {
      if (this.#body === undefined) return null;
      const { done, value } = await this.#body.read();
      if (done) {
        this.#body = undefined;
        return null;
      }
      this.#left = value;
    }
    const n = Math.min(buffer.length, this.#left.length);
    buffer.set(this.#left.subarray(0, n));
    this.#left = this.#left.subarray(n);
    return n;
  }

  async close(): Promise<void> {
    const body = this.#body;
    this.#body = undefined;
    this.#left = new Uint8Array(0);
    // Cancelling drops the rest of the object instead of downloading it.
    await body?.cancel().catch(() => {});
  }
}
