/**
 * Client ids as the server issues them (`docs/protocol.md` §15.8): 16 random
 * bytes, none of them 0x00. Some clients compare ids as C strings, up to
 * the first zero byte, and exit when an id holding one comes back cut
 * (6.1 % of uniformly random ids). Drawing each byte from 1..255 costs
 * 0.09 bits of the 128. The known pre-registration fillers (`61`x16,
 * `aa`x16, `30`x16) are never issued either. Ids with zero bytes stay
 * valid in requests: only issuing changes.
 *
 * @module
 */

import { CLIENT_ID_SIZE } from "../constants.ts";

/** Header ids clients send before they have one: never issued. */
export const PRE_REGISTRATION_FILLERS: readonly number[] = [0x00, 0x61, 0xaa, 0x30];

/** Whether `id` is one the server may issue: 16 bytes, no 0x00, not a filler. */
export function isIssuableClientId(id: Uint8Array): boolean {
  if (id.length !== CLIENT_ID_SIZE || id.includes(0)) return false;
  return !PRE_REGISTRATION_FILLERS.some((filler) => id.every((b) => b === filler));
}

/**
 * Draws a fresh client id with no 0x00 byte (each byte uniform in 1..255).
 *
 * @example
 * ```ts
 * import { issueClientId } from "./client_ids.ts";
 * const id = issueClientId();
 * console.log(id.length, id.includes(0)); // 16 false
 * ```
 */
export function issueClientId(): Uint8Array {
  for (;;) {
    const id = new Uint8Array(CLIENT_ID_SIZE);
    // Rejection sampling per byte keeps each byte uniform in 1..255.
    for (let i = 0; i < CLIENT_ID_SIZE;) {
      const draw = crypto.getRandomValues(new Uint8Array(CLIENT_ID_SIZE));
      for (const b of draw) if (b !== 0 && i < CLIENT_ID_SIZE) id[i++] = b;
    }
    if (isIssuableClientId(id)) return id;
  }
}
