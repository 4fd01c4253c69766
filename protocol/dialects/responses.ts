/**
 * The answers of every family, in the one shape every client of that family
 * accepts (`docs/protocol.md` §15.7): several clients read fixed sizes
 * whatever the header says, or only the header of a code they do not
 * expect, so error answers are empty and acknowledgements exact.
 *
 * | meaning            | A per packet, D | B          | C            |
 * |--------------------|-----------------|------------|--------------|
 * | registered         | 1600 id[16]     | 2100 id[16] | 2100 id[16] |
 * | registration refused | 1601 empty    | 2101 empty | 2101 empty   |
 * | key                | 1602 id + wrapped AES-256 key (144) | 2102 id + wrapped AES-128 key | 2102, as B |
 * | file received      | 1603 id \| c u32 \| name[255] \| cksum u32 (279) | 2103, same | 2103, same |
 * | acknowledged       | 1604 id[16]     | 2104 id[16] | 2104 **empty** |
 * | reconnect approved | 1605 id + key (144) | 2105 id + key | none    |
 * | reconnect refused  | 1606 id[16]     | 2106 id[16] | none        |
 * | general error      | 1607 empty      | 2107 empty | 2107 empty   |
 *
 * The reference dialect keeps its own encoder (`responses.ts`): its answers
 * do not change.
 *
 * @module
 */

import { CLIENT_ID_SIZE, FILE_NAME_FIELD_SIZE, WRAPPED_KEY_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import { encodeResponseHeader } from "../header.ts";
import { type Family, FAMILY_TABLES, responseMeaning } from "./families.ts";

/** Size of a file-received payload. */
export const FILE_RECEIVED_SIZE = CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE + 4;

/** An answer, by meaning. */
export type DialectResponse =
  | { meaning: "registered" | "ack" | "reconnectDenied"; clientId: Uint8Array }
  | { meaning: "registerFailed" | "generalError" }
  | { meaning: "keyAccepted" | "reconnectApproved"; clientId: Uint8Array; wrappedKey: Uint8Array }
  | {
    meaning: "fileReceived";
    clientId: Uint8Array;
    /** Ciphertext size c (never with a trailer: these dialects have none). */
    contentSize: number;
    /** The upload's file name field, echoed byte for byte. */
    fileNameField: Uint8Array;
    cksum: number;
  };

function checkId(id: Uint8Array): void {
  if (id.length !== CLIENT_ID_SIZE) {
    throw new RangeError(`Cannot encode response: client id has ${id.length} bytes`);
  }
}

function payloadOf(family: Family, response: DialectResponse): Uint8Array {
  switch (response.meaning) {
    case "registered":
    case "reconnectDenied":
      checkId(response.clientId);
      return response.clientId;
    case "ack":
      if (family === "C") return new Uint8Array(0);
      checkId(response.clientId);
      return response.clientId;
    case "registerFailed":
    case "generalError":
      return new Uint8Array(0);
    case "keyAccepted":
    case "reconnectApproved": {
      checkId(response.clientId);
      if (response.wrappedKey.length !== WRAPPED_KEY_SIZE) {
        throw new RangeError(
          `Cannot encode response: wrapped key has ${response.wrappedKey.length} bytes`,
        );
      }
      const payload = new Uint8Array(CLIENT_ID_SIZE + WRAPPED_KEY_SIZE);
      payload.set(response.clientId, 0);
      payload.set(response.wrappedKey, CLIENT_ID_SIZE);
      return payload;
    }
    case "fileReceived": {
      checkId(response.clientId);
      if (response.fileNameField.length !== FILE_NAME_FIELD_SIZE) {
        throw new RangeError("Cannot encode response: the file name field is not 255 bytes");
      }
      const payload = new Uint8Array(FILE_RECEIVED_SIZE);
      const view = new DataView(payload.buffer);
      payload.set(response.clientId, 0);
      view.setUint32(CLIENT_ID_SIZE, response.contentSize, true);
      payload.set(response.fileNameField, CLIENT_ID_SIZE + 4);
      view.setUint32(CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE, response.cksum, true);
      return payload;
    }
  }
}

/**
 * Encodes an answer of `family` whole: header and payload.
 *
 * @example
 * ```ts
 * import { encodeDialectResponse } from "./responses.ts";
 * const ack = encodeDialectResponse("C", { meaning: "ack", clientId: new Uint8Array(16).fill(1) });
 * console.log(ack); // Uint8Array(7) [ 3, 56, 8, 0, 0, 0, 0 ]: 2104, empty
 * ```
 *
 * @throws {RangeError} if the family has no such answer or a field has the wrong size.
 */
export function encodeDialectResponse(family: Family, response: DialectResponse): Uint8Array {
  const code = FAMILY_TABLES[family].responses[response.meaning];
  if (code === undefined) {
    throw new RangeError(`Cannot encode response: family ${family} has no ${response.meaning}`);
  }
  const payload = payloadOf(family, response);
  const frame = new Uint8Array(7 + payload.length);
  frame.set(encodeResponseHeader(code, payload.length), 0);
  frame.set(payload, 7);
  return frame;
}

/** The exact payload size of an answer with `code` in `family`, `undefined` for an unknown code. */
export function dialectResponseSize(family: Family, code: number): number | undefined {
  switch (responseMeaning(family, code)) {
    case "registered":
    case "reconnectDenied":
      return CLIENT_ID_SIZE;
    case "ack":
      return family === "C" ? 0 : CLIENT_ID_SIZE;
    case "registerFailed":
    case "generalError":
      return 0;
    case "keyAccepted":
    case "reconnectApproved":
      return CLIENT_ID_SIZE + WRAPPED_KEY_SIZE;
    case "fileReceived":
      return FILE_RECEIVED_SIZE;
    default:
      return undefined;
  }
}

/**
 * Decodes an answer's payload, holding it to the exact shape of the table
 * above (what the strictest client of the family checks).
 *
 * @throws {ProtocolError} for a code the family does not have, or a payload
 * of another size.
 */
export function decodeDialectResponse(
  family: Family,
  code: number,
  payload: Uint8Array,
): DialectResponse {
  const meaning = responseMeaning(family, code);
  const size = dialectResponseSize(family, code);
  if (meaning === undefined || size === undefined) {
    throw new ProtocolError(`Cannot decode response: family ${family} has no code ${code}`);
  }
  if (payload.length !== size) {
    throw new ProtocolError(
      `Cannot decode response ${code}: payload has ${payload.length} bytes instead of ${size}`,
    );
  }
  const id = payload.slice(0, CLIENT_ID_SIZE);
  switch (meaning) {
    case "registered":
    case "reconnectDenied":
      return { meaning, clientId: id };
    case "ack":
      return { meaning, clientId: family === "C" ? new Uint8Array(0) : id };
    case "registerFailed":
    case "generalError":
      return { meaning };
    case "keyAccepted":
    case "reconnectApproved":
      return { meaning, clientId: id, wrappedKey: payload.slice(CLIENT_ID_SIZE) };
    case "fileReceived": {
      const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
      return {
        meaning,
        clientId: id,
        contentSize: view.getUint32(CLIENT_ID_SIZE, true),
        fileNameField: payload.slice(CLIENT_ID_SIZE + 4, CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE),
        cksum: view.getUint32(CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE, true),
      };
    }
  }
}
