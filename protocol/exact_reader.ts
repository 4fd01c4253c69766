/**
 * Exact-length reads over any byte source (a socket, a file, a test double),
 * with a limit checked before anything is allocated. Knows nothing of sockets:
 * the source is anything with a Deno-style `read`.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** Anything with a Deno-style `read`: fills part of `p`, `null` at the end. */
export interface ByteSource {
  /** Reads up to `p.length` bytes into `p`; resolves to the count, or `null` at the end. */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * A {@linkcode ByteSource} over bytes already in memory (a recording, a test
 * frame): each `read` hands out as much as fits, `null` at the end.
 */
export function byteSourceOf(bytes: Uint8Array): ByteSource {
  let offset = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (offset >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, bytes.length - offset);
      p.set(bytes.subarray(offset, offset + n));
      offset += n;
      return Promise.resolve(n);
    },
  };
}

/** Default size of the internal buffer. */
export const DEFAULT_READ_BUFFER_SIZE = 64 * 1024;

/**
 * Reads exact lengths from a {@linkcode ByteSource} through an internal buffer,
 * so that many small frames cost few `read` calls, while large reads go
 * straight into the caller's array.
 */
export class ExactReader {
  #source: ByteSource;
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;

  /**
   * Wraps a source; nothing is read until asked.
   *
   * @param source Where the bytes come from.
   * @param bufferSize Size of the internal buffer.
   */
  constructor(source: ByteSource, bufferSize: number = DEFAULT_READ_BUFFER_SIZE) {
    this.#source = source;
    this.#buffer = new Uint8Array(bufferSize);
  }

  /** Bytes read from the source and not yet handed out. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Reads exactly `length` bytes into a new array.
   *
   * @param limit The largest length the caller accepts; a larger one is the
   * peer's fault and is refused before anything is allocated or read.
   * @throws {ProtocolError} if `length` is above `limit`.
   * @throws {Deno.errors.UnexpectedEof} if the source ends first.
   */
  async readExact(length: number, limit: number): Promise<Uint8Array> {
    const bytes = await this.readExactOrEnd(length, limit);
    if (bytes === null) {
      throw new Deno.errors.UnexpectedEof(
        `Cannot read ${length} bytes: the connection closed before the first`,
      );
    }
    return bytes;
  }

  /**
   * Like {@linkcode ExactReader.readExact}, but resolves to `null` when the
   * source ends cleanly before the first byte: the peer closed between frames.
   */
  async readExactOrEnd(length: number, limit: number): Promise<Uint8Array | null> {
    if (!Number.isSafeInteger(length) || length < 0 || length > limit) {
      throw new ProtocolError(`Cannot read ${length} bytes: the limit here is ${limit}`);
    }
    if (length === 0) return new Uint8Array(0);
    if (this.buffered === 0 && !(await this.#fill())) return null;
    const bytes = new Uint8Array(length);
    await this.readInto(bytes);
    return bytes;
  }

  /**
   * Fills all of `target`.
   *
   * @throws {Deno.errors.UnexpectedEof} if the source ends first.
   */
  async readInto(target: Uint8Array): Promise<void> {
    let filled = this.#take(target);
    // Large remainders bypass the buffer; small ones go through it.
    while (filled < target.length) {
      const rest = target.length - filled;
      if (rest >= this.#buffer.length) {
        const n = await this.#source.read(target.subarray(filled));
        if (n === null) throw this.#eof(target.length, filled);
        filled += n;
      } else {
        if (!(await this.#fill())) throw this.#eof(target.length, filled);
        filled += this.#take(target.subarray(filled));
      }
    }
  }

  /**
   * Reads and drops `length` bytes without allocating them.
   *
   * @throws {Deno.errors.UnexpectedEof} if the source ends first.
   */
  async skip(length: number): Promise<void> {
    let skipped = 0;
    while (skipped < length) {
      if (this.buffered === 0 && !(await this.#fill())) throw this.#eof(length, skipped);
      const n = Math.min(this.buffered, length - skipped);
      this.#start += n;
      skipped += n;
    }
  }

  #take(target: Uint8Array): number {
    const n = Math.min(this.buffered, target.length);
    target.set(this.#buffer.subarray(this.#start, this.#start + n), 0);
    this.#start += n;
    return n;
  }

  async #fill(): Promise<boolean> {
    this.#start = 0;
    this.#end = 0;
    const n = await this.#source.read(this.#buffer);
    if (n === null) return false;
    this.#end = n;
    return true;
  }

  #eof(wanted: number, got: number): Deno.errors.UnexpectedEof {
    return new Deno.errors.UnexpectedEof(
      `Cannot read ${wanted} bytes: the connection closed after ${got}`,
    );
  }
}
