/**
 * Proof of key possession in the secure mode. In the plain protocol a
 * reconnect (827) needs only a name and a client id; over TLS the server
 * also asks the client to show that it could unwrap the AES key it just sent
 * (1602 or 1605), which only the holder of the private key can do.
 *
 * ```text
 * request 851: header (the client's id, payload size 32) | proof[32]
 * proof = SHA-256("file-transfer key proof v1" 0x00 | certificate fingerprint[32] | AES key[32])
 * answer: 1604 (ack); a wrong proof gets 1607 and the connection is closed
 * ```
 *
 * Nothing new is invented: the challenge is the RSA-OAEP-wrapped AES key
 * (`rsa.ts`), the answer a SHA-256 over it. The fingerprint of the server's
 * certificate binds the proof to the server the client authenticated over
 * TLS (the "tls-server-end-point" channel binding of RFC 5929), and the
 * label keeps the digest apart from any other use of the key: the AES key
 * itself never leaves the client, and in plain mode the client computes no
 * such digest, so a plain-mode peer cannot collect proofs to replay.
 *
 * @example
 * ```ts
 * import { computeKeyProof, keyProofsEqual } from "./key_proof.ts";
 * const fingerprint = new Uint8Array(32);
 * const aesKey = new Uint8Array(32).fill(7);
 * const proof = await computeKeyProof(aesKey, fingerprint);
 * console.assert(keyProofsEqual(proof, await computeKeyProof(aesKey, fingerprint)));
 * ```
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { AES_KEY_SIZE } from "./constants.ts";
import type { ClientId } from "./fields.ts";
import { FINGERPRINT_SIZE } from "./fingerprint.ts";
import { encodeRequestHeader } from "./header.ts";

/** Request code of the proof (only the secure port knows it). */
export const KEY_PROOF_REQUEST_CODE = 851;
/** Size of the proof, the request's whole payload. */
export const KEY_PROOF_SIZE = 32;

const LABEL = new TextEncoder().encode("file-transfer key proof v1\0");

/**
 * Computes the proof for an AES key received over a TLS connection to the
 * server whose certificate has `fingerprint`.
 *
 * @throws {RangeError} if the key or the fingerprint has the wrong size.
 */
export async function computeKeyProof(
  aesKey: Uint8Array,
  fingerprint: Uint8Array,
): Promise<Uint8Array> {
  if (aesKey.length !== AES_KEY_SIZE || fingerprint.length !== FINGERPRINT_SIZE) {
    throw new RangeError(
      `Cannot compute key proof: a ${aesKey.length}-byte key and a ${fingerprint.length}-byte ` +
        `fingerprint (${AES_KEY_SIZE} and ${FINGERPRINT_SIZE} expected)`,
    );
  }
  const input = new Uint8Array(LABEL.length + FINGERPRINT_SIZE + AES_KEY_SIZE);
  input.set(LABEL, 0);
  input.set(fingerprint, LABEL.length);
  input.set(aesKey, LABEL.length + FINGERPRINT_SIZE);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  input.fill(0);
  return digest;
}

/** Whether two proofs are equal, in time that does not depend on where they differ. */
export function keyProofsEqual(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === KEY_PROOF_SIZE && received.length === KEY_PROOF_SIZE &&
    timingSafeEqual(expected, received);
}

/**
 * Encodes the whole 851 request.
 *
 * @throws {RangeError} if the proof is not 32 bytes or the id not 16.
 */
export function encodeKeyProofRequest(clientId: ClientId, proof: Uint8Array): Uint8Array {
  if (proof.length !== KEY_PROOF_SIZE) {
    throw new RangeError(`Cannot encode key proof: ${proof.length} bytes`);
  }
  const header = encodeRequestHeader(clientId, KEY_PROOF_REQUEST_CODE, KEY_PROOF_SIZE);
  const bytes = new Uint8Array(header.length + KEY_PROOF_SIZE);
  bytes.set(header, 0);
  bytes.set(proof, header.length);
  return bytes;
}
