/**
 * Splits the recorded conversations of other dialects' clients
 * (`fixtures/dialects/<client>/1.c2s`, `1.s2c`) into requests and answers
 * with the dialect codecs the server reads a socket with (`planPayload`,
 * the upload heads, `decodeDialectRequest`), so that a test can check that
 * every byte is accounted for.
 *
 * @module
 */

import {
  byteSourceOf,
  decodePacketHeader,
  decodeResponseHeader,
  ExactReader,
  type PacketHeader,
  readRequestHeader,
  type RequestHeader,
  type ResponseHeader,
} from "../../protocol/mod.ts";
import {
  decodeBUploadHead,
  decodeCUploadHead,
  decodeDialectRequest,
  type DialectRequest,
  type Family,
  type FamilyAUpload,
  planPayload,
  type WholeFileUpload,
} from "../../protocol/dialects/mod.ts";

/** One request of a capture. */
export type CapturedRequest =
  & { offset: number; header: RequestHeader }
  & (
    | { kind: "fixed"; request: DialectRequest }
    | { kind: "packet"; packet: PacketHeader; chunk: Uint8Array }
    | { kind: "whole-file"; upload: WholeFileUpload; cipher: Uint8Array }
  );

/** One answer of a capture. */
export interface CapturedResponse {
  /** Where it starts in the `.s2c` file. */
  offset: number;
  /** Its header. */
  header: ResponseHeader;
  /** The payload its header announces. */
  payload: Uint8Array;
  /** The whole frame as recorded. */
  bytes: Uint8Array;
}

/** Reads a capture file. */
export function readCapture(client: string, file: "1.c2s" | "1.s2c"): Promise<Uint8Array> {
  return Deno.readFile(new URL(`../fixtures/dialects/${client}/${file}`, import.meta.url));
}

/**
 * Splits a client's bytes into requests of `family`; the maximum file size
 * is generous, the captures hold 100 kB files.
 *
 * @throws {ProtocolError} where the bytes break the dialect.
 */
export async function splitDialectRequests(
  bytes: Uint8Array,
  family: Family,
): Promise<CapturedRequest[]> {
  const reader = new ExactReader(byteSourceOf(bytes));
  const requests: CapturedRequest[] = [];
  let offset = 0;
  let aUpload: FamilyAUpload | undefined;
  for (;;) {
    const header = await readRequestHeader(reader);
    if (header === null) break;
    const plan = planPayload(family, header, aUpload);
    const start = offset;
    offset += 23;
    switch (plan.kind) {
      case "fixed": {
        const payload = await reader.readExact(plan.size, plan.size);
        offset += plan.size;
        const request = decodeDialectRequest(family, plan.meaning, payload);
        requests.push({ offset: start, header, kind: "fixed", request });
        break;
      }
      case "packet": {
        aUpload = "per-packet";
        const packet = decodePacketHeader(await reader.readExact(267, 267));
        const chunk = await reader.readExact(plan.chunkLength, 65536);
        offset += 267 + chunk.length;
        requests.push({ offset: start, header, kind: "packet", packet, chunk });
        break;
      }
      case "whole-file": {
        const head = await reader.readExact(plan.headSize, plan.headSize);
        const upload = family === "B"
          ? decodeBUploadHead(header.payloadSize, head, 1 << 30)
          : decodeCUploadHead(header.payloadSize, head, 1 << 30);
        const cipher = await reader.readExact(upload.contentSize, 1 << 30);
        offset += plan.headSize + cipher.length;
        requests.push({ offset: start, header, kind: "whole-file", upload, cipher });
        break;
      }
      default:
        throw new Error(`Cannot split capture: ${plan.kind} request ${header.code} at ${start}`);
    }
  }
  return requests;
}

/** Splits a server's bytes into answers by their header's payload size, up to `end`. */
export function splitResponses(bytes: Uint8Array, end = bytes.length): CapturedResponse[] {
  const responses: CapturedResponse[] = [];
  for (let offset = 0; offset < end;) {
    const header = decodeResponseHeader(bytes.subarray(offset, offset + 7));
    const stop = offset + 7 + header.payloadSize;
    responses.push({
      offset,
      header,
      payload: bytes.subarray(offset + 7, stop),
      bytes: bytes.subarray(offset, stop),
    });
    offset = stop;
  }
  return responses;
}
