/**
 * Splits the recorded reference sessions (`fixtures/*.c2s`, `*.s2c`) into
 * frames with the protocol codecs, so tests can check every byte was
 * accounted for and replay them.
 *
 * @module
 */

import {
  chunkLength,
  decodePacketHeader,
  decodeRequestHeader,
  decodeResponseHeader,
  PACKET_HEADER_SIZE,
  packetCount,
  type PacketHeader,
  REQUEST_HEADER_SIZE,
  RequestCode,
  type RequestHeader,
  RESPONSE_HEADER_SIZE,
  type ResponseHeader,
} from "../../protocol/mod.ts";

/** The fixtures folder. */
export const FIXTURES = new URL("../fixtures/", import.meta.url);

/** Reads a fixture file. */
export function readFixture(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(name, FIXTURES));
}

/** Reads a fixture file as text. */
export function readFixtureText(name: string): Promise<string> {
  return Deno.readTextFile(new URL(name, FIXTURES));
}

/** One 828 packet as recorded. */
export interface RecordedPacket {
  /** The decoded packet header. */
  header: PacketHeader;
  /** The raw 267-byte header. */
  headerBytes: Uint8Array;
  /** The chunk that followed it. */
  chunk: Uint8Array;
}

/** One client frame as recorded: a request, and for 828 its packets. */
export interface RecordedRequest {
  /** The decoded request header. */
  header: RequestHeader;
  /** The raw bytes of the whole frame (header, payload, packets). */
  bytes: Uint8Array;
  /** The payload (empty for 828). */
  payload: Uint8Array;
  /** The packets of an 828 request; empty otherwise. */
  packets: RecordedPacket[];
}

/** One server frame as recorded. */
export interface RecordedResponse {
  /** The decoded response header. */
  header: ResponseHeader;
  /** The raw bytes of the whole frame. */
  bytes: Uint8Array;
  /** The payload. */
  payload: Uint8Array;
}

/** Splits a client-to-server recording into requests; throws on leftovers. */
export function splitRequests(stream: Uint8Array): RecordedRequest[] {
  const requests: RecordedRequest[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const start = offset;
    const header = decodeRequestHeader(stream.subarray(offset));
    offset += REQUEST_HEADER_SIZE;
    const payload = stream.subarray(offset, offset + header.payloadSize);
    offset += header.payloadSize;
    const packets: RecordedPacket[] = [];
    if (header.code === RequestCode.SendFile) {
      const first = decodePacketHeader(stream.subarray(offset));
      const count = packetCount(first.contentSize);
      for (let i = 0; i < count; i++) {
        const headerBytes = stream.subarray(offset, offset + PACKET_HEADER_SIZE);
        offset += PACKET_HEADER_SIZE;
        const length = chunkLength(first.contentSize, i);
        packets.push({
          header: decodePacketHeader(headerBytes),
          headerBytes,
          chunk: stream.subarray(offset, offset + length),
        });
        offset += length;
      }
    }
    if (offset > stream.length) {
      throw new RangeError(`Cannot split requests: frame at ${start} is cut`);
    }
    requests.push({ header, bytes: stream.subarray(start, offset), payload, packets });
  }
  return requests;
}

/** Splits a server-to-client recording into responses; throws on leftovers. */
export function splitResponses(stream: Uint8Array): RecordedResponse[] {
  const responses: RecordedResponse[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const start = offset;
    const header = decodeResponseHeader(stream.subarray(offset));
    offset += RESPONSE_HEADER_SIZE;
    const payload = stream.subarray(offset, offset + header.payloadSize);
    offset += header.payloadSize;
    if (offset > stream.length) {
      throw new RangeError(`Cannot split responses: frame at ${start} is cut`);
    }
    responses.push({ header, bytes: stream.subarray(start, offset), payload });
  }
  return responses;
}

/** Joins the chunks of recorded packets into the 828 content. */
export function joinContent(packets: RecordedPacket[]): Uint8Array {
  const content = new Uint8Array(packets.reduce((n, p) => n + p.chunk.length, 0));
  let offset = 0;
  for (const packet of packets) {
    content.set(packet.chunk, offset);
    offset += packet.chunk.length;
  }
  return content;
}
