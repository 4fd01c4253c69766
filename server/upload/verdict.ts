/**
 * The verdict on a received upload, and what the 1603 may say about it.
 * Pure functions: no I/O.
 *
 * An upload is kept when our cksum of the decrypted plaintext equals the
 * client's trailer and the last decrypted block ends in the PKCS#7 padding
 * that the sizes call for (the reference never unpads, but content encrypted
 * under the connection's key always carries it; content made without the key
 * almost never does, which keeps an impostor from storing an empty file,
 * whose cksum is a constant).
 *
 * The 1603 of an upload that is not kept must reveal nothing about what the
 * server decrypted: CRC is linear, so cksums of chosen ciphertexts would
 * reveal the decryption of a block (the oracle of issue 11). Its cksum is the
 * complement of the trailer, a value derived only from what the client sent,
 * which never equals the trailer: the reference client sees a mismatch and
 * sends again.
 *
 * @example
 * ```ts
 * import { answeredCksum, uploadRefusal } from "./verdict.ts";
 *
 * const lastBlock = new Uint8Array(16).fill(16); // a full pad block
 * const refusal = uploadRefusal({ cksum: 7, trailer: 7, lastBlock, padLength: 16 });
 * console.log(refusal); // undefined: kept
 * console.log(answeredCksum({ cksum: 7, trailer: 7, refusal })); // 7
 * console.log(answeredCksum({ cksum: 7, trailer: 8, refusal: "cksum mismatch" })); // 4294967287
 * ```
 *
 * @module
 */

/** What the verdict looks at. */
export interface VerdictInput {
  /** Our cksum of the plaintext (cut to the original size). */
  cksum: number;
  /** The client's cksum, the content's last 4 bytes. */
  trailer: number;
  /** The last decrypted block, raw (not unpadded). */
  lastBlock: Uint8Array;
  /** The padding length the sizes call for: ciphertext size - original size (1 to 16). */
  padLength: number;
}

/** Why an upload is not kept, or `undefined` when it is. */
export function uploadRefusal(input: VerdictInput): string | undefined {
  const { cksum, trailer, lastBlock, padLength } = input;
  if (cksum !== trailer) return "cksum mismatch";
  const padding = lastBlock.subarray(lastBlock.length - padLength);
  if (padding.length !== padLength || !padding.every((b) => b === padLength)) {
    return "the padding is not what the sizes call for";
  }
  return undefined;
}

/**
 * The cksum a 1603 carries: ours (equal to the trailer) for a kept upload,
 * otherwise the complement of the trailer.
 */
export function answeredCksum(
  upload: { cksum: number; trailer: number; refusal: string | undefined },
): number {
  return upload.refusal === undefined ? upload.cksum : (~upload.trailer) >>> 0;
}
