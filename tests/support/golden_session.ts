/**
 * Splits the recorded reference sessions (`fixtures/*.c2s`, `*.s2c`) into
 * frames with the protocol's frame readers and `PacketDecoder`, the same
 * that read a socket, so tests can check every byte was accounted for and
 * replay them.
 *
 * @module
 */

import {
  byteSourceOf,
  chunkLength,
  decodePacketHeader,
  ExactReader,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
  PacketDecoder,
  type PacketHeader,
  readRequestFrame,
  readResponseFrameOrEnd,
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

/**
 * Splits a client-to-server recording into requests with the protocol's
 * frame reader and packet decoder; throws on leftovers or a cut frame.
 */
export async function splitRequests(stream: Uint8Array): Promise<RecordedRequest[]> {
  const reader = new ExactReader(byteSourceOf(stream));
  const requests: RecordedRequest[] = [];
  let offset = 0;
  for (let frame = await readRequestFrame(reader); frame !== null;) {
    const { header, payload } = frame;
    const start = offset;
    offset += REQUEST_HEADER_SIZE + payload.length;
    let upload: Upload = { packets: [], content: new Uint8Array(0), size: 0 };
    if (header.code === RequestCode.SendFile) upload = splitPackets(stream.subarray(offset));
    await reader.skip(upload.size);
    offset += upload.size;
    const { packets, content } = upload;
    requests.push({ header, bytes: stream.subarray(start, offset), payload, packets, content });
    frame = await readRequestFrame(reader);
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

/**
 * Splits a server-to-client recording into responses with the protocol's
 * frame reader; throws on leftovers or a cut frame.
 */
export async function splitResponses(stream: Uint8Array): Promise<RecordedResponse[]> {
  const reader = new ExactReader(byteSourceOf(stream));
  const responses: RecordedResponse[] = [];
  let offset = 0;
  for (let frame = await readResponseFrameOrEnd(reader); frame !== null;) {
    const { header, payload } = frame;
    const start = offset;
    offset += RESPONSE_HEADER_SIZE + payload.length;
    responses.push({ header, bytes: stream.subarray(start, offset), payload });
    frame = await readResponseFrameOrEnd(reader);
  }
  return responses;
}
