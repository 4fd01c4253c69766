import assert from "node:assert/strict";
import {
  aesDecrypt,
  bytesEqual,
  cksum,
  clientIdToHex,
  decodeFileNameField,
  decodeRequest,
  decodeResponse,
  importAesKey,
  importPrivateKey,
  parseMeInfo,
  type Request,
  type Response,
  unwrapAesKey,
} from "../protocol/mod.ts";
import {
  readFixture,
  readFixtureText,
  type RecordedRequest,
  splitRequests,
  splitResponses,
} from "./support/golden_session.ts";

interface Session {
  name: string;
  identity: string;
  /** Request codes, each with the first 6 hex digits of the header's client id. */
  requests: string[];
  responses: number[];
  source: string;
}

const SESSIONS: Session[] = [
  {
    name: "s1-register",
    identity: "s1-info.me",
    requests: ["825:000000", "826:2a3d65", "828:2a3d65", "900:2a3d65"],
    responses: [1600, 1602, 1603, 1604],
    source: "sample.bin",
  },
  {
    name: "s2-reconnect",
    identity: "s1-info.me",
    requests: ["827:2a3d65", "828:2a3d65", "900:2a3d65"],
    responses: [1605, 1603, 1604],
    source: "block16.bin",
  },
  {
    name: "s3-restart",
    identity: "s3-info.me",
    // After 1606 the reference client registers again with its old id in the
    // header, not zeros: a server must not insist on a zero id for 825.
    requests: ["827:2a3d65", "825:2a3d65", "826:3a140f", "828:3a140f", "900:3a140f"],
    responses: [1606, 1600, 1602, 1603, 1604],
    source: "sample.bin",
  },
];

function trailer(content: Uint8Array): number {
  return new DataView(content.buffer, content.byteOffset).getUint32(content.length - 4, true);
}

for (const session of SESSIONS) {
  Deno.test(`golden ${session.name}: every frame decodes and the upload checks out`, async () => {
    const requests = await splitRequests(await readFixture(`${session.name}.c2s`));
    const responses = await splitResponses(await readFixture(`${session.name}.s2c`));
    assert.deepEqual(
      requests.map((r) => `${r.header.code}:${clientIdToHex(r.header.clientId).slice(0, 6)}`),
      session.requests,
    );
    assert.deepEqual(responses.map((r) => r.header.code), session.responses);

    const identity = parseMeInfo(await readFixtureText(session.identity));
    assert.equal(identity.name, "Golden User");
    const decodedRequests: Request[] = requests.map((r) => decodeRequest(r.header.code, r.payload));
    const decodedResponses: Response[] = responses.map((r) =>
      decodeResponse(r.header.code, r.payload)
    );
    for (const request of decodedRequests) {
      if ("name" in request) assert.equal(request.name, "Golden User");
    }

    // The upload and everything after it carry the identity's id, and so does
    // every response that has an id.
    const idHex = clientIdToHex(identity.clientId);
    for (const request of requests.slice(-2)) {
      assert.equal(clientIdToHex(request.header.clientId), idHex);
    }
    for (const request of requests) assert.equal(request.header.version, 3);
    for (const response of decodedResponses) {
      if ("clientId" in response && response.clientId) {
        assert.equal(clientIdToHex(response.clientId), idHex);
      }
    }

    // The AES key unwraps with the recorded private key.
    const keyResponse = decodedResponses.find((r) => r.code === 1602 || r.code === 1605);
    assert.ok(keyResponse && "wrappedKey" in keyResponse);
    const privateKey = await importPrivateKey(identity.privateKeyDer);
    const aesKey = await importAesKey(await unwrapAesKey(privateKey, keyResponse.wrappedKey));

    // The content decrypts to the source file; trailer and 1603 agree with it.
    const upload = requests.find((r) => r.header.code === 828) as RecordedRequest;
    assert.equal(upload.header.payloadSize, 0);
    const source = await readFixture(session.source);
    const first = upload.packets[0]!.header;
    assert.equal(first.originalSize, source.length);
    upload.packets.forEach((packet, i) => {
      assert.equal(packet.header.packetNumber, i);
      assert.equal(packet.header.totalPackets, upload.packets.length);
      assert.equal(packet.header.contentSize, first.contentSize);
      assert.equal(decodeFileNameField(packet.header.fileNameField), session.source);
    });
    const content = upload.content;
    assert.equal(content.length, first.contentSize);
    const plain = await aesDecrypt(aesKey, content.subarray(0, content.length - 4));
    assert.ok(bytesEqual(plain, source), "decrypted content equals the source file");
    assert.equal(trailer(content), cksum(source));
    const received = decodedResponses.find((r) => r.code === 1603);
    assert.ok(received && received.code === 1603);
    assert.equal(received.cksum, cksum(source));
    assert.equal(received.contentSize, first.contentSize);
    assert.equal(decodeFileNameField(received.fileNameField), session.source);
  });
}

Deno.test("golden s3-restart: the reference's 1606 is text", async () => {
  const responses = await splitResponses(await readFixture("s3-restart.s2c"));
  const denied = decodeResponse(responses[0]!.header.code, responses[0]!.payload);
  assert.deepEqual(denied, {
    code: 1606,
    text: "Sign in failed for 'Golden User'. Please register.",
  });
});
