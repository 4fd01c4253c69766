/**
 * Reading whole request and response frames over an {@linkcode ExactReader}:
 * the header first, then a payload whose size was checked against the code
 * before a byte of it is read or allocated. Pure: the reader's source may be
 * a socket, a recording or a test double (`docs/protocol.md` §2).
 *
 * | frame    | header (header.ts) | payload size allowed                                   |
 * |----------|--------------------|--------------------------------------------------------|
 * | request  | 23 bytes           | exactly {@linkcode requestPayloadSize} of its code     |
 * | response | 7 bytes            | at most {@linkcode maxResponsePayloadSize} of its code |
 *
 * An 828 request has an empty payload; its packets follow and are read with
 * a `PacketDecoder` (packet_decoder.ts).
 *
 * @module
 */

import { REQUEST_HEADER_SIZE, RESPONSE_HEADER_SIZE } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import type { ExactReader } from "./exact_reader.ts";
import {
  decodeRequestHeader,
  decodeResponseHeader,
  type RequestHeader,
  type ResponseHeader,
} from "./header.ts";
import { requestPayloadSize } from "./requests.ts";
import { maxResponsePayloadSize } from "./responses.ts";

/** A request header and its payload, not yet decoded (see `decodeRequest`). */
export interface RequestFrame {
  /** The decoded header. */
  header: RequestHeader;
  /** The payload: exactly as many bytes as the code calls for. */
  payload: Uint8Array;
}

/** A response header and its payload, not yet decoded (see `decodeResponse`). */
export interface ResponseFrame {
  /** The decoded header. */
  header: ResponseHeader;
  /** The payload: no more bytes than the code allows. */
  payload: Uint8Array;
}

/**
 * Reads a request header, or resolves to `null` when the source ends cleanly
 * before its first byte (the peer closed between requests).
 *
 * @throws {Deno.errors.UnexpectedEof} if the source ends inside the header.
 */
export async function readRequestHeader(reader: ExactReader): Promise<RequestHeader | null> {
  const bytes = await reader.readExactOrEnd(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE);
  return bytes === null ? null : decodeRequestHeader(bytes);
}

/**
 * Reads the payload of a request whose header was read: exactly the size its
 * code calls for.
 *
 * @throws {ProtocolError} if the code is unknown or the header's payload
 * size is not the code's; nothing is read then.
 * @throws {Deno.errors.UnexpectedEof} if the source ends first.
 */
export async function readRequestPayload(
  reader: ExactReader,
  header: RequestHeader,
): Promise<Uint8Array> {
  const expected = requestPayloadSize(header.code);
  if (expected === undefined) {
    throw new ProtocolError(`Cannot read request: unknown request code ${header.code}`);
  }
  if (header.payloadSize !== expected) {
    throw new ProtocolError(
      `Cannot accept request ${header.code}: payload size ${header.payloadSize} instead of ${expected}`,
    );
  }
  return await reader.readExact(expected, expected);
}

/**
 * Reads a whole request frame (header and payload), or `null` when the source
 * ends cleanly between frames.
 *
 * @example
 * ```ts
 * import { ExactReader, byteSourceOf } from "./exact_reader.ts";
 * import { readRequestFrame } from "./frames.ts";
 * import { encodeRequest } from "./requests.ts";
 * import { RequestCode } from "./constants.ts";
 * import { ZERO_CLIENT_ID } from "./fields.ts";
 *
 * const bytes = encodeRequest(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Alice" });
 * const frame = await readRequestFrame(new ExactReader(byteSourceOf(bytes)));
 * console.log(frame?.header.code, frame?.payload.length); // 825 255
 * ```
 *
 * @throws {ProtocolError} if the code is unknown or its payload size wrong.
 * @throws {Deno.errors.UnexpectedEof} if the source ends inside the frame.
 */
export async function readRequestFrame(reader: ExactReader): Promise<RequestFrame | null> {
  const header = await readRequestHeader(reader);
  if (header === null) return null;
  return { header, payload: await readRequestPayload(reader, header) };
}

/**
 * Reads a whole response frame, or `null` when the source ends cleanly
 * before its first byte.
 *
 * @param limitOf The payload limit of each code the caller expects
 * (`undefined`: unknown); by default those of the reference codes. An
 * extension passes its own codes' limits (e.g. `maxRetrievalPayloadSize`).
 * @throws {ProtocolError} if the code is unknown or the payload is larger
 * than the code allows; nothing of the payload is read then.
 * @throws {Deno.errors.UnexpectedEof} if the source ends inside the frame.
 */
export async function readResponseFrameOrEnd(
  reader: ExactReader,
  limitOf: (code: number) => number | undefined = maxResponsePayloadSize,
): Promise<ResponseFrame | null> {
  const bytes = await reader.readExactOrEnd(RESPONSE_HEADER_SIZE, RESPONSE_HEADER_SIZE);
  if (bytes === null) return null;
  const header = decodeResponseHeader(bytes);
  const limit = limitOf(header.code);
  if (limit === undefined) {
    throw new ProtocolError(`Cannot read response: unknown response code ${header.code}`);
  }
  if (header.payloadSize > limit) {
    throw new ProtocolError(
      `Cannot read response ${header.code}: payload of ${header.payloadSize} bytes, more than ${limit}`,
    );
  }
  return { header, payload: await reader.readExact(header.payloadSize, limit) };
}

/**
 * Reads a whole response frame (see {@linkcode readResponseFrameOrEnd}, and
 * its `limitOf` for codes beyond the reference's).
 *
 * @example
 * ```ts
 * import { ExactReader, byteSourceOf } from "./exact_reader.ts";
 * import { readResponseFrame } from "./frames.ts";
 * import { decodeResponse, encodeResponse } from "./responses.ts";
 * import { ResponseCode } from "./constants.ts";
 *
 * const bytes = encodeResponse({ code: ResponseCode.GeneralError, text: "no" });
 * const frame = await readResponseFrame(new ExactReader(byteSourceOf(bytes)));
 * console.log(decodeResponse(frame.header.code, frame.payload)); // { code: 1607, text: "no" }
 * ```
 *
 * @throws {ProtocolError} if the code is unknown or the payload too large.
 * @throws {Deno.errors.UnexpectedEof} if the source ends before or inside the frame.
 */
export async function readResponseFrame(
  reader: ExactReader,
  limitOf: (code: number) => number | undefined = maxResponsePayloadSize,
): Promise<ResponseFrame> {
  const frame = await readResponseFrameOrEnd(reader, limitOf);
  if (frame === null) {
    throw new Deno.errors.UnexpectedEof(
      "Cannot read a response: the connection closed before the first byte",
    );
  }
  return frame;
}
