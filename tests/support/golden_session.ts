/**
 * Splits the recorded reference sessions (`fixtures/*.c2s`, `*.s2c`) into
 * frames with the protocol codecs and the `PacketDecoder`, so tests can check
 * every byte was accounted for and replay them. The recordings are whole in
 * memory, so this works on byte arrays, synchronously; the frame readers
 * (`readRequestFrame`, ...) do the same over a socket.
 *
 * @module
 */

import {
  chunkLength,
  decodePacketHeader,
  decodeRequestHeader,
  decodeResponseHeader,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
  PacketDecoder,
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
  /** The content of an 828 request (ciphertext and trailer); empty otherwise. */
  content: Uint8Array;
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
    let upload: Upload = { packets: [], content: new Uint8Array(0), size: 0 };
    if (header.code === RequestCode.SendFile) upload = splitPackets(stream.subarray(offset));
    offset += upload.size;
    if (offset > stream.length) {
      throw new RangeError(`Cannot split requests: frame at ${start} is cut`);
    }
    const { packets, content } = upload;
    requests.push({ header, bytes: stream.subarray(start, offset), payload, packets, content });
  }
  return requests;
}

/** The packets of an 828 request, its content, and their size on the wire. */
interface Upload {
  packets: RecordedPacket[];
  content: Uint8Array;
  size: number;
}

/** Decodes the packets at the start of `stream`, all in one batch. */
function splitPackets(stream: Uint8Array): Upload {
  const firstBytes = stream.subarray(0, PACKET_HEADER_SIZE);
  const decoder = new PacketDecoder(decodePacketHeader(firstBytes));
  const headers = [firstBytes];
  const size = decoder.nextBatchSize(decoder.totalPackets);
  const raw = stream.subarray(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE + size);
  if (raw.length < size) throw new RangeError("Cannot split packets: the upload is cut");
  const content = new Uint8Array(decoder.first.contentSize);
  decoder.decodeBatch(raw, content, (_, header) => headers.push(header));
  const packets = headers.map((headerBytes, i) => ({
    header: decodePacketHeader(headerBytes),
    headerBytes,
    chunk: content.subarray(
      i * PACKET_CHUNK_SIZE,
      i * PACKET_CHUNK_SIZE + chunkLength(content.length, i),
    ),
  }));
  return { packets, content, size: PACKET_HEADER_SIZE + size };
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
