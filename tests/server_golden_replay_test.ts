/**
 * Issue 3, points 2 and 9: the reference client's recorded bytes, replayed
 * against our server. Our server issues its own ids and AES keys, so each
 * frame is rebuilt: the header carries the id our server gave, and the file
 * is re-encrypted under the AES key our server sent (unwrapped with the
 * recorded private key). Everything else (names, public keys, packet headers,
 * 900's path field) is the recorded bytes.
 */

import assert from "node:assert/strict";
import {
  aesEncrypt,
  clientIdToHex,
  decodePacketHeader,
  decodeRequestHeader,
  decodeResponse,
  decodeResponseHeader,
  importAesKey,
  importPrivateKey,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
  packetCount,
  parsePrivateKey,
  REQUEST_HEADER_SIZE,
  RequestCode,
  type Response,
  RESPONSE_HEADER_SIZE,
  ResponseCode,
  unwrapAesKey,
} from "../protocol/mod.ts";
import { concat, RawClient } from "./support/raw_client.ts";
import { withServer } from "./support/test_server.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const fixture = (name: string) => Deno.readFile(new URL(name, FIXTURES));

/** One recorded request: its header fields, payload, and for 828 the packets. */
interface RecordedRequest {
  code: number;
  /** The whole frame as recorded (header + payload). */
  frame: Uint8Array;
  /** For 828: each packet's 267-byte header as recorded. */
  packetHeaders: Uint8Array[];
  /** For 828: the recorded content (ciphertext || trailer). */
  content: Uint8Array;
}

function parseC2s(bytes: Uint8Array): RecordedRequest[] {
  const requests: RecordedRequest[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const header = decodeRequestHeader(bytes.subarray(offset));
    const start = offset;
    offset += REQUEST_HEADER_SIZE + header.payloadSize;
    const packetHeaders: Uint8Array[] = [];
    const chunks: Uint8Array[] = [];
    if (header.code === RequestCode.SendFile) {
      const first = decodePacketHeader(bytes.subarray(offset));
      for (let i = 0; i < packetCount(first.contentSize); i++) {
        const length = Math.min(PACKET_CHUNK_SIZE, first.contentSize - i * PACKET_CHUNK_SIZE);
        packetHeaders.push(bytes.slice(offset, offset + PACKET_HEADER_SIZE));
        chunks.push(
          bytes.subarray(offset + PACKET_HEADER_SIZE, offset + PACKET_HEADER_SIZE + length),
        );
        offset += PACKET_HEADER_SIZE + length;
      }
    }
    requests.push({
      code: header.code,
      frame: bytes.slice(start, start + REQUEST_HEADER_SIZE + header.payloadSize),
      packetHeaders,
      content: concat(chunks),
    });
  }
  return requests;
}

function parseS2c(bytes: Uint8Array): Response[] {
  const responses: Response[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const header = decodeResponseHeader(bytes.subarray(offset));
    offset += RESPONSE_HEADER_SIZE;
    responses.push(
      decodeResponse(header.code, bytes.subarray(offset, offset + header.payloadSize)),
    );
    offset += header.payloadSize;
  }
  return responses;
}

/** The recorded frame with the header's client id replaced. */
function withId(frame: Uint8Array, clientId: Uint8Array): Uint8Array {
  const copy = frame.slice();
  copy.set(clientId, 0);
  return copy;
}

/** Replays a recorded session; returns the client id our server gave. */
async function replay(
  port: number,
  session: string,
  keyFile: string,
  files: Record<string, Uint8Array>,
  initialId?: Uint8Array,
): Promise<Uint8Array> {
  const requests = parseC2s(await fixture(`${session}.c2s`));
  const recorded = parseS2c(await fixture(`${session}.s2c`));
  const privateKey = await importPrivateKey(
    parsePrivateKey(await Deno.readTextFile(new URL(keyFile, FIXTURES))),
  );
  using client = await RawClient.connect(port);
  let clientId = initialId ?? new Uint8Array(16);
  let aesKey: CryptoKey | undefined;
  const expectedCodes = recorded.map((r) => r.code);
  const gotCodes: number[] = [];
  let answer = 0;
  for (const request of requests) {
    if (request.code === RequestCode.SendFile) {
      // Same packet headers; content re-encrypted under our server's key.
      const first = decodePacketHeader(request.packetHeaders[0]!);
      const name = new TextDecoder().decode(first.fileNameField).replace(/\0+$/, "");
      const plain = files[name];
      assert.ok(plain !== undefined, `no fixture for ${name}`);
      assert.ok(aesKey !== undefined, "828 before a key was received");
      const cipher = await aesEncrypt(aesKey, plain);
      const content = concat([cipher, request.content.subarray(request.content.length - 4)]);
      assert.equal(content.length, request.content.length);
      const packets = request.packetHeaders.map((header, i) =>
        concat([header, content.subarray(i * PACKET_CHUNK_SIZE, (i + 1) * PACKET_CHUNK_SIZE)])
      );
      await client.send(concat([withId(request.frame, clientId), ...packets]));
    } else {
      await client.send(withId(request.frame, clientId));
    }
    if (request.code === RequestCode.CrcRetry) continue;
    const got = (await client.readResponse()).response;
    const want = recorded[answer++]!;
    gotCodes.push(got.code);
    assert.equal(got.code, want.code, `${session}: answer to ${request.code}`);
    switch (got.code) {
      case ResponseCode.Registered:
        clientId = got.clientId;
        break;
      case ResponseCode.KeyAccepted:
      case ResponseCode.ReconnectApproved:
        assert.deepEqual(got.clientId, clientId);
        aesKey = await importAesKey(await unwrapAesKey(privateKey, got.wrappedKey));
        break;
      case ResponseCode.FileReceived: {
        const w = want as typeof got;
        assert.deepEqual(got.clientId, clientId);
        assert.equal(got.cksum, w.cksum, `${session}: 1603 cksum`);
        assert.equal(got.contentSize, w.contentSize);
        assert.deepEqual(got.fileNameField, w.fileNameField);
        break;
      }
      case ResponseCode.Ack:
        assert.deepEqual(got.clientId, clientId);
        break;
    }
  }
  assert.deepEqual(gotCodes, expectedCodes);
  return clientId;
}

Deno.test("server: golden s1 (register, upload, 900) then s2 (reconnect, upload) replay", async () => {
  const sample = await fixture("sample.bin");
  const block16 = await fixture("block16.bin");
  await withServer(async ({ port, dir }) => {
    const id = await replay(port, "s1-register", "s1-priv.key", { "sample.bin": sample });
    const folder = `${dir}/received_files/${clientIdToHex(id)}`;
    assert.deepEqual(await Deno.readFile(`${folder}/sample.bin`), sample);
    // s2: the same client reconnects with the id our server gave it.
    const id2 = await replay(port, "s2-reconnect", "s1-priv.key", { "block16.bin": block16 }, id);
    assert.deepEqual(id2, id);
    assert.deepEqual(await Deno.readFile(`${folder}/block16.bin`), block16);
  });
});

Deno.test("server: golden s3 replay: 827 unknown -> 1606, 825 -> 1600, 826, upload, 900", async () => {
  const sample = await fixture("sample.bin");
  await withServer(async ({ port, dir }) => {
    const recordedId = decodeRequestHeader(await fixture("s3-restart.c2s")).clientId;
    const id = await replay(
      port,
      "s3-restart",
      "s3-priv.key",
      { "sample.bin": sample },
      recordedId,
    );
    assert.notDeepEqual(id, recordedId);
    assert.deepEqual(
      await Deno.readFile(`${dir}/received_files/${clientIdToHex(id)}/sample.bin`),
      sample,
    );
  });
});
