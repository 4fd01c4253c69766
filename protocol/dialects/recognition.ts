/**
 * Telling the dialects apart from the first bytes of a connection
 * (`docs/protocol.md` §15.2). Pure functions: the session feeds them what it
 * read and follows their verdict.
 *
 * The first request's code (bytes 17-18) names the family:
 *
 * | bytes 17-18 | code | family | sent first by a client that      |
 * |-------------|------|--------|----------------------------------|
 * | `39 03`     | 825  | A      | has no identity                  |
 * | `3b 03`     | 827  | A      | has an identity                  |
 * | `01 04`     | 1025 | B or D | has no identity                  |
 * | `03 04`     | 1027 | B or D | has an identity                  |
 * | `4c 04`     | 1100 | C      | has no identity                  |
 * | `4d 04`     | 1101 | C      | has an identity (C has no reconnect) |
 *
 * Any other first request is the reference dialect's business: it answers it
 * exactly as it always did, so a reference client is never sent down another
 * dialect's path.
 *
 * Within family A, the first 828's payload size (bytes 19-22) parts the
 * reference from one 828 per packet:
 *
 * | payload size | dialect                                   |
 * |--------------|-------------------------------------------|
 * | 0            | reference: raw packets follow             |
 * | 1 to 266     | neither: a protocol error                 |
 * | 267 or more  | one 828 request per packet (§15.3)        |
 *
 * B and D lay out 1025, 1026 and 1027 identically; they part only at the
 * first 1028, after the server had to answer. The order that serves both:
 * answer as D first (1600, 1606); the D client reads it and goes on, the B
 * client does not know the code and sends the same request again, and that
 * repeat makes the connection B ({@linkcode bdDecision}).
 *
 * @module
 */

import { PACKET_HEADER_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import { bytesEqual } from "../fields.ts";

/** What the first request says about the connection's family. */
export type FirstRequestFamily = "A" | "B or D" | "C";

/**
 * The family of a connection from its first request's code: C for 1100 and
 * 1101, B or D for 1025 and 1027, A (the reference's table) for anything else.
 *
 * @example
 * ```ts
 * import { familyOfFirstRequest } from "./recognition.ts";
 * console.log(familyOfFirstRequest(825), familyOfFirstRequest(1027), familyOfFirstRequest(1100));
 * // "A" "B or D" "C"
 * ```
 */
export function familyOfFirstRequest(code: number): FirstRequestFamily {
  switch (code) {
    case 1025:
    case 1027:
      return "B or D";
    case 1100:
    case 1101:
      return "C";
    default:
      return "A";
  }
}

/** How a family A connection uploads, decided at its first 828. */
export type FamilyAUpload = "reference" | "per-packet";

/**
 * The family A upload framing from the first 828's payload size.
 *
 * @example
 * ```ts
 * import { familyAUploadOf } from "./recognition.ts";
 * console.log(familyAUploadOf(0), familyAUploadOf(8459)); // "reference" "per-packet"
 * ```
 *
 * @throws {ProtocolError} for a payload size of 1 to 266: no dialect sends it.
 */
export function familyAUploadOf(payloadSize: number): FamilyAUpload {
  if (payloadSize === 0) return "reference";
  if (payloadSize >= PACKET_HEADER_SIZE) return "per-packet";
  throw new ProtocolError(
    `Cannot accept file: payload size ${payloadSize} is neither 0 (reference) nor a packet (${PACKET_HEADER_SIZE} or more)`,
  );
}

/** A request of a B-or-D connection, as the decision needs it. */
export interface BdRequest {
  /** Its code. */
  code: number;
  /** Its payload, as read. */
  payload: Uint8Array;
}

/**
 * Decides B or D from the request that follows a D-shaped answer: the same
 * request again (same code, same payload) is a B client that did not know
 * the answer's code; anything else is a D client that read it and went on.
 * `previous` is the request answered as D, `undefined` before any.
 *
 * @example
 * ```ts
 * import { bdDecision } from "./recognition.ts";
 * const register = { code: 1025, payload: new Uint8Array(255).fill(65) };
 * console.log(bdDecision(undefined, register)); // undefined: answer as D
 * console.log(bdDecision(register, register)); // "B"
 * console.log(bdDecision(register, { code: 1026, payload: new Uint8Array(415) })); // "D"
 * ```
 */
export function bdDecision(
  previous: BdRequest | undefined,
  current: BdRequest,
): "B" | "D" | undefined {
  if (previous === undefined) return undefined;
  return previous.code === current.code && bytesEqual(previous.payload, current.payload)
    ? "B"
    : "D";
}
