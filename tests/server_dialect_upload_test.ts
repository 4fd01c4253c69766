/**
 * Issue 22, points 2 and 3: the dialect upload pipeline on its own, from
 * bytes to staged file: every framing (one request per packet in each
 * variant, the whole file counted or not), the sizes at the edges, the
 * padding as the only integrity check, packets that do not continue the
 * upload, and an upload refused at admission read to its end.
 */

import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import {
  aesEncrypt,
  byteSourceOf,
  cipherSizeFor,
  cksum,
  decodePacketHeader,
  decodeRequestHeader,
  encodeFileNameField,
  ExactReader,
  ProtocolError,
} from "../protocol/mod.ts";
import {
  C_UPLOAD_HEAD_SIZE,
  decodeCUploadHead,
  encodeBUpload,
  encodeCUpload,
  encodePerPacketUpload,
  generateDialectAesKey,
  importDialectAesKey,
  type PerPacketLayout,
  PerPacketUpload,
} from "../protocol/dialects/mod.ts";
import { BufferBudget } from "../server/upload/buffer_budget.ts";
import {
  type CipherSource,
  PacketSource,
  receiveDialectUpload,
  WholeFileSource,
} from "../server/upload/dialect_upload.ts";
import { UploadRefusedError } from "../server/upload/upload.ts";
import { LocalFileStore } from "../server/storage/file_store_local.ts";
import { concat } from "../harness/bytes.ts";
import { randomBytes } from "../harness/raw_client.ts";

const ID = new Uint8Array(16).fill(9);
const NAME = encodeFileNameField("f.bin");
const logger = getLogger(["test"]);

/** The reader positioned after a per-packet upload's first request header, and its source. */
async function packetSource(wire: Uint8Array, code: number) {
  const reader = new ExactReader(byteSourceOf(wire));
  const header = decodeRequestHeader(await reader.readExact(23, 23));
  const packet = decodePacketHeader(await reader.readExact(267, 267));
  const upload = new PerPacketUpload(packet, header.payloadSize, 1 << 30);
  const first = upload.accept(packet, header.payloadSize);
  return {
    reader,
    source: new PacketSource(reader, upload, first, code, ID),
    originalSize: packet.originalSize,
  };
}

async function withStore(fn: (store: LocalFileStore) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "dialect_upload_" });
  try {
    await fn(await LocalFileStore.open(root));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function receive(
  store: LocalFileStore,
  source: CipherSource,
  key: CryptoKey,
  originalSize?: number,
  admit?: () => Promise<string | undefined>,
) {
  return await receiveDialectUpload({
    source,
    clientId: ID,
    aesKey: key,
    fileNameField: NAME,
    fileName: "f.bin",
    ...(originalSize === undefined ? {} : { originalSize }),
    store,
    buffers: new BufferBudget(8 * 1024 * 1024),
    logger,
    ...(admit === undefined ? {} : { admit }),
  });
}

async function stagedBytes(store: LocalFileStore, staged: { commit(): Promise<void> }) {
  await staged.commit();
  const path = `${store.root}/${
    [...ID].map((b) => b.toString(16).padStart(2, "0")).join("")
  }/f.bin`;
  return await Deno.readFile(path);
}

Deno.test("dialect upload: every framing and size is staged byte for byte", async (t) => {
  const layouts: [string, PerPacketLayout][] = [
    ["A 8192 from 1", { code: 828, chunkSize: 8192, base: 1 }],
    ["A 1024 from 0, padded", { code: 828, chunkSize: 1024, base: 0, paddedLast: true }],
    ["D 1024 from 1, empty last", { code: 1028, chunkSize: 1024, base: 1, emptyLast: true }],
  ];
  // 1 byte, an exact multiple of 1024 of ciphertext, and 3 MB.
  const sizes = [1, 1023, 2047, 3_000_000];
  await withStore(async (store) => {
    for (const [label, layout] of layouts) {
      await t.step(label, async () => {
        const raw = generateDialectAesKey(32);
        const key = await importDialectAesKey(raw);
        for (const size of sizes) {
          const data = randomBytes(size);
          const cipher = await aesEncrypt(key, data);
          const wire = concat([
            ...encodePerPacketUpload(ID, cipher, size, NAME, layout),
            new Uint8Array([0xee]),
          ]);
          const { reader, source, originalSize } = await packetSource(wire, layout.code);
          const result = await receive(store, source, key, originalSize);
          assert.equal(result.refusal, undefined, `${label} ${size}`);
          assert.equal(result.cksum, cksum(data));
          assert.equal(result.contentSize, cipherSizeFor(size));
          assert.deepEqual(await stagedBytes(store, result.staged!), data);
          // Every byte of the upload was read, and not one more.
          assert.deepEqual(await reader.readExact(1, 1), new Uint8Array([0xee]));
        }
      });
    }
    for (const counted of [true, false, undefined]) {
      const label = counted === undefined ? "B" : `C, counted ${counted}`;
      await t.step(label, async () => {
        const key = await importDialectAesKey(generateDialectAesKey(16));
        for (const size of [0, 1, 16, 1023, 3_000_000]) {
          const data = randomBytes(size);
          const cipher = await aesEncrypt(key, data);
          const frame = counted === undefined
            ? encodeBUpload(ID, cipher, NAME)
            : encodeCUpload(ID, cipher, NAME, counted);
          const head = counted === undefined ? 23 + 259 : 23 + C_UPLOAD_HEAD_SIZE;
          const reader = new ExactReader(byteSourceOf(concat([frame, new Uint8Array([7])])));
          await reader.readExact(head, head);
          const result = await receive(store, new WholeFileSource(reader, cipher.length), key);
          assert.equal(result.refusal, undefined);
          assert.equal(result.originalSize, size, "the size the padding leaves");
          assert.equal(result.cksum, cksum(data));
          assert.deepEqual(await stagedBytes(store, result.staged!), data);
          assert.deepEqual(await reader.readExact(1, 1), new Uint8Array([7]));
        }
      });
    }
  });
});

Deno.test("dialect upload: under another key the padding gives it away: not kept, a cksum no client takes", async () => {
  await withStore(async (store) => {
    const data = randomBytes(5000);
    const cipher = await aesEncrypt(await importDialectAesKey(generateDialectAesKey(16)), data);
    const other = await importDialectAesKey(generateDialectAesKey(16));
    const frame = encodeCUpload(ID, cipher, NAME, false);
    const head = decodeCUploadHead(275, frame.subarray(23, 298), 1 << 20);
    const reader = new ExactReader(byteSourceOf(frame.subarray(298)));
    const result = await receive(store, new WholeFileSource(reader, head.contentSize), other);
    // 1 in 256 wrong keys end in a valid 0x01 pad; then the cksum cannot match anyway.
    if (result.refusal !== undefined) {
      assert.equal(result.staged, undefined);
      assert.equal(result.trailer, result.cksum);
    }
    assert.notEqual(result.cksum, cksum(data));
    assert.deepEqual([...Deno.readDirSync(store.root)].filter((e) => e.isFile), []);
  });
});

Deno.test("dialect upload: packets that do not continue the upload are protocol errors", async (t) => {
  const key = await importDialectAesKey(generateDialectAesKey(32));
  const cipher = await aesEncrypt(key, randomBytes(5000));
  const layout: PerPacketLayout = { code: 1028, chunkSize: 1024, base: 1 };
  const cases: [string, (frames: Uint8Array[]) => void][] = [
    ["another client's id", (f) => f[2]!.set(new Uint8Array(16).fill(1), 0)],
    ["another code", (f) => new DataView(f[2]!.buffer).setUint16(17, 1029, true)],
    ["a payload size over the limit", (f) => new DataView(f[2]!.buffer).setUint32(19, 70000, true)],
    ["a packet out of order", (f) => new DataView(f[2]!.buffer).setUint16(31, 9, true)],
  ];
  await withStore(async (store) => {
    for (const [label, corrupt] of cases) {
      await t.step(label, async () => {
        const frames = encodePerPacketUpload(ID, cipher, 5000, NAME, layout);
        corrupt(frames);
        const { source, originalSize } = await packetSource(concat(frames), 1028);
        await assert.rejects(() => receive(store, source, key, originalSize), ProtocolError);
      });
    }
  });
});

Deno.test("dialect upload: refused at admission, it is read to its end and nothing is staged", async () => {
  await withStore(async (store) => {
    const key = await importDialectAesKey(generateDialectAesKey(32));
    const cipher = await aesEncrypt(key, randomBytes(300_000));
    const layout: PerPacketLayout = { code: 828, chunkSize: 4096, base: 1 };
    const wire = concat([
      ...encodePerPacketUpload(ID, cipher, 300_000, NAME, layout),
      new Uint8Array([5]),
    ]);
    const { reader, source, originalSize } = await packetSource(wire, 828);
    await assert.rejects(
      () => receive(store, source, key, originalSize, () => Promise.resolve("over the limit")),
      UploadRefusedError,
    );
    assert.deepEqual(await reader.readExact(1, 1), new Uint8Array([5]));
  });
});
