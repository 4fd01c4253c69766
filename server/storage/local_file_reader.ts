/**
 * A stored file read from the local store's folder, into the caller's
 * buffer; `size` is the whole file's, whatever offset the read started at.
 *
 * @module
 */

import type { StoredFileReader } from "./file_store.ts";

/** A stored file read from the local folder. */
export class LocalFileReader implements StoredFileReader {
  readonly size: number;
  #file: Deno.FsFile | undefined;

  /**
   * Reads `file`, of `size` bytes.
   *
   * @param file The stored file, open for reading (and seeked to the offset).
   * @param size Its whole size in bytes.
   */
  constructor(file: Deno.FsFile, size: number) {
    this.#file = file;
    this.size = size;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#file === undefined) throw new Error("Cannot read: the stored file is closed");
    return await this.#file.read(buffer);
  }

  close(): Promise<void> {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = undefined;
    return Promise.resolve();
  }
}
