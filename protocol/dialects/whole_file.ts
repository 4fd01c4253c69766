/**
 * The whole file in one request: family B's 1028 and family C's 1103
 * (`docs/protocol.md` §15.4, §15.5). A fixed head, then the ciphertext
 * (AES-128-CBC, zero IV, PKCS#7; no original size: it is what the padding
 * leaves).
 *
 * Family B, 1028:
 *
 * | offset | size | field                                   |
 * |--------|------|-----------------------------------------|
 * | 0      | 23   | header, payload size = 259 + c          |
 * | 23     | 4    | content size c                          |
 * | 27     | 255  | file name field                         |
 * | 282    | c    | ciphertext                              |
 *
 * Family C, 1103 (the payload size counts the ciphertext or not):
 *
 * | offset | size | field                                   |
 * |--------|------|-----------------------------------------|
 * | 0      | 23   | header, payload size = 275 + c, or 275  |
 * | 23     | 16   | client id                               |
 * | 39     | 4    | content size c                          |
 * | 43     | 255  | file name field                         |
 * | 298    | c    | ciphertext                              |
 *
 * Family C's 1104, 1105 and 1106 carry client id[16] + file name[255]
 * (271 bytes) whether their header's payload size says 271 or 0.
 *
 * @module
 */

import { AES_BLOCK_SIZE, CLIENT_ID_SIZE, FILE_NAME_FIELD_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import { encodeRequestHeader } from "../header.ts";
import { cipherSizeFor } from "../packet.ts";

/** Size of the head of a family B 1028: content size + file name. */
export const B_UPLOAD_HEAD_SIZE = 4 + FILE_NAME_FIELD_SIZE;
/** Size of the head of a family C 1103: client id + content size + file name. */
export const C_UPLOAD_HEAD_SIZE = CLIENT_ID_SIZE + 4 + FILE_NAME_FIELD_SIZE;
/** Size of a family C 1104/1105/1106 payload: client id + file name. */
export const C_VERDICT_PAYLOAD_SIZE = CLIENT_ID_SIZE + FILE_NAME_FIELD_SIZE;

/** An upload in one request, from its head. */
export interface WholeFileUpload {
  /** The client id inside a 1103's head; `undefined` in a 1028. */
  clientId?: Uint8Array;
  /** Ciphertext size c: the bytes that follow the head. */
  contentSize: number;
  /** The raw 255-byte file name field (a copy), echoed in the answer. */
  fileNameField: Uint8Array;
}

/**
 * Checks a ciphertext size before anything of it is read: whole blocks, at
 * least one, and no more than a file of `maxFileSize` bytes encrypts to.
 */
function checkCipherSize(contentSize: number, maxFileSize: number): void {
  if (contentSize < AES_BLOCK_SIZE || contentSize % AES_BLOCK_SIZE !== 0) {
    throw new ProtocolError(
      `Cannot accept file: content size ${contentSize} is not a whole, non-empty number of ${AES_BLOCK_SIZE}-byte blocks`,
    );
  }
  const limit = cipherSizeFor(maxFileSize);
  if (contentSize > limit) {
    throw new ProtocolError(
      `Cannot accept file: content size ${contentSize} is over the limit of ${limit} bytes`,
    );
  }
}

/**
 * Decodes the 259-byte head of a family B 1028 and checks it against the
 * header's payload size (259 + c) and the size limit.
 *
 * @throws {ProtocolError} if the sizes disagree or exceed the limit.
 */
export function decodeBUploadHead(
  payloadSize: number,
  head: Uint8Array,
  maxFileSize: number,
): WholeFileUpload {
  if (head.length !== B_UPLOAD_HEAD_SIZE) {
    throw new ProtocolError(`Cannot decode file head: ${head.length} bytes`);
  }
  const contentSize = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
  if (payloadSize !== B_UPLOAD_HEAD_SIZE + contentSize) {
    throw new ProtocolError(
      `Cannot accept file: payload size ${payloadSize} is not ${B_UPLOAD_HEAD_SIZE} + content size ${contentSize}`,
    );
  }
  checkCipherSize(contentSize, maxFileSize);
  return { contentSize, fileNameField: head.slice(4, B_UPLOAD_HEAD_SIZE) };
}

/**
 * Decodes the 275-byte head of a family C 1103 and checks it against the
 * header's payload size: 275 + c (the ciphertext counted) or 275 (the
 * ciphertext follows uncounted).
 *
 * @throws {ProtocolError} for any other payload size, or a size over the limit.
 */
export function decodeCUploadHead(
  payloadSize: number,
  head: Uint8Array,
  maxFileSize: number,
): WholeFileUpload & { counted: boolean } {
  if (head.length !== C_UPLOAD_HEAD_SIZE) {
    throw new ProtocolError(`Cannot decode file head: ${head.length} bytes`);
  }
  const contentSize = new DataView(head.buffer, head.byteOffset + CLIENT_ID_SIZE, 4)
    .getUint32(0, true);
  const counted = payloadSize === C_UPLOAD_HEAD_SIZE + contentSize;
  if (!counted && payloadSize !== C_UPLOAD_HEAD_SIZE) {
    throw new ProtocolError(
      `Cannot accept file: payload size ${payloadSize} is neither ${C_UPLOAD_HEAD_SIZE} nor ${C_UPLOAD_HEAD_SIZE} + content size ${contentSize}`,
    );
  }
  checkCipherSize(contentSize, maxFileSize);
  return {
    clientId: head.slice(0, CLIENT_ID_SIZE),
    contentSize,
    fileNameField: head.slice(CLIENT_ID_SIZE + 4),
    counted,
  };
}

/**
 * How many bytes follow the header of a family C 1104/1105/1106: 271 when
 * its payload size says 0 or 271.
 *
 * @throws {ProtocolError} for any other payload size.
 */
export function cVerdictPayloadSize(payloadSize: number): number {
  if (payloadSize === 0 || payloadSize === C_VERDICT_PAYLOAD_SIZE) return C_VERDICT_PAYLOAD_SIZE;
  throw new ProtocolError(
    `Cannot accept request: payload size ${payloadSize} instead of ${C_VERDICT_PAYLOAD_SIZE} (or 0)`,
  );
}

/**
 * Encodes a family B 1028 request whole: header, head and ciphertext.
 *
 * @example
 * ```ts
 * import { encodeBUpload } from "./whole_file.ts";
 * import { encodeFileNameField } from "../packet.ts";
 * const frame = encodeBUpload(new Uint8Array(16), new Uint8Array(32), encodeFileNameField("a"));
 * console.log(frame.length); // 23 + 259 + 32 = 314
 * ```
 */
export function encodeBUpload(
  clientId: Uint8Array,
  cipher: Uint8Array,
  fileNameField: Uint8Array,
): Uint8Array {
  const frame = new Uint8Array(23 + B_UPLOAD_HEAD_SIZE + cipher.length);
  frame.set(encodeRequestHeader(clientId, 1028, B_UPLOAD_HEAD_SIZE + cipher.length), 0);
  new DataView(frame.buffer).setUint32(23, cipher.length, true);
  frame.set(fileNameField, 27);
  frame.set(cipher, 23 + B_UPLOAD_HEAD_SIZE);
  return frame;
}

/**
 * Encodes a family C 1103 request whole; `counted` says whether the header's
 * payload size counts the ciphertext.
 */
export function encodeCUpload(
  clientId: Uint8Array,
  cipher: Uint8Array,
  fileNameField: Uint8Array,
  counted: boolean,
): Uint8Array {
  const frame = new Uint8Array(23 + C_UPLOAD_HEAD_SIZE + cipher.length);
  const payloadSize = C_UPLOAD_HEAD_SIZE + (counted ? cipher.length : 0);
  frame.set(encodeRequestHeader(clientId, 1103, payloadSize), 0);
  frame.set(clientId, 23);
  new DataView(frame.buffer).setUint32(23 + CLIENT_ID_SIZE, cipher.length, true);
  frame.set(fileNameField, 23 + CLIENT_ID_SIZE + 4);
  frame.set(cipher, 23 + C_UPLOAD_HEAD_SIZE);
  return frame;
}
