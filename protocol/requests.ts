/**
 * Request frames (client to server): each request's code, payload layout and
 * exact payload size, in one place (`docs/protocol.md` §3).
 *
 * | code | request     | payload                              | size |
 * |------|-------------|--------------------------------------|------|
 * | 825  | register    | name[255]                            | 255  |
 * | 826  | public key  | name[255] + public key[160]          | 415  |
 * | 827  | reconnect   | name[255]                            | 255  |
 * | 828  | send file   | none; raw packets follow (packet.ts) | 0    |
 * | 900  | CRC ok      | file name[255]                       | 255  |
 * | 901  | CRC retry   | file name[255]                       | 255  |
 * | 902  | CRC abort   | file name[255]                       | 255  |
 *
 * @module
 */

import {
  FILE_NAME_FIELD_SIZE,
  NAME_FIELD_SIZE,
  PUBLIC_KEY_SIZE,
  REQUEST_HEADER_SIZE,
  RequestCode,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { type ClientId, decodeAsciiField, encodeStringField } from "./fields.ts";
import { encodeRequestHeader } from "./header.ts";
import { nameProblem } from "./names.ts";

/** A request as the server sees it once its payload is decoded. */
export type Request =
  | { code: typeof RequestCode.Register; name: string }
  | { code: typeof RequestCode.PublicKey; name: string; publicKey: Uint8Array }
  | { code: typeof RequestCode.Reconnect; name: string }
  | { code: typeof RequestCode.SendFile }
  | {
    code: typeof RequestCode.CrcOk | typeof RequestCode.CrcRetry | typeof RequestCode.CrcAbort;
    /** The path as the client wrote it; informational only, never trusted. */
    fileName: string;
  };

/**
 * The exact payload size of a request code, or `undefined` for a code the
 * protocol does not know. A server checks a header against this before it
 * reads (or allocates) anything.
 */
export function requestPayloadSize(code: number): number | undefined {
  switch (code) {
    case RequestCode.Register:
    case RequestCode.Reconnect:
      return NAME_FIELD_SIZE;
    case RequestCode.PublicKey:
      return NAME_FIELD_SIZE + PUBLIC_KEY_SIZE;
    case RequestCode.SendFile:
      return 0;
    case RequestCode.CrcOk:
    case RequestCode.CrcRetry:
    case RequestCode.CrcAbort:
      return FILE_NAME_FIELD_SIZE;
    default:
      return undefined;
  }
}

/**
 * Encodes the 255-byte path field of 900/901/902: the UTF-8 bytes of `path`,
 * cut to 255 bytes, NUL-padded. The reference client sends the path as written
 * in `transfer.info`; the field is informational.
 */
export function encodePathField(path: string): Uint8Array {
  const field = new Uint8Array(FILE_NAME_FIELD_SIZE);
  new TextEncoder().encodeInto(path, field);
  return field;
}

/**
 * Encodes a whole request frame: header and payload.
 *
 * @throws {TypeError | RangeError} if a name or key is not valid.
 */
export function encodeRequest(clientId: ClientId, request: Request): Uint8Array {
  let payload: Uint8Array;
  switch (request.code) {
    case RequestCode.Register:
    case RequestCode.Reconnect:
      payload = encodeName(request.name);
      break;
    case RequestCode.PublicKey:
      if (request.publicKey.length !== PUBLIC_KEY_SIZE) {
        throw new RangeError(
          `Cannot encode public key request: the key has ${request.publicKey.length} bytes instead of ${PUBLIC_KEY_SIZE}`,
        );
      }
      payload = new Uint8Array(NAME_FIELD_SIZE + PUBLIC_KEY_SIZE);
      payload.set(encodeName(request.name), 0);
      payload.set(request.publicKey, NAME_FIELD_SIZE);
      break;
    case RequestCode.SendFile:
      payload = new Uint8Array(0);
      break;
    case RequestCode.CrcOk:
    case RequestCode.CrcRetry:
    case RequestCode.CrcAbort:
      payload = encodePathField(request.fileName);
      break;
  }
  const frame = new Uint8Array(REQUEST_HEADER_SIZE + payload.length);
  frame.set(encodeRequestHeader(clientId, request.code, payload.length), 0);
  frame.set(payload, REQUEST_HEADER_SIZE);
  return frame;
}

function encodeName(name: string): Uint8Array {
  const problem = nameProblem(name);
  if (problem !== undefined) throw new TypeError(`Cannot encode name: ${problem}`);
  return encodeStringField(name, NAME_FIELD_SIZE);
}

function decodeName(field: Uint8Array): string {
  const name = decodeAsciiField(field, "name");
  const problem = nameProblem(name);
  if (problem !== undefined) throw new ProtocolError(`Cannot decode name: ${problem}`);
  return name;
}

/**
 * Decodes a request payload for `code`.
 *
 * @throws {ProtocolError} for an unknown code, a payload of the wrong size, or
 * a name that is empty, longer than 100 bytes or not printable ASCII.
 */
export function decodeRequest(code: number, payload: Uint8Array): Request {
  const expected = requestPayloadSize(code);
  if (expected === undefined) {
    throw new ProtocolError(`Cannot decode request: unknown request code ${code}`);
  }
  if (payload.length !== expected) {
    throw new ProtocolError(
      `Cannot decode request ${code}: payload has ${payload.length} bytes instead of ${expected}`,
    );
  }
  switch (code) {
    case RequestCode.Register:
    case RequestCode.Reconnect:
      return { code, name: decodeName(payload) };
    case RequestCode.PublicKey:
      return {
        code,
        name: decodeName(payload.subarray(0, NAME_FIELD_SIZE)),
        publicKey: payload.slice(NAME_FIELD_SIZE),
      };
    case RequestCode.SendFile:
      return { code };
    default: {
      const nul = payload.indexOf(0);
      const fileName = new TextDecoder().decode(payload.subarray(0, nul === -1 ? undefined : nul));
      return { code: code as 900 | 901 | 902, fileName };
    }
  }
}
