/**
 * Response frames (server to client): each response's code, payload layout
 * and size, in one place (`docs/protocol.md` §4).
 *
 * | code | response          | payload                                            | size |
 * |------|-------------------|----------------------------------------------------|------|
 * | 1600 | registered        | client id[16]                                      | 16   |
 * | 1601 | register failed   | reference: ASCII text; spec: empty                 | any  |
 * | 1602 | key accepted      | client id[16] + wrapped AES key[128]               | 144  |
 * | 1603 | file received     | client id[16] + content size u32 + file name[255] + cksum u32 | 279 |
 * | 1604 | ack               | client id[16]                                      | 16   |
 * | 1605 | reconnect ok      | client id[16] + wrapped AES key[128]               | 144  |
 * | 1606 | reconnect denied  | reference: ASCII text; spec: client id[16]         | any  |
 * | 1607 | general error     | ASCII text (may be empty)                          | any  |
 *
 * @module
 */

import {
  CLIENT_ID_SIZE,
  FILE_NAME_FIELD_SIZE,
  RESPONSE_HEADER_SIZE,
  ResponseCode,
  WRAPPED_KEY_SIZE,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import type { ClientId } from "./fields.ts";
import { encodeResponseHeader } from "./header.ts";

/** Largest text payload (1601, 1606, 1607) a client accepts. */
export const MAX_TEXT_PAYLOAD_SIZE = 1024;

/** Size of the 1603 payload. */
export const FILE_RECEIVED_PAYLOAD_SIZE: number = CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE + 4;

/** A decoded response. */
export type Response =
  | { code: typeof ResponseCode.Registered; clientId: ClientId }
  | { code: typeof ResponseCode.RegisterFailed; text: string }
  | {
    code: typeof ResponseCode.KeyAccepted | typeof ResponseCode.ReconnectApproved;
    clientId: ClientId;
    wrappedKey: Uint8Array;
  }
  | {
    code: typeof ResponseCode.FileReceived;
    clientId: ClientId;
    contentSize: number;
    /** The raw 255-byte file name field, as the server sent it. */
    fileNameField: Uint8Array;
    cksum: number;
  }
  | { code: typeof ResponseCode.Ack; clientId: ClientId }
  | {
    code: typeof ResponseCode.ReconnectDenied;
    /** Present in the spec's shape (a 16-byte payload). */
    clientId?: ClientId;
    /** The reference's explanation, or `""` in the spec's shape. */
    text: string;
  }
  | { code: typeof ResponseCode.GeneralError; text: string };

/**
 * The largest payload a client may read for a response code, or `undefined`
 * for a code the protocol does not know. Checked before anything is read.
 */
export function maxResponsePayloadSize(code: number): number | undefined {
  switch (code) {
    case ResponseCode.Registered:
    case ResponseCode.Ack:
      return CLIENT_ID_SIZE;
    case ResponseCode.KeyAccepted:
    case ResponseCode.ReconnectApproved:
      return CLIENT_ID_SIZE + WRAPPED_KEY_SIZE;
    case ResponseCode.FileReceived:
      return FILE_RECEIVED_PAYLOAD_SIZE;
    case ResponseCode.RegisterFailed:
    case ResponseCode.ReconnectDenied:
    case ResponseCode.GeneralError:
      return MAX_TEXT_PAYLOAD_SIZE;
    default:
      return undefined;
  }
}

function encodeText(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = c >= 0x20 && c <= 0x7e ? c : 0x3f; // "?"
  }
  return bytes;
}

function decodeText(payload: Uint8Array): string {
  let text = "";
  for (const c of payload) {
    if (c === 0) break;
    text += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : "?";
  }
  return text;
}

function checkClientId(id: ClientId): void {
  if (id.length !== CLIENT_ID_SIZE) {
    throw new RangeError(`Cannot encode response: client id has ${id.length} bytes`);
  }
}

/**
 * Encodes a whole response frame: header and payload. Text payloads are sent
 * as ASCII, the reference's shape; other characters become `?`.
 *
 * @throws {RangeError} if an id, key or field has the wrong size.
 */
export function encodeResponse(response: Response): Uint8Array {
  let payload: Uint8Array;
  switch (response.code) {
    case ResponseCode.Registered:
    case ResponseCode.Ack:
      checkClientId(response.clientId);
      payload = response.clientId;
      break;
    case ResponseCode.KeyAccepted:
    case ResponseCode.ReconnectApproved:
      checkClientId(response.clientId);
      if (response.wrappedKey.length !== WRAPPED_KEY_SIZE) {
        throw new RangeError(
          `Cannot encode response: wrapped key has ${response.wrappedKey.length} bytes`,
        );
      }
      payload = new Uint8Array(CLIENT_ID_SIZE + WRAPPED_KEY_SIZE);
      payload.set(response.clientId, 0);
      payload.set(response.wrappedKey, CLIENT_ID_SIZE);
      break;
    case ResponseCode.FileReceived: {
      checkClientId(response.clientId);
      if (response.fileNameField.length !== FILE_NAME_FIELD_SIZE) {
        throw new RangeError(
          `Cannot encode response: file name field has ${response.fileNameField.length} bytes`,
        );
      }
      payload = new Uint8Array(FILE_RECEIVED_PAYLOAD_SIZE);
      const view = new DataView(payload.buffer);
      payload.set(response.clientId, 0);
      view.setUint32(CLIENT_ID_SIZE, response.contentSize, true);
      payload.set(response.fileNameField, CLIENT_ID_SIZE + 4);
      view.setUint32(CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE, response.cksum, true);
      break;
    }
    case ResponseCode.ReconnectDenied:
      if (response.clientId !== undefined) {
        checkClientId(response.clientId);
        payload = response.clientId;
      } else {
        payload = encodeText(response.text);
      }
      break;
    case ResponseCode.RegisterFailed:
    case ResponseCode.GeneralError:
      payload = encodeText(response.text);
      break;
  }
  if (payload.length > MAX_TEXT_PAYLOAD_SIZE) {
    throw new RangeError(`Cannot encode response: ${payload.length} bytes of payload is too long`);
  }
  const frame = new Uint8Array(RESPONSE_HEADER_SIZE + payload.length);
  frame.set(encodeResponseHeader(response.code, payload.length), 0);
  frame.set(payload, RESPONSE_HEADER_SIZE);
  return frame;
}

function expectSize(code: number, payload: Uint8Array, size: number): void {
  if (payload.length !== size) {
    throw new ProtocolError(
      `Cannot decode response ${code}: payload has ${payload.length} bytes instead of ${size}`,
    );
  }
}

/**
 * Decodes a response payload for `code`. Accepts both the reference's text
 * payloads and the spec's shapes for 1601, 1606 and 1607.
 *
 * @throws {ProtocolError} for an unknown code or a payload of the wrong size.
 */
export function decodeResponse(code: number, payload: Uint8Array): Response {
  const max = maxResponsePayloadSize(code);
  if (max === undefined) throw new ProtocolError(`Cannot decode response: unknown code ${code}`);
  if (payload.length > max) {
    throw new ProtocolError(
      `Cannot decode response ${code}: payload has ${payload.length} bytes, more than ${max}`,
    );
  }
  switch (code) {
    case ResponseCode.Registered:
    case ResponseCode.Ack:
      expectSize(code, payload, CLIENT_ID_SIZE);
      return { code, clientId: payload.slice() };
    case ResponseCode.KeyAccepted:
    case ResponseCode.ReconnectApproved:
      expectSize(code, payload, CLIENT_ID_SIZE + WRAPPED_KEY_SIZE);
      return {
        code,
        clientId: payload.slice(0, CLIENT_ID_SIZE),
        wrappedKey: payload.slice(CLIENT_ID_SIZE),
      };
    case ResponseCode.FileReceived: {
      expectSize(code, payload, FILE_RECEIVED_PAYLOAD_SIZE);
      const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
      return {
        code,
        clientId: payload.slice(0, CLIENT_ID_SIZE),
        contentSize: view.getUint32(CLIENT_ID_SIZE, true),
        fileNameField: payload.slice(CLIENT_ID_SIZE + 4, CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE),
        cksum: view.getUint32(CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE, true),
      };
    }
    case ResponseCode.ReconnectDenied:
      return payload.length === CLIENT_ID_SIZE
        ? { code, clientId: payload.slice(), text: "" }
        : { code, text: decodeText(payload) };
    default:
      return { code: code as 1601 | 1607, text: decodeText(payload) };
  }
}
