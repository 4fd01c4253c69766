/**
 * The 828 packet encoder and decoder, against the recorded reference
 * sessions as the independent oracle: the decoder turns the recorded packet
 * streams into the content that decrypts to the source file, and the encoder
 * turns that content (built from the source file, the recorded key and
 * one-shot encryption) into the recorded bytes, whatever the piece and batch
 * sizes. Then every inconsistency a header can carry is refused, by name.
 */

import assert from "node:assert/strict";
import { type Writer } from "../common/write_all.ts";
import {
  aesEncrypt,
  bytesEqual,
  byteSourceOf,
  cksum,
  contentSizeFor,
  decodePacketHeader,
  decodeResponse,
  encodeFileNameField,
  ExactReader,
  importAesKey,
  importPrivateKey,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
  PacketDecoder,
  PacketEncoder,
  packetsSize,
  PacketWriter,
  parseMeInfo,
  ProtocolError,
  readRequestFrame,
  readResponseFrameOrEnd,
  RequestCode,
  unwrapAesKey,
  type UploadFields,
} from "../protocol/mod.ts";
import { readFixture, readFixtureText } from "./support/golden_session.ts";

const GOLDEN = [
  { name: "s1-register", identity: "s1-info.me", source: "sample.bin" },
  { name: "s2-reconnect", identity: "s1-info.me", source: "block16.bin" },
  { name: "s3-restart", identity: "s3-info.me", source: "sample.bin" },
] as const;

interface Recorded {
  /** The bytes of every packet of the 828 request, as recorded. */
  packets: Uint8Array;
  /** The content built independently: one-shot AES of the source file, then its cksum. */
  content: Uint8Array;
  source: Uint8Array;
}

/** Finds the recorded 828 packets with the frame readers, and rebuilds the content. */
async function recorded(session: typeof GOLDEN[number]): Promise<Recorded> {
  const c2s = await readFixture(`${session.name}.c2s`);
  const requests = new ExactReader(byteSourceOf(c2s));
  let packets: Uint8Array | undefined;
  for (let frame = await readRequestFrame(requests); frame !== null;) {
    if (frame.header.code === RequestCode.SendFile) {
      const firstBytes = await requests.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE);
      const size = packetsSize(decodePacketHeader(firstBytes).contentSize);
      packets = new Uint8Array(size);
      packets.set(firstBytes);
      await requests.readInto(packets.subarray(PACKET_HEADER_SIZE));
    }
    frame = await readRequestFrame(requests);
  }
  assert.ok(packets !== undefined, "the recording has an 828 request");

  const responses = new ExactReader(byteSourceOf(await readFixture(`${session.name}.s2c`)));
  let wrappedKey: Uint8Array | undefined;
  for (let frame = await readResponseFrameOrEnd(responses); frame !== null;) {
    const response = decodeResponse(frame.header.code, frame.payload);
    if ("wrappedKey" in response) wrappedKey = response.wrappedKey;
    frame = await readResponseFrameOrEnd(responses);
  }
  assert.ok(wrappedKey !== undefined, "the recording has a key exchange");
  const identity = parseMeInfo(await readFixtureText(session.identity));
  const raw = await unwrapAesKey(await importPrivateKey(identity.privateKeyDer), wrappedKey);
  const source = await readFixture(session.source);
  const cipher = await aesEncrypt(await importAesKey(raw), source);
  const content = new Uint8Array(cipher.length + 4);
  content.set(cipher);
  new DataView(content.buffer).setUint32(cipher.length, cksum(source), true);
  return { packets, content, source };
}

function fieldsOf(source: Uint8Array, name: string): UploadFields {
  return {
    contentSize: contentSizeFor(source.length),
    originalSize: source.length,
    fileNameField: encodeFileNameField(name),
  };
}

/** Decodes a whole packet stream in batches of `batch` packets. */
function decodeAll(
  packets: Uint8Array,
  batch: number,
): { decoder: PacketDecoder; cipher: Uint8Array } {
  const decoder = new PacketDecoder(decodePacketHeader(packets));
  const cipher = new Uint8Array(decoder.cipherSize);
  const content = new Uint8Array(decoder.contentBufferSize(batch));
  let offset = PACKET_HEADER_SIZE;
  let c = 0;
  while (!decoder.done) {
    const size = decoder.nextBatchSize(batch);
    const part = decoder.decodeBatch(packets.subarray(offset, offset + size), content);
    cipher.set(part, c);
    c += part.length;
    offset += size;
  }
  assert.equal(offset, packets.length, "every recorded byte was decoded");
  assert.equal(c, decoder.cipherSize);
  return { decoder, cipher };
}

for (const session of GOLDEN) {
  Deno.test(`golden ${session.name}: the decoder gives the recorded content`, async (t) => {
    const { packets, content, source } = await recorded(session);
    for (const batch of [1, 2, 3, 128]) {
      await t.step(`${batch} packets per batch`, () => {
        const { decoder, cipher } = decodeAll(packets, batch);
        assert.ok(bytesEqual(cipher, content.subarray(0, content.length - 4)));
        assert.equal(decoder.trailer, cksum(source));
        assert.equal(decoder.contentDecoded, content.length);
      });
    }
  });

  Deno.test(`golden ${session.name}: the encoder gives the recorded bytes`, async (t) => {
    const { packets, content, source } = await recorded(session);
    for (const [piece, out] of [[content.length, 1 << 20], [1, 300], [7925, 8192], [333, 4000]]) {
      await t.step(`content in pieces of ${piece}, output of ${out}`, () => {
        const encoder = new PacketEncoder(fieldsOf(source, session.source));
        const wire = new Uint8Array(packets.length);
        const buffer = new Uint8Array(out!);
        let w = 0;
        for (let offset = 0; offset < content.length;) {
          const { read, written } = encoder.encodeInto(
            content.subarray(offset, Math.min(offset + piece!, content.length)),
            buffer,
          );
          wire.set(buffer.subarray(0, written), w);
          w += written;
          offset += read;
        }
        encoder.finish();
        assert.equal(w, packets.length);
        assert.ok(bytesEqual(wire, packets), "the packets equal the recording");
      });
    }
  });

  Deno.test(`golden ${session.name}: the packet writer sends the recorded bytes`, async () => {
    const { packets, content, source } = await recorded(session);
    const sink = new ShortWriter(1000);
    const progress: number[] = [];
    const writer = new PacketWriter(sink, fieldsOf(source, session.source), {
      packetsPerWrite: 1,
      onWritten: (n) => progress.push(n),
    });
    for (let offset = 0; offset < content.length; offset += 5000) {
      await writer.append(content.slice(offset, offset + 5000));
    }
    await writer.end();
    assert.ok(bytesEqual(sink.bytes(), packets));
    assert.equal(progress.at(-1), content.length);
    assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]!));
  });
}

/** A writer that takes at most `step` bytes per call, like a busy socket. */
class ShortWriter implements Writer {
  parts: Uint8Array[] = [];
  constructor(private step: number) {}
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, this.step);
    this.parts.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.parts.flatMap((part) => [...part]));
  }
}

/** A valid packet stream of `size` content bytes, to corrupt. */
function packetStream(originalSize: number): { fields: UploadFields; wire: Uint8Array } {
  const fields: UploadFields = {
    contentSize: contentSizeFor(originalSize),
    originalSize,
    fileNameField: encodeFileNameField("f.bin"),
  };
  const wire = new Uint8Array(packetsSize(fields.contentSize));
  const content = new Uint8Array(fields.contentSize).map((_, i) => i & 0xff);
  new PacketEncoder(fields).encodeInto(content, wire);
  return { fields, wire };
}

Deno.test("the encoder and decoder agree across sizes and batch edges", async (t) => {
  for (const size of [0, 15, 16, 7904, 7905, 7920, 7921, 7922, 7923, 20_000, 1_100_000]) {
    await t.step(`${size} bytes`, () => {
      const { fields, wire } = packetStream(size);
      for (const batch of [1, 5, 128]) {
        const { decoder, cipher } = decodeAll(wire, batch);
        assert.equal(decoder.cipherSize, fields.contentSize - 4);
        assert.ok(cipher.every((b, i) => b === (i & 0xff)));
        const t = fields.contentSize - 4;
        const want = ((t & 0xff) | ((t + 1) & 0xff) << 8 | ((t + 2) & 0xff) << 16) +
          ((t + 3) & 0xff) * 2 ** 24;
        assert.equal(decoder.trailer, want, "the trailer is the last 4 content bytes");
      }
    });
  }
});

Deno.test("the decoder names every inconsistent packet header", async (t) => {
  const cases: Array<[string, (header: Uint8Array) => void, RegExp]> = [
    ["a wrong packet number", (h) => h[8] = 5, /packet 1: its number is 5, expected 1/],
    ["a wrong total", (h) => h[10] = 9, /packet 1: its total is 9, expected 3/],
    ["a wrong content size", (h) => h[0]! ^= 1, /packet 1: its content size is/],
    ["a wrong original size", (h) => h[4]! ^= 1, /packet 1: its original size is/],
    ["another file name", (h) => h[12] = 0x67, /packet 1: its file name differs/],
  ];
  for (const [what, corrupt, message] of cases) {
    await t.step(what, () => {
      const { wire } = packetStream(20_000);
      corrupt(wire.subarray(PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE));
      assert.throws(() => decodeAll(wire, 128), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

Deno.test("the decoder refuses a first header that does not describe an upload", async (t) => {
  const cases: Array<[string, (header: Uint8Array) => void, RegExp]> = [
    ["packet number not 0", (h) => h[8] = 1, /packet 0: its number is 1/],
    ["content size not the original's", (h) => h[0]! ^= 16, /content size .* does not match/],
    ["total not the content's", (h) => h[10] = 1, /total packets 1 does not match/],
  ];
  for (const [what, corrupt, message] of cases) {
    await t.step(what, () => {
      const { wire } = packetStream(20_000);
      corrupt(wire);
      assert.throws(() => new PacketDecoder(decodePacketHeader(wire)), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, message);
        return true;
      });
    });
  }
  await t.step("over the size limit", () => {
    const { wire } = packetStream(20_000);
    assert.throws(
      () => new PacketDecoder(decodePacketHeader(wire), 19_999),
      /original size 20000 is over the limit of 19999 bytes/,
    );
  });
});

Deno.test("the encoder refuses more or less content than announced", () => {
  const fields = packetStream(100).fields;
  const out = new Uint8Array(1 << 16);
  const encoder = new PacketEncoder(fields);
  encoder.encodeInto(new Uint8Array(fields.contentSize - 1), out);
  assert.throws(() => encoder.finish(), RangeError);
  assert.throws(() => encoder.encodeInto(new Uint8Array(2), out), /more content than/);
});

Deno.test("the packet writer waits for a failed write and reports it", async () => {
  const fields = packetStream(3_000_000).fields;
  const failing: Writer = { write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")) };
  const writer = new PacketWriter(failing, fields);
  await assert.rejects(
    async () => {
      for (let i = 0; i < 4; i++) await writer.append(new Uint8Array(1 << 20));
    },
    Deno.errors.BrokenPipe,
  );
  await writer.abandon();
});
