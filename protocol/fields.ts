/**
 * Fixed-size fields shared by several messages: NUL-padded ASCII strings and
 * 16-byte client ids.
 *
 * @module
 */

import { CLIENT_ID_SIZE } from "./constants.ts";
import { ProtocolError } from "./errors.ts";

/** A 16-byte client id. */
export type ClientId = Uint8Array;

/**
 * Writes `text` into a NUL-padded field of `size` bytes.
 *
 * The text must be printable ASCII (0x20 to 0x7e); a text of exactly `size`
 * bytes fills the field with no NUL, as the protocol allows.
 *
 * @throws {TypeError} if the text has a byte outside printable ASCII.
 * @throws {RangeError} if the text does not fit.
 */
export function encodeStringField(text: string, size: number): Uint8Array {
  if (text.length > size) {
    throw new RangeError(
      `Cannot encode string field: ${text.length} characters do not fit ${size} bytes`,
    );
  }
  const field = new Uint8Array(size);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new TypeError(
        `Cannot encode string field: character ${i} (code ${c}) is not printable ASCII`,
      );
    }
    field[i] = c;
  }
  return field;
}

/**
 * Reads a NUL-padded field as printable ASCII text: the bytes up to the first
 * NUL, or the whole field when it has none.
 *
 * @param what Names the field in the error message, for example `"name"`.
 * @throws {ProtocolError} if a byte before the first NUL is not printable ASCII.
 */
export function decodeAsciiField(field: Uint8Array, what: string): string {
  const nul = field.indexOf(0);
  const end = nul === -1 ? field.length : nul;
  let text = "";
  for (let i = 0; i < end; i++) {
    const c = field[i]!;
    if (c < 0x20 || c > 0x7e) {
      throw new ProtocolError(
        `Cannot decode ${what}: byte ${i} (0x${
          c.toString(16).padStart(2, "0")
        }) is not printable ASCII`,
      );
    }
    text += String.fromCharCode(c);
  }
  return text;
}

/** The all-zero client id sent before registration. */
export const ZERO_CLIENT_ID: ClientId = new Uint8Array(CLIENT_ID_SIZE);

/** Formats a client id as 32 lowercase hex digits. */
export function clientIdToHex(id: ClientId): string {
  if (id.length !== CLIENT_ID_SIZE) {
    throw new RangeError(
      `Cannot format client id: ${id.length} bytes instead of ${CLIENT_ID_SIZE}`,
    );
  }
  return bytesToHex(id);
}

/** Formats bytes as lowercase hex digits, two per byte. */
export function bytesToHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Parses 32 hex digits (either case) into a client id.
 *
 * @throws {TypeError} if the text is not exactly 32 hex digits.
 */
export function clientIdFromHex(hex: string): ClientId {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new TypeError(
      `Cannot parse client id: expected 32 hex digits, got ${JSON.stringify(hex)}`,
    );
  }
  const id = new Uint8Array(CLIENT_ID_SIZE);
  for (let i = 0; i < CLIENT_ID_SIZE; i++) id[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return id;
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
