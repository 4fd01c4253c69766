/**
 * Issue 22, points 1, 2 and 4: the dialect codecs on their own. The
 * per-packet reading rule serves every variant by rule (chunk size,
 * numbering base, a zero-padded last chunk, an empty last packet, the u16
 * fields' wrap), and refuses what no client sends; recognition follows the
 * first request's code and the first 828's payload size; the whole-file
 * heads, the family C payload sizes, the answers' shapes, key sizes and the
 * ids the server issues.
 */

import assert from "node:assert/strict";
import {
  cipherSizeFor,
  decodePacketHeader,
  encodeFileNameField,
  generateRsaKeyPair,
  importPublicKey,
  ProtocolError,
} from "../protocol/mod.ts";
import {
  bdDecision,
  cVerdictPayloadSize,
  decodeBUploadHead,
  decodeCUploadHead,
  decodeDialectRequest,
  decodeDialectResponse,
  DIALECTS,
  encodeBUpload,
  encodeCUpload,
  encodeDialectRequest,
  encodeDialectResponse,
  encodePerPacketUpload,
  FAMILIES,
  FAMILY_TABLES,
  familyAUploadOf,
  familyOfDialect,
  familyOfFirstRequest,
  generateDialectAesKey,
  isIssuableClientId,
  issueClientId,
  MAX_PACKET_CHUNK,
  parseDialect,
  type PerPacketLayout,
  PerPacketUpload,
  planPayload,
  unwrapDialectAesKey,
  wrapDialectAesKey,
} from "../protocol/dialects/mod.ts";

const NAME = encodeFileNameField("f.bin");
const ID = new Uint8Array(16).fill(7);

/** Reads frames made by encodePerPacketUpload back with PerPacketUpload; returns the content. */
function readBack(frames: Uint8Array[], maxFileSize = 1 << 30): Uint8Array {
  const first = frames[0]!;
  const payloadSize = new DataView(first.buffer).getUint32(19, true);
  const upload = new PerPacketUpload(
    decodePacketHeader(first.subarray(23)),
    payloadSize,
    maxFileSize,
  );
  const content = new Uint8Array(upload.contentSize);
  let at = 0;
  for (const frame of frames) {
    const size = new DataView(frame.buffer).getUint32(19, true);
    const { take, skip } = upload.accept(decodePacketHeader(frame.subarray(23)), size);
    assert.equal(take + skip, size - 267);
    content.set(frame.subarray(290, 290 + take), at);
    at += take;
  }
  assert.ok(upload.done);
  return content;
}

Deno.test("per packet: every client variant is read by rule", async (t) => {
  const layouts: [string, PerPacketLayout][] = [
    ["reefjo: A, 8192, from 1", { code: 828, chunkSize: 8192, base: 1 }],
    ["ayala: A, 4096, from 1", { code: 828, chunkSize: 4096, base: 1 }],
    ["A, 1024, from 0", { code: 828, chunkSize: 1024, base: 0 }],
    ["A, 1024, padded last chunk", { code: 828, chunkSize: 1024, base: 1, paddedLast: true }],
    ["A, 680, from 0, padded", { code: 828, chunkSize: 680, base: 0, paddedLast: true }],
    ["D: 1024, from 1, empty last packet", {
      code: 1028,
      chunkSize: 1024,
      base: 1,
      emptyLast: true,
    }],
  ];
  // 1 byte; just under, at and just over a multiple of every chunk; 3 MB.
  const sizes = [0, 1, 15, 1023, 1024 * 8 - 1, 8192 * 3 - 16, 100_000, 3_000_000];
  for (const [label, layout] of layouts) {
    await t.step(label, () => {
      for (const size of sizes) {
        const cipher = new Uint8Array(cipherSizeFor(size));
        for (let i = 0; i < cipher.length; i++) cipher[i] = (i * 13 + 5) & 0xff;
        const frames = encodePerPacketUpload(ID, cipher, size, NAME, layout);
        assert.deepEqual(readBack(frames), cipher, `size ${size}`);
      }
    });
  }
});

Deno.test("per packet: a multiple of the chunk with an empty last packet ends one packet later", () => {
  const cipher = new Uint8Array(2048);
  const frames = encodePerPacketUpload(ID, cipher, 2047, NAME, {
    code: 1028,
    chunkSize: 1024,
    base: 1,
    emptyLast: true,
  });
  assert.equal(frames.length, 3);
  assert.equal(frames[2]!.length, 23 + 267);
  const upload = new PerPacketUpload(decodePacketHeader(frames[0]!.subarray(23)), 1291, 1 << 30);
  assert.equal(upload.totalPackets, 3);
  upload.accept(decodePacketHeader(frames[0]!.subarray(23)), 1291);
  upload.accept(decodePacketHeader(frames[1]!.subarray(23)), 1291);
  assert.equal(upload.received, 2048);
  assert.equal(upload.done, false, "complete content, but one packet is still to come");
  assert.deepEqual(upload.accept(decodePacketHeader(frames[2]!.subarray(23)), 267), {
    take: 0,
    skip: 0,
  });
  assert.ok(upload.done);
});

Deno.test("per packet: the u16 number and total wrap at 65536 packets", () => {
  // 65 600 packets of 16 bytes: headers only, no chunk bytes needed.
  const count = 65_600;
  const c = count * 16;
  const header = (n: number) => ({
    contentSize: c,
    originalSize: c - 1,
    packetNumber: n & 0xffff,
    totalPackets: count & 0xffff,
    fileNameField: NAME,
  });
  const upload = new PerPacketUpload(header(1), 267 + 16, 1 << 30);
  assert.equal(upload.totalPackets, count);
  for (let i = 0; i < count; i++) upload.accept(header(1 + i), 267 + 16);
  assert.ok(upload.done);
});

Deno.test("per packet: what no client sends is refused", async (t) => {
  const c = 4096 * 2 + 16;
  const good = {
    contentSize: c,
    originalSize: c - 5,
    packetNumber: 1,
    totalPackets: 3,
    fileNameField: NAME,
  };
  const start = (first = good, size = 267 + 4096) => new PerPacketUpload(first, size, 1 << 30);
  const cases: [string, () => unknown][] = [
    ["first packet numbered 2", () => start({ ...good, packetNumber: 2 })],
    [
      "content size not the cipher of the original size",
      () => start({ ...good, contentSize: c + 16 }),
    ],
    ["original size over the limit", () => new PerPacketUpload(good, 267 + 4096, 100)],
    ["a total the count does not give", () => start({ ...good, totalPackets: 4 })],
    ["an empty first chunk", () => start(good, 267)],
    [
      `a chunk over ${MAX_PACKET_CHUNK} bytes`,
      () => start({ ...good, totalPackets: 1 }, 267 + MAX_PACKET_CHUNK + 16),
    ],
    ["a packet out of order", () => start().accept({ ...good, packetNumber: 2 }, 267 + 4096)],
    [
      "a packet with another name",
      () => start().accept({ ...good, fileNameField: encodeFileNameField("g.bin") }, 267 + 4096),
    ],
    [
      "a packet with other sizes",
      () => start().accept({ ...good, originalSize: c - 6 }, 267 + 4096),
    ],
    ["a short chunk before the last", () => {
      const upload = start();
      upload.accept(good, 267 + 4096);
      upload.accept({ ...good, packetNumber: 2 }, 267 + 4000);
    }],
    ["a chunk longer than the first", () => {
      const upload = start();
      upload.accept(good, 267 + 4096);
      upload.accept({ ...good, packetNumber: 2 }, 267 + 4097);
    }],
    ["a last chunk too short for the content", () => {
      const upload = start();
      upload.accept(good, 267 + 4096);
      upload.accept({ ...good, packetNumber: 2 }, 267 + 4096);
      upload.accept({ ...good, packetNumber: 3 }, 267 + 8);
    }],
    ["a packet after the last", () => {
      const upload = start();
      upload.accept(good, 267 + 4096);
      upload.accept({ ...good, packetNumber: 2 }, 267 + 4096);
      upload.accept({ ...good, packetNumber: 3 }, 267 + 16);
      upload.accept({ ...good, packetNumber: 4 }, 267 + 16);
    }],
  ];
  for (const [label, run] of cases) {
    await t.step(label, () => assert.throws(run, ProtocolError));
  }
});

Deno.test("recognition: the first request's code, then the first 828's payload size", async (t) => {
  const first: [number, string][] = [
    [825, "A"],
    [827, "A"],
    [1025, "B or D"],
    [1027, "B or D"],
    [1100, "C"],
    [1101, "C"],
    // Anything else stays the reference's business, answered as it always was.
    [826, "A"],
    [850, "A"],
    [1026, "A"],
    [1103, "A"],
    [0, "A"],
  ];
  for (const [code, family] of first) {
    await t.step(`first request ${code}: ${family}`, () => {
      assert.equal(familyOfFirstRequest(code), family);
    });
  }
  await t.step("first 828: 0 reference, 267 and more per packet, 1-266 refused", () => {
    assert.equal(familyAUploadOf(0), "reference");
    assert.equal(familyAUploadOf(267), "per-packet");
    assert.equal(familyAUploadOf(8459), "per-packet");
    for (const size of [1, 100, 266]) assert.throws(() => familyAUploadOf(size), ProtocolError);
  });
  await t.step("a per-packet connection's 828 of size 0 is refused, and the reverse", () => {
    const header = (payloadSize: number) => ({ clientId: ID, version: 3, code: 828, payloadSize });
    assert.throws(() => planPayload("A", header(0), "per-packet"), ProtocolError);
    assert.throws(() => planPayload("A", header(1291), "reference"), ProtocolError);
    assert.deepEqual(planPayload("A", header(0)), { kind: "reference-upload" });
    assert.deepEqual(planPayload("A", header(1291)), { kind: "packet", chunkLength: 1024 });
  });
  await t.step("B or D: a repeat is B, anything else after a D answer is D", () => {
    const r = { code: 1027, payload: new Uint8Array(255).fill(66) };
    assert.equal(bdDecision(undefined, r), undefined);
    assert.equal(bdDecision(r, { ...r, payload: r.payload.slice() }), "B");
    assert.equal(bdDecision(r, { code: 1025, payload: r.payload }), "D");
    assert.equal(bdDecision(r, { code: 1027, payload: new Uint8Array(255).fill(67) }), "D");
  });
});

Deno.test("requests: sizes checked before reading, family C's verdicts read 271 whatever 0 or 271 says", async (t) => {
  const header = (code: number, payloadSize: number) => ({
    clientId: ID,
    version: 3,
    code,
    payloadSize,
  });
  await t.step("fixed sizes per family", () => {
    for (const family of FAMILIES) {
      const codes = FAMILY_TABLES[family].requests as Record<"register" | "publicKey", number>;
      assert.equal(
        (planPayload(family, header(codes.register, 255)) as { size: number }).size,
        255,
      );
      assert.equal(
        (planPayload(family, header(codes.publicKey, 415)) as { size: number }).size,
        415,
      );
      assert.throws(() => planPayload(family, header(codes.register, 256)), ProtocolError);
      assert.throws(() => planPayload(family, header(codes.publicKey, 0)), ProtocolError);
    }
    assert.deepEqual(planPayload("B", header(900, 255)), { kind: "unknown" });
  });
  await t.step("family C verdicts", () => {
    assert.equal(cVerdictPayloadSize(0), 271);
    assert.equal(cVerdictPayloadSize(271), 271);
    assert.throws(() => cVerdictPayloadSize(255), ProtocolError);
    const frame = encodeDialectRequest("C", ID, { meaning: "crcRetry", fileNameField: NAME }, 0);
    assert.equal(frame.length, 23 + 271);
    const plan = planPayload("C", header(1105, 0));
    assert.ok(plan.kind === "fixed");
    const request = decodeDialectRequest("C", plan.meaning, frame.subarray(23));
    assert.deepEqual(request, { meaning: "crcRetry", clientId: ID, fileNameField: NAME });
  });
  await t.step("names are checked", () => {
    assert.throws(() => decodeDialectRequest("B", "register", new Uint8Array(255)), ProtocolError);
    const bad = new Uint8Array(255).fill(0x41);
    bad[3] = 0x07;
    assert.throws(() => decodeDialectRequest("C", "register", bad), ProtocolError);
  });
});

Deno.test("whole-file heads: B counts the ciphertext, C counts it or not, limits before reading", async (t) => {
  const cipher = new Uint8Array(48);
  await t.step("B", () => {
    const frame = encodeBUpload(ID, cipher, NAME);
    const size = new DataView(frame.buffer).getUint32(19, true);
    assert.equal(size, 259 + 48);
    const head = decodeBUploadHead(size, frame.subarray(23, 23 + 259), 1000);
    assert.equal(head.contentSize, 48);
    assert.deepEqual(head.fileNameField, NAME);
    assert.throws(() => decodeBUploadHead(size + 1, frame.subarray(23, 282), 1000), ProtocolError);
    assert.throws(() => decodeBUploadHead(size, frame.subarray(23, 282), 20), ProtocolError);
  });
  for (const counted of [true, false]) {
    await t.step(`C, ciphertext ${counted ? "" : "not "}counted`, () => {
      const frame = encodeCUpload(ID, cipher, NAME, counted);
      const size = new DataView(frame.buffer).getUint32(19, true);
      assert.equal(size, counted ? 275 + 48 : 275);
      const head = decodeCUploadHead(size, frame.subarray(23, 298), 1000);
      assert.deepEqual(head, { clientId: ID, contentSize: 48, fileNameField: NAME, counted });
      assert.throws(() => decodeCUploadHead(300, frame.subarray(23, 298), 1000), ProtocolError);
    });
  }
  await t.step("content sizes that are not whole blocks", () => {
    for (const contentSize of [0, 15, 17]) {
      const head = new Uint8Array(259);
      new DataView(head.buffer).setUint32(0, contentSize, true);
      assert.throws(() => decodeBUploadHead(259 + contentSize, head, 1000), ProtocolError);
    }
  });
});

Deno.test("answers: the shapes every client of the family accepts", async (t) => {
  const key = new Uint8Array(128).fill(9);
  const cases: [string, Parameters<typeof encodeDialectResponse>, number, number][] = [
    ["A registered", ["A", { meaning: "registered", clientId: ID }], 1600, 16],
    ["A name taken: empty", ["A", { meaning: "registerFailed" }], 1601, 0],
    ["A refused reconnect: id", ["A", { meaning: "reconnectDenied", clientId: ID }], 1606, 16],
    ["A error: empty", ["A", { meaning: "generalError" }], 1607, 0],
    ["B key", ["B", { meaning: "keyAccepted", clientId: ID, wrappedKey: key }], 2102, 144],
    ["B ack: id", ["B", { meaning: "ack", clientId: ID }], 2104, 16],
    [
      "B reconnect",
      ["B", { meaning: "reconnectApproved", clientId: ID, wrappedKey: key }],
      2105,
      144,
    ],
    ["B refused reconnect", ["B", { meaning: "reconnectDenied", clientId: ID }], 2106, 16],
    ["C registered", ["C", { meaning: "registered", clientId: ID }], 2100, 16],
    ["C ack: empty", ["C", { meaning: "ack", clientId: ID }], 2104, 0],
    ["C error: empty", ["C", { meaning: "generalError" }], 2107, 0],
    [
      "D file received",
      ["D", {
        meaning: "fileReceived",
        clientId: ID,
        contentSize: 32,
        fileNameField: NAME,
        cksum: 7,
      }],
      1603,
      279,
    ],
  ];
  for (const [label, args, code, size] of cases) {
    await t.step(label, () => {
      const frame = encodeDialectResponse(...args);
      const view = new DataView(frame.buffer);
      assert.equal(view.getUint8(0), 3);
      assert.equal(view.getUint16(1, true), code);
      assert.equal(view.getUint32(3, true), size);
      assert.equal(frame.length, 7 + size);
      assert.equal(
        decodeDialectResponse(args[0], code, frame.subarray(7)).meaning,
        args[1].meaning,
      );
    });
  }
  await t.step("family C has no reconnect answer", () => {
    assert.throws(
      () => encodeDialectResponse("C", { meaning: "reconnectDenied", clientId: ID }),
      RangeError,
    );
  });
});

Deno.test("keys: 16 bytes for B and C, 32 for A and D, wrapped in 128 bytes", async () => {
  const keys = await generateRsaKeyPair();
  const publicKey = await importPublicKey(keys.publicKey);
  for (const family of FAMILIES) {
    const size = FAMILY_TABLES[family].aesKeySize;
    assert.equal(size, family === "B" || family === "C" ? 16 : 32);
    const raw = generateDialectAesKey(size);
    const wrapped = await wrapDialectAesKey(publicKey, raw);
    assert.equal(wrapped.length, 128);
    assert.deepEqual(await unwrapDialectAesKey(keys.privateKey, wrapped, size), raw);
    const other = size === 16 ? 32 : 16;
    await assert.rejects(() => unwrapDialectAesKey(keys.privateKey, wrapped, other), RangeError);
  }
});

Deno.test("client ids: issued without 0x00 bytes, never a pre-registration filler", () => {
  for (let i = 0; i < 2000; i++) {
    const id = issueClientId();
    assert.equal(id.length, 16);
    assert.ok(!id.includes(0));
  }
  for (const filler of [0x00, 0x30, 0x61, 0xaa]) {
    assert.equal(isIssuableClientId(new Uint8Array(16).fill(filler)), false);
  }
  const withZero = new Uint8Array(16).fill(5);
  withZero[7] = 0;
  assert.equal(isIssuableClientId(withZero), false);
});

Deno.test("dialect names: parsed for --dialects, each in its family", () => {
  assert.deepEqual(DIALECTS.map(familyOfDialect), ["A", "A", "B", "C", "D"]);
  assert.equal(parseDialect(" B "), "b");
  assert.equal(parseDialect("Reference"), "reference");
  assert.throws(() => parseDialect("e"), TypeError);
});
