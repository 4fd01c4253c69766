/**
 * Issue 22, point 4: the recorded conversations of five clients of the other
 * dialects with their own servers (`fixtures/dialects/`, copied from
 * `../shared/dialects/captures/`), parsed with the dialect codecs the server
 * uses: every request and answer is found where the specification says,
 * every byte is accounted for, and our encoders rebuild the recorded
 * answers byte for byte.
 */

import assert from "node:assert/strict";
import { decodePacketHeader, ProtocolError } from "../protocol/mod.ts";
import {
  bdDecision,
  decodeBUploadHead,
  decodeDialectResponse,
  encodeDialectResponse,
  type Family,
  familyAUploadOf,
  familyOfFirstRequest,
  PerPacketUpload,
  planPayload,
  requestMeaning,
} from "../protocol/dialects/mod.ts";
import {
  type CapturedRequest,
  readCapture,
  splitDialectRequests,
  splitResponses,
} from "./support/dialect_capture.ts";

interface Capture {
  client: string;
  family: Family;
  firstFamily: "A" | "B or D" | "C";
  filler: number;
  name: string;
  upload:
    | { kind: "packet"; chunk: number; packets: number; base: number; last: number }
    | { kind: "whole-file"; counted: boolean };
  cksum: number;
  /** Bytes the recorded server sent past its last answer (a bug of that server). */
  trailing: number;
}

const CAPTURES: Capture[] = [
  {
    client: "reefjo",
    family: "A",
    firstFamily: "A",
    filler: 0x61,
    name: "San reefjo owntap",
    upload: { kind: "packet", chunk: 8192, packets: 13, base: 1, last: 1712 },
    cksum: 2664256505,
    trailing: 0,
  },
  {
    client: "ayala",
    family: "A",
    firstFamily: "A",
    filler: 0x00,
    name: "San ayala owntap",
    upload: { kind: "packet", chunk: 4096, packets: 25, base: 1, last: 1712 },
    cksum: 2349231306,
    trailing: 0,
  },
  {
    client: "b0rik",
    family: "B",
    firstFamily: "B or D",
    filler: 0xaa,
    name: "San b0rik owntap",
    upload: { kind: "whole-file", counted: true },
    cksum: 1105582614,
    trailing: 0,
  },
  {
    client: "aviv",
    family: "C",
    firstFamily: "C",
    filler: 0x00,
    name: "San aviv owntap",
    upload: { kind: "whole-file", counted: false },
    cksum: 1395755829,
    trailing: 0,
  },
  {
    client: "h3ngo1u",
    family: "D",
    firstFamily: "B or D",
    filler: 0x30,
    name: "San h3ngo1u owntap",
    upload: { kind: "packet", chunk: 1024, packets: 98, base: 1, last: 688 },
    cksum: 962231060,
    trailing: 255,
  },
];

const C = 100_016;
const FILE_NAME = "f100k.bin";

function fileNameOf(field: Uint8Array): string {
  return new TextDecoder().decode(field.subarray(0, field.indexOf(0)));
}

function checkUpload(capture: Capture, uploads: CapturedRequest[]): Uint8Array {
  if (capture.upload.kind === "whole-file") {
    assert.equal(uploads.length, 1);
    const upload = uploads[0]!;
    assert.ok(upload.kind === "whole-file");
    assert.equal(upload.upload.contentSize, C);
    assert.equal(upload.cipher.length, C);
    assert.equal(fileNameOf(upload.upload.fileNameField), FILE_NAME);
    const counted = upload.header.payloadSize !== 275;
    assert.equal(counted, capture.upload.counted);
    return upload.upload.fileNameField;
  }
  const { chunk, packets, base, last } = capture.upload;
  assert.equal(uploads.length, packets);
  const first = uploads[0]!;
  assert.ok(first.kind === "packet");
  if (capture.family === "A") assert.equal(familyAUploadOf(first.header.payloadSize), "per-packet");
  const reading = new PerPacketUpload(first.packet, first.header.payloadSize, 1 << 30);
  assert.equal(reading.base, base);
  assert.equal(reading.chunkSize, chunk);
  assert.equal(reading.totalPackets, packets);
  for (const [i, packet] of uploads.entries()) {
    assert.ok(packet.kind === "packet");
    const plan = reading.accept(packet.packet, packet.header.payloadSize);
    assert.deepEqual(plan, { take: i === packets - 1 ? last : chunk, skip: 0 });
  }
  assert.ok(reading.done);
  assert.equal(reading.received, C);
  assert.equal(reading.contentSize, C);
  return first.packet.fileNameField;
}

Deno.test("dialect captures: requests and answers parse as the specification says", async (t) => {
  for (const capture of CAPTURES) {
    await t.step(`${capture.client} (family ${capture.family})`, async () => {
      const c2s = await readCapture(capture.client, "1.c2s");
      const s2c = await readCapture(capture.client, "1.s2c");
      const requests = await splitDialectRequests(c2s, capture.family);
      const last = requests.at(-1)!;
      assert.equal(
        last.offset + 23 + (last.kind === "fixed" ? (capture.family === "C" ? 271 : 255) : 0),
        c2s.length,
        "every byte of the client is one request's",
      );

      const [register, publicKey, ...rest] = requests;
      assert.ok(register !== undefined && publicKey !== undefined);
      assert.equal(familyOfFirstRequest(register.header.code), capture.firstFamily);
      assert.ok(register.header.clientId.every((b) => b === capture.filler));
      assert.ok(register.kind === "fixed" && register.request.meaning === "register");
      assert.equal(register.request.name, capture.name);
      assert.ok(publicKey.kind === "fixed" && publicKey.request.meaning === "publicKey");
      const key = publicKey.request.publicKey;
      assert.equal(key.length, 160);
      assert.deepEqual([...key.subarray(0, 4)], [0x30, 0x81, 0x9d, 0x30]);
      assert.deepEqual([...key.subarray(157)], [0x02, 0x01, 0x11]);

      const verdict = rest.at(-1)!;
      assert.ok(verdict.kind === "fixed" && verdict.request.meaning === "crcOk");
      const nameField = checkUpload(capture, rest.slice(0, -1));
      assert.equal(fileNameOf(verdict.request.fileNameField), FILE_NAME);

      const end = s2c.length - capture.trailing;
      const responses = splitResponses(s2c, end);
      const meanings = responses.map((r) => {
        const decoded = decodeDialectResponse(capture.family, r.header.code, r.payload);
        assert.deepEqual(encodeDialectResponse(capture.family, decoded), r.bytes);
        return decoded;
      });
      assert.deepEqual(meanings.map((m) => m.meaning), [
        "registered",
        "keyAccepted",
        "fileReceived",
        "ack",
      ]);
      assert.ok(responses.every((r) => r.header.version === 3));
      const registered = meanings[0]!;
      assert.ok(registered.meaning === "registered");
      const id = registered.clientId;
      for (const request of requests.slice(1)) assert.deepEqual(request.header.clientId, id);
      if (verdict.request.meaning === "crcOk" && verdict.request.clientId !== undefined) {
        assert.deepEqual(verdict.request.clientId, id);
      }
      const received = meanings[2]!;
      assert.ok(received.meaning === "fileReceived");
      assert.equal(received.contentSize, C, "content size = c, no trailer");
      assert.deepEqual(received.fileNameField, nameField, "the name field echoed");
      assert.equal(received.cksum, capture.cksum);
      if (capture.trailing > 0) {
        // h3ngo1u's server sends the file name field after its 1604, uncounted.
        assert.deepEqual(s2c.subarray(end), nameField);
      }
    });
  }
});

Deno.test("dialect captures: B and D part at the first 1028, each refusing the other's", async () => {
  const b = await splitDialectRequests(await readCapture("b0rik", "1.c2s"), "B");
  const d = await splitDialectRequests(await readCapture("h3ngo1u", "1.c2s"), "D");
  // The first two requests are laid out alike: only the repeat decides.
  for (const requests of [b, d]) {
    assert.equal(requests[0]!.header.code, 1025);
    assert.equal(requests[1]!.header.code, 1026);
    assert.equal(requests[0]!.header.payloadSize, 255);
    assert.equal(requests[1]!.header.payloadSize, 415);
  }
  const bUpload = b[2]!;
  const dUpload = d[2]!;
  // A D packet read as a B upload: its head's content size is not the payload's.
  assert.ok(dUpload.kind === "packet");
  const dHead = await readCapture("h3ngo1u", "1.c2s");
  const head = dHead.subarray(dUpload.offset + 23, dUpload.offset + 23 + 259);
  assert.throws(() => decodeBUploadHead(dUpload.header.payloadSize, head, 1 << 30), ProtocolError);
  // A B upload read as a D packet: a 100 008-byte chunk is over the limit.
  assert.ok(bUpload.kind === "whole-file");
  const plan = planPayload("D", bUpload.header);
  assert.ok(plan.kind === "packet");
  const bBytes = await readCapture("b0rik", "1.c2s");
  const asPacket = decodePacketHeader(bBytes.subarray(bUpload.offset + 23));
  assert.throws(
    () => new PerPacketUpload(asPacket, bUpload.header.payloadSize, 1 << 30),
    ProtocolError,
  );
  // Their register requests, repeated, make B; a 1026 after the answer makes D.
  const register = { code: 1025, payload: bBytes.subarray(23, 278) };
  assert.equal(bdDecision(register, register), "B");
  assert.equal(bdDecision(register, { code: 1026, payload: bBytes.subarray(301, 716) }), "D");
  assert.equal(requestMeaning("B", 1028), "sendFile");
});

Deno.test("dialect captures: the uncounted 1103 of family C is read as 275 bytes and the ciphertext", async () => {
  const c2s = await readCapture("aviv", "1.c2s");
  const requests = await splitDialectRequests(c2s, "C");
  const upload = requests[2]!;
  assert.ok(upload.kind === "whole-file");
  assert.equal(upload.header.payloadSize, 275);
  assert.equal(upload.offset, 716);
  assert.equal(requests[3]!.offset, 101_030, "the 1104 starts after the uncounted ciphertext");
  assert.equal(requests[3]!.header.payloadSize, 271);
});
