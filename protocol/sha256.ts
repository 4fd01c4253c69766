/**
 * An incremental SHA-256, for files too large to hash in one piece: the
 * server hashes an upload's plaintext as it is staged, the client a download
 * as it is written. WebCrypto's `digest` takes the whole input at once, so
 * this uses Node's streaming hash (`node:crypto`, native in Deno).
 *
 * Digests travel and are stored as 64 lowercase hexadecimal digits.
 *
 * @example
 * ```ts
 * import { Sha256 } from "./sha256.ts";
 *
 * const hash = new Sha256();
 * hash.update(new TextEncoder().encode("ab"));
 * hash.update(new TextEncoder().encode("c"));
 * console.log(hash.hex()); // ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
 * ```
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";

/** Size of a SHA-256 digest in bytes. */
export const SHA256_SIZE = 32;

/** A SHA-256 digest in hexadecimal: 64 lowercase digits. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A SHA-256 fed chunk by chunk; chunk boundaries do not change the result. */
export class Sha256 {
  #hash: Hash = createHash("sha256");
  #digest: Uint8Array | undefined;
  #length = 0;

  /**
   * Feeds `data`; returns `this` for chaining.
   *
   * @throws {TypeError} once the digest was read.
   */
  update(data: Uint8Array): this {
    if (this.#digest !== undefined) {
      throw new TypeError("Cannot update a SHA-256 whose digest was read");
    }
    this.#hash.update(data);
    this.#length += data.length;
    return this;
  }

  /** Number of bytes fed so far. */
  get length(): number {
    return this.#length;
  }

  /** The 32-byte digest; after this, {@linkcode Sha256.update} throws. */
  digest(): Uint8Array {
    this.#digest ??= new Uint8Array(this.#hash.digest());
    return this.#digest.slice();
  }

  /**
   * An independent copy of the hash in its current state: the digest of a
   * prefix while the whole goes on.
   *
   * @throws {TypeError} once the digest was read.
   */
  copy(): Sha256 {
    if (this.#digest !== undefined) {
      throw new TypeError("Cannot copy a SHA-256 whose digest was read");
    }
    const copy = new Sha256();
    copy.#hash = this.#hash.copy();
    copy.#length = this.#length;
    return copy;
  }

  /** The digest as 64 lowercase hexadecimal digits. */
  hex(): string {
    return Array.from(this.digest(), (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

/** The SHA-256 of `data`, as 64 lowercase hexadecimal digits. */
export function sha256Hex(data: Uint8Array): string {
  return new Sha256().update(data).hex();
}
