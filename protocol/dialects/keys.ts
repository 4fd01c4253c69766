/**
 * AES keys of either size the dialects need: 32 bytes (AES-256) for family A
 * and D, 16 bytes (AES-128) for B and C, wrapped with RSA-OAEP (SHA-1) into
 * the same 128 bytes (`docs/protocol.md` §15.1). Unwrapping is the
 * reference's `unwrapAesKey` (`rsa.ts`) with the family's key size.
 *
 * @module
 */

import { unwrapAesKey } from "../rsa.ts";

const OAEP = { name: "RSA-OAEP" } as const;

/** An AES key size a dialect uses, in bytes. */
export type AesKeySize = 16 | 32;

function checkSize(raw: Uint8Array, action: string): void {
  if (raw.length !== 16 && raw.length !== 32) {
    throw new RangeError(`Cannot ${action}: ${raw.length} bytes instead of 16 or 32`);
  }
}

/** Creates a fresh random AES key of `size` bytes. */
export function generateDialectAesKey(size: AesKeySize): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(size));
}

/**
 * Imports a raw 16- or 32-byte key for AES-CBC (AES-128 or AES-256).
 *
 * @example
 * ```ts
 * import { generateDialectAesKey, importDialectAesKey } from "./keys.ts";
 * const key = await importDialectAesKey(generateDialectAesKey(16));
 * console.log((key.algorithm as AesKeyAlgorithm).length); // 128
 * ```
 *
 * @throws {RangeError} if the key is neither 16 nor 32 bytes.
 */
export function importDialectAesKey(raw: Uint8Array): Promise<CryptoKey> {
  checkSize(raw, "import AES key");
  return crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-CBC", false, [
    "encrypt",
    "decrypt",
  ]);
}

/**
 * Wraps a 16- or 32-byte AES key with RSA-OAEP (SHA-1): 128 bytes.
 *
 * @param publicKey An RSA-OAEP public key from `importPublicKey`.
 * @throws {RangeError} if the key is neither 16 nor 32 bytes.
 */
export async function wrapDialectAesKey(
  publicKey: CryptoKey,
  aesKey: Uint8Array,
): Promise<Uint8Array> {
  checkSize(aesKey, "wrap AES key");
  return new Uint8Array(
    await crypto.subtle.encrypt(OAEP, publicKey, aesKey as Uint8Array<ArrayBuffer>),
  );
}

/**
 * Unwraps a 128-byte RSA-OAEP ciphertext into an AES key of `size` bytes, as
 * a client of a family that needs that size does.
 *
 * @throws {RangeError} if it is not 128 bytes, does not decrypt, or holds
 * another size.
 */
export function unwrapDialectAesKey(
  privateKey: CryptoKey,
  wrapped: Uint8Array,
  size: AesKeySize,
): Promise<Uint8Array> {
  return unwrapAesKey(privateKey, wrapped, size);
}
