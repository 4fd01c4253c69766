/**
 * The reference client's recorded sessions, replayed against a server of
 * ours (directly, or through a load balancer). Our server issues its own ids
 * and AES keys, so each frame is rebuilt: the header carries the id our
 * server gave, and the file is re-encrypted under the AES key our server
 * sent (unwrapped with the recorded private key). Everything else (names,
 * public keys, packet headers, 900's path field) is the recorded bytes.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  aesEncrypt,
  decodeResponse,
  importAesKey,
  importPrivateKey,
  PACKET_CHUNK_SIZE,
  parsePrivateKey,
  REQUEST_HEADER_SIZE,
  RequestCode,
  ResponseCode,
  unwrapAesKey,
} from "../../protocol/mod.ts";
import { RawClient } from "../../harness/raw_client.ts";
import { concat } from "../../harness/bytes.ts";
import { readFixture, readFixtureText, splitRequests, splitResponses } from "./golden_session.ts";

/** The recorded frame with the header's client id replaced. */
function withId(frame: Uint8Array, clientId: Uint8Array): Uint8Array {
  const copy = frame.slice();
  copy.set(clientId, 0);
  return copy;
}

/**
 * Replays a recorded session on a new connection to 127.0.0.1:`port`;
 * returns the client id our server gave.
 */
export async function replay(
  port: number,
  session: string,
  keyFile: string,
  files: Record<string, Uint8Array>,
  initialId?: Uint8Array,
): Promise<Uint8Array> {
  const requests = await splitRequests(await readFixture(`${session}.c2s`));
  const recorded = (await splitResponses(await readFixture(`${session}.s2c`))).map((r) =>
    decodeResponse(r.header.code, r.payload)
  );
  const privateKey = await importPrivateKey(parsePrivateKey(await readFixtureText(keyFile)));
  using client = await RawClient.connect(port);
  let clientId = initialId ?? new Uint8Array(16);
  let aesKey: CryptoKey | undefined;
  const expectedCodes = recorded.map((r) => r.code);
  const gotCodes: number[] = [];
  let answer = 0;
  for (const recordedRequest of requests) {
    const { header, packets: recordedPackets, content: recordedContent } = recordedRequest;
    const frame = recordedRequest.bytes.subarray(0, REQUEST_HEADER_SIZE + header.payloadSize);
    if (header.code === RequestCode.SendFile) {
      // Same packet headers; content re-encrypted under our server's key. The
      // recorded header bytes are replayed as they are, on purpose, rather
      // than re-encoded.
      const first = recordedPackets[0]!.header;
      const name = new TextDecoder().decode(first.fileNameField).replace(/\0+$/, "");
      const plain = files[name];
      assert.ok(plain !== undefined, `no fixture for ${name}`);
      assert.ok(aesKey !== undefined, "828 before a key was received");
      const cipher = await aesEncrypt(aesKey, plain);
      const content = concat([cipher, recordedContent.subarray(recordedContent.length - 4)]);
      assert.equal(content.length, recordedContent.length);
      const packets = recordedPackets.map((packet, i) =>
        concat([
          packet.headerBytes,
          content.subarray(i * PACKET_CHUNK_SIZE, (i + 1) * PACKET_CHUNK_SIZE),
        ])
      );
      await client.send(concat([withId(frame, clientId), ...packets]));
    } else {
      await client.send(withId(frame, clientId));
    }
    if (header.code === RequestCode.CrcRetry) continue;
    const got = (await client.readResponse()).response;
    const want = recorded[answer++]!;
    gotCodes.push(got.code);
    assert.equal(got.code, want.code, `${session}: answer to ${header.code}`);
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
