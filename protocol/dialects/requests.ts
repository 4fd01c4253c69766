/**
 * The requests of every family: how many bytes follow each header, decided
 * from the code and the payload size before anything is read or allocated,
 * and the payloads of the small requests (`docs/protocol.md` §15).
 *
 * | meaning        | payload                                   | bytes read after the header        |
 * |----------------|-------------------------------------------|------------------------------------|
 * | register       | name[255]                                 | 255                                |
 * | public key     | name[255] + public key[160]               | 415                                |
 * | reconnect      | name[255] (A, B, D)                       | 255                                |
 * | send file      | A: 0 (reference) or a packet; D: a packet; B, C: head + ciphertext | see `per_packet.ts`, `whole_file.ts` |
 * | CRC ok / bad / abort | A, B, D: file name[255]; C: id[16] + file name[255] | 255; C: 271, whether the size says 271 or 0 |
 *
 * @module
 */

import { FILE_NAME_FIELD_SIZE, NAME_FIELD_SIZE, PUBLIC_KEY_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import { decodeAsciiField, encodeStringField } from "../fields.ts";
import { encodeRequestHeader, type RequestHeader } from "../header.ts";
import { nameProblem } from "../names.ts";
import { type Family, FAMILY_TABLES, type RequestMeaning, requestMeaning } from "./families.ts";
import { type FamilyAUpload, familyAUploadOf } from "./recognition.ts";
import {
  B_UPLOAD_HEAD_SIZE,
  C_UPLOAD_HEAD_SIZE,
  C_VERDICT_PAYLOAD_SIZE,
  cVerdictPayloadSize,
} from "./whole_file.ts";

/** What to read after a request header. */
export type PayloadPlan =
  | {
    kind: "fixed";
    meaning: Exclude<RequestMeaning, "sendFile">;
    /** Bytes to read: the payload (271 for a family C verdict whose size says 0). */
    size: number;
  }
  | { kind: "reference-upload" }
  | {
    kind: "packet";
    /** The chunk's length: the payload size less the 267-byte packet header. */
    chunkLength: number;
  }
  | {
    kind: "whole-file";
    /** Size of the head before the ciphertext: 259 (B) or 275 (C). */
    headSize: number;
  }
  | { kind: "unknown" };

function fixedSize(family: Family, meaning: Exclude<RequestMeaning, "sendFile">): number {
  switch (meaning) {
    case "register":
    case "reconnect":
      return NAME_FIELD_SIZE;
    case "publicKey":
      return NAME_FIELD_SIZE + PUBLIC_KEY_SIZE;
    default:
      return family === "C" ? C_VERDICT_PAYLOAD_SIZE : FILE_NAME_FIELD_SIZE;
  }
}

/**
 * What follows `header` in `family`. For family A, `aUpload` is the upload
 * framing decided at the connection's first 828, `undefined` before it.
 *
 * @example
 * ```ts
 * import { planPayload } from "./requests.ts";
 * const header = { clientId: new Uint8Array(16), version: 3, code: 1104, payloadSize: 0 };
 * console.log(planPayload("C", header)); // { kind: "fixed", meaning: "crcOk", size: 271 }
 * ```
 *
 * @throws {ProtocolError} if the payload size is not one the code allows.
 */
export function planPayload(
  family: Family,
  header: RequestHeader,
  aUpload?: FamilyAUpload,
): PayloadPlan {
  const meaning = requestMeaning(family, header.code);
  if (meaning === undefined) return { kind: "unknown" };
  if (meaning === "sendFile") return planUpload(family, header, aUpload);
  if (family === "C" && meaning.startsWith("crc")) {
    return { kind: "fixed", meaning, size: cVerdictPayloadSize(header.payloadSize) };
  }
  const size = fixedSize(family, meaning);
  if (header.payloadSize !== size) {
    throw new ProtocolError(
      `Cannot accept request ${header.code}: payload size ${header.payloadSize} instead of ${size}`,
    );
  }
  return { kind: "fixed", meaning, size };
}

function planUpload(family: Family, header: RequestHeader, aUpload?: FamilyAUpload): PayloadPlan {
  const size = header.payloadSize;
  switch (family) {
    case "B":
      return wholeFile(header, B_UPLOAD_HEAD_SIZE);
    case "C":
      return wholeFile(header, C_UPLOAD_HEAD_SIZE);
    case "A": {
      const framing = familyAUploadOf(size);
      if (aUpload !== undefined && framing !== aUpload) {
        throw new ProtocolError(
          `Cannot accept file: this connection uploads ${aUpload}, and this 828 is ${framing}`,
        );
      }
      if (framing === "reference") return { kind: "reference-upload" };
      return { kind: "packet", chunkLength: size - 267 };
    }
    case "D":
      if (familyAUploadOf(size) !== "per-packet") {
        throw new ProtocolError(`Cannot accept file: payload size ${size} is not a packet`);
      }
      return { kind: "packet", chunkLength: size - 267 };
  }
}

function wholeFile(header: RequestHeader, headSize: number): PayloadPlan {
  if (header.payloadSize < headSize) {
    throw new ProtocolError(
      `Cannot accept file: payload size ${header.payloadSize} is shorter than its ${headSize}-byte head`,
    );
  }
  return { kind: "whole-file", headSize };
}

/** A small request, decoded. */
export type DialectRequest =
  | { meaning: "register" | "reconnect"; name: string }
  | { meaning: "publicKey"; name: string; publicKey: Uint8Array }
  | {
    meaning: "crcOk" | "crcRetry" | "crcAbort";
    /** The raw file name field: informational, never trusted. */
    fileNameField: Uint8Array;
    /** Family C only: the client id inside the payload. */
    clientId?: Uint8Array;
  };

function decodeName(field: Uint8Array): string {
  const name = decodeAsciiField(field, "name");
  const problem = nameProblem(name);
  if (problem !== undefined) throw new ProtocolError(`Cannot decode name: ${problem}`);
  return name;
}

/**
 * Decodes the payload of a request planned `fixed` (see {@linkcode planPayload}).
 *
 * @throws {ProtocolError} if the name is empty, too long or not printable ASCII.
 */
export function decodeDialectRequest(
  family: Family,
  meaning: Exclude<RequestMeaning, "sendFile">,
  payload: Uint8Array,
): DialectRequest {
  if (payload.length !== fixedSize(family, meaning)) {
    throw new ProtocolError(`Cannot decode request: payload has ${payload.length} bytes`);
  }
  switch (meaning) {
    case "register":
    case "reconnect":
      return { meaning, name: decodeName(payload) };
    case "publicKey":
      return {
        meaning,
        name: decodeName(payload.subarray(0, NAME_FIELD_SIZE)),
        publicKey: payload.slice(NAME_FIELD_SIZE),
      };
    default:
      return family === "C"
        ? { meaning, clientId: payload.slice(0, 16), fileNameField: payload.slice(16) }
        : { meaning, fileNameField: payload.slice() };
  }
}

/**
 * Encodes a small request of `family` whole, as its clients send it. For a
 * family C verdict, `sizeField` is what the header says (271, or 0 as some
 * clients write).
 *
 * @example
 * ```ts
 * import { encodeDialectRequest } from "./requests.ts";
 * const frame = encodeDialectRequest("B", new Uint8Array(16).fill(0xaa), { meaning: "register", name: "Bob" });
 * console.log(frame.length, frame[17], frame[18]); // 278 1 4
 * ```
 *
 * @throws {TypeError} for a request the family does not have, or a bad name.
 */
export function encodeDialectRequest(
  family: Family,
  clientId: Uint8Array,
  request: DialectRequest,
  sizeField?: number,
): Uint8Array {
  const code = FAMILY_TABLES[family].requests[request.meaning];
  if (code === undefined) {
    throw new TypeError(`Cannot encode request: family ${family} has no ${request.meaning}`);
  }
  let payload: Uint8Array;
  switch (request.meaning) {
    case "register":
    case "reconnect":
      payload = encodeStringField(request.name, NAME_FIELD_SIZE);
      break;
    case "publicKey":
      payload = new Uint8Array(NAME_FIELD_SIZE + PUBLIC_KEY_SIZE);
      payload.set(encodeStringField(request.name, NAME_FIELD_SIZE), 0);
      payload.set(request.publicKey, NAME_FIELD_SIZE);
      break;
    default:
      payload = new Uint8Array(fixedSize(family, request.meaning));
      if (family === "C") payload.set(request.clientId ?? clientId, 0);
      payload.set(request.fileNameField, family === "C" ? 16 : 0);
  }
  const frame = new Uint8Array(23 + payload.length);
  frame.set(encodeRequestHeader(clientId, code, sizeField ?? payload.length), 0);
  frame.set(payload, 23);
  return frame;
}
