/**
 * The answers of a family of dialects, from the responses the handlers
 * build (`protocol/responses.ts`, the reference's codes): the same meaning,
 * the family's code, and the one shape every client of the family accepts
 * (`protocol/dialects/responses.ts`, `docs/protocol.md` §15.7).
 *
 * | handler's response     | family answer                                    |
 * |------------------------|--------------------------------------------------|
 * | 1600 id                | registered: 1600 / 2100, id[16]                  |
 * | 1601 text              | registration refused: 1601 / 2101, **empty**     |
 * | 1602 / 1605 id + key   | key / reconnect approved, id + wrapped key (144) |
 * | 1603                   | file received, 279 bytes                         |
 * | 1604 id                | acknowledged: id[16]; family C: **empty**        |
 * | 1606 id (or text)      | reconnect refused: id[16] (the zero id if none)  |
 * | 1607 text              | general error: 1607 / 2107, **empty**            |
 *
 * @module
 */

import { type Response, ResponseCode } from "../../../protocol/mod.ts";
import {
  type DialectResponse,
  encodeDialectResponse,
  type Family,
} from "../../../protocol/dialects/mod.ts";

/** The meaning of a handler's response, with its fields. */
function dialectResponseOf(response: Response): DialectResponse {
  switch (response.code) {
    case ResponseCode.Registered:
      return { meaning: "registered", clientId: response.clientId };
    case ResponseCode.RegisterFailed:
      return { meaning: "registerFailed" };
    case ResponseCode.KeyAccepted:
      return {
        meaning: "keyAccepted",
        clientId: response.clientId,
        wrappedKey: response.wrappedKey,
      };
    case ResponseCode.ReconnectApproved:
      return {
        meaning: "reconnectApproved",
        clientId: response.clientId,
        wrappedKey: response.wrappedKey,
      };
    case ResponseCode.FileReceived:
      return {
        meaning: "fileReceived",
        clientId: response.clientId,
        contentSize: response.contentSize,
        fileNameField: response.fileNameField,
        cksum: response.cksum,
      };
    case ResponseCode.Ack:
      return { meaning: "ack", clientId: response.clientId };
    case ResponseCode.ReconnectDenied:
      return { meaning: "reconnectDenied", clientId: response.clientId ?? new Uint8Array(16) };
    case ResponseCode.GeneralError:
      return { meaning: "generalError" };
  }
}

/**
 * Encodes a handler's response as `family` answers it.
 *
 * @example
 * ```ts
 * import { encodeFamilyResponse } from "./family_answers.ts";
 * const frame = encodeFamilyResponse("B", { code: 1607, text: "no" });
 * console.log(frame); // Uint8Array(7) [ 3, 59, 8, 0, 0, 0, 0 ]: 2107, empty
 * ```
 *
 * @throws {RangeError} for an answer the family does not have (a reconnect answer in family C).
 */
export function encodeFamilyResponse(family: Family, response: Response): Uint8Array {
  return encodeDialectResponse(family, dialectResponseOf(response));
}
