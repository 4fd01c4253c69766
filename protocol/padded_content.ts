/**
 * The 828 content inside the secure mode's TLS connection: the file's bytes
 * with the PKCS#7 padding the AES-CBC layer would add, but not encrypted a
 * second time. TLS already encrypts and authenticates every byte, so the
 * conversation, the framing, the sizes and the checks stay those of the
 * plain port (one code path), without paying for AES-CBC twice.
 *
 * ```text
 * plain port: content = AES-256-CBC(file, zero IV, PKCS#7) | cksum u32
 * secure port: content = file | PKCS#7 padding (1 to 16 bytes)  | cksum u32
 * ```
 *
 * The two classes have the shapes of `AesCbcEncryptor` and
 * `AesCbcDecryptor`, so either side picks one and streams the same way.
 *
 * @example
 * ```ts
 * import { PaddingDecryptor, PaddingEncryptor } from "./padded_content.ts";
 * const encryptor = new PaddingEncryptor();
 * const body = await encryptor.update(new Uint8Array(20).fill(1));
 * const tail = await encryptor.finish();
 * console.assert(body.length + tail.length === 32);
 * const decryptor = new PaddingDecryptor();
 * const held = await decryptor.update(new Uint8Array([...body, ...tail]));
 * const last = await decryptor.finish({ raw: true });
 * console.assert(held.length === 16 && last[15] === 12);
 * ```
 *
 * @module
 */

import { AES_BLOCK_SIZE } from "./constants.ts";

/** What a content encryptor does: `AesCbcEncryptor`, or {@linkcode PaddingEncryptor}. */
export interface ContentEncryptor {
  /** The content for `chunk`, as far as it can be produced yet. */
  update(chunk: Uint8Array): Promise<Uint8Array>;
  /** The rest of the content, with the padding: at least one byte. */
  finish(): Promise<Uint8Array>;
}

/** What a content decryptor does: `AesCbcDecryptor`, or {@linkcode PaddingDecryptor}. */
export interface ContentDecryptor {
  /** The plaintext of `chunk`, except the stream's last block, held back. */
  update(chunk: Uint8Array): Promise<Uint8Array>;
  /** The last block, unpadded, or with `raw` as it is. */
  finish(options?: { raw?: boolean }): Promise<Uint8Array>;
}

/** Passes the file's bytes through and adds the PKCS#7 padding at the end. */
export class PaddingEncryptor implements ContentEncryptor {
  #length = 0;
  #finished = false;
  readonly #copy: boolean;

  /**
   * Starts a stream.
   *
   * @param options.copy Whether {@linkcode PaddingEncryptor.update} returns a
   * copy of its chunk (the default, a fresh buffer as WebCrypto's output is,
   * which the caller may free) or the chunk itself (for a caller that keeps
   * the chunk's buffer and reuses it: no megabyte copied per batch).
   */
  constructor(options: { copy?: boolean } = {}) {
    this.#copy = options.copy ?? true;
  }

  /** `chunk`, copied unless `copy` is false (see the constructor). */
  update(chunk: Uint8Array): Promise<Uint8Array> {
    if (this.#finished) return Promise.reject(new TypeError("Cannot pad: the stream is finished"));
    this.#length += chunk.length;
    return Promise.resolve(this.#copy ? chunk.slice() : chunk);
  }

  /** The padding: 1 to 16 bytes, each the padding's length. */
  finish(): Promise<Uint8Array> {
    if (this.#finished) return Promise.reject(new TypeError("Cannot pad: the stream is finished"));
    this.#finished = true;
    const pad = AES_BLOCK_SIZE - (this.#length % AES_BLOCK_SIZE);
    return Promise.resolve(new Uint8Array(pad).fill(pad));
  }
}

/** Passes the content through, holding back its last block for the padding check. */
export class PaddingDecryptor implements ContentDecryptor {
  #held = new Uint8Array(0);
  #finished = false;

  /** All but the last 16 bytes seen so far, in a fresh buffer (as WebCrypto's output is). */
  update(chunk: Uint8Array): Promise<Uint8Array> {
    if (this.#finished) {
      return Promise.reject(new TypeError("Cannot unpad: the stream is finished"));
    }
    const all = concat(this.#held, chunk);
    const keep = Math.min(AES_BLOCK_SIZE, all.length);
    this.#held = all.slice(all.length - keep);
    return Promise.resolve(all.subarray(0, all.length - keep));
  }

  /**
   * The last block.
   *
   * @throws {RangeError} if the content is not a whole, non-empty number of
   * blocks, or (unless `raw`) its padding is not valid PKCS#7.
   */
  finish(options: { raw?: boolean } = {}): Promise<Uint8Array> {
    if (this.#finished) {
      return Promise.reject(new TypeError("Cannot unpad: the stream is finished"));
    }
    this.#finished = true;
    const block = this.#held;
    if (block.length !== AES_BLOCK_SIZE) {
      return Promise.reject(
        new RangeError(
          `Cannot unpad: the content does not end in a whole ${AES_BLOCK_SIZE}-byte block`,
        ),
      );
    }
    if (options.raw) return Promise.resolve(block);
    const pad = block[AES_BLOCK_SIZE - 1]!;
    if (
      pad < 1 || pad > AES_BLOCK_SIZE || block.subarray(AES_BLOCK_SIZE - pad).some((b) => b !== pad)
    ) {
      return Promise.reject(new RangeError("Cannot unpad: the padding is not valid PKCS#7"));
    }
    return Promise.resolve(block.subarray(0, AES_BLOCK_SIZE - pad));
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.length + b.length);
  all.set(a, 0);
  all.set(b, a.length);
  return all;
}
