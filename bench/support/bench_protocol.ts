/**
 * Reads response frames for the parts of the benchmark that speak the
 * protocol themselves (registrations per second).
 *
 * @module
 */

import {
  decodeResponse,
  decodeResponseHeader,
  ExactReader,
  maxResponsePayloadSize,
  ProtocolError,
  type Response,
  RESPONSE_HEADER_SIZE,
} from "../../protocol/mod.ts";

/** Reads one response frame through a connection's reader. */
export async function readResponseFrame(reader: ExactReader): Promise<Response> {
  const header = decodeResponseHeader(
    await reader.readExact(RESPONSE_HEADER_SIZE, RESPONSE_HEADER_SIZE),
  );
  const limit = maxResponsePayloadSize(header.code);
  if (limit === undefined) {
    throw new ProtocolError(`Cannot read response: unknown code ${header.code}`);
  }
  return decodeResponse(header.code, await reader.readExact(header.payloadSize, limit));
}
