/**
 * The streamed 828 send, into memory: the packets are exactly the framing of
 * docs/protocol.md §5 (one-shot encryption, trailer, 7925-byte chunks, 0-based
 * numbers), across the batch boundaries; and a file that changes while it is
 * read is refused.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  aesEncrypt,
  bytesEqual,
  byteSourceOf,
  cksum,
  decodePacketHeader,
  ExactReader,
  generateAesKey,
  importAesKey,
  PACKET_HEADER_SIZE,
  PacketDecoder,
  type PacketHeader,
  readRequestFrame,
  RequestCode,
} from "../protocol/mod.ts";
import { ClientError, ExitCode } from "../client/client_error.ts";
import { sendFile } from "../client/upload.ts";
import { checkUploadFile } from "../client/upload_file.ts";
import { patternBytes } from "./support/client_process.ts";
import { concat } from "../harness/bytes.ts";

class MemoryWriter {
  parts: Uint8Array[] = [];
  write(p: Uint8Array): Promise<number> {
    // Accept at most 5000 bytes per call, like a busy socket.
    const n = Math.min(p.length, 5000);
    this.parts.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  bytes(): Uint8Array {
    return concat(this.parts);
  }
}

const ID = new Uint8Array(16).fill(9);

for (const size of [0, 1, 15, 16, 17, 7925, 7926, 1024 * 1024 - 1, 1024 * 1024 + 17, 3_000_001]) {
  Deno.test(`sendFile frames a ${size}-byte file as docs/protocol.md says`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "client-upload-" });
    try {
      const plain = patternBytes(size, size + 3);
      await Deno.writeFile(join(dir, "f.bin"), plain);
      const file = await checkUploadFile(dir, "f.bin", "transfer.info");
      const raw = generateAesKey();
      const key = await importAesKey(raw);
      const out = new MemoryWriter();
      let lastProgress = 0;
      const sum = await sendFile(out, {
        file,
        key,
        clientId: ID,
        onProgress: (sent, total) => {
          // The file's bytes, not the wire's (which add padding and the trailer).
          assert.equal(total, size);
          assert.ok(sent >= lastProgress && sent <= total);
          lastProgress = sent;
        },
      });
      assert.equal(sum, cksum(plain));

      const cipher = await aesEncrypt(key, plain);
      const content = new Uint8Array(cipher.length + 4);
      content.set(cipher);
      new DataView(content.buffer).setUint32(cipher.length, sum, true);
      assert.equal(lastProgress, size);

      // Read back with the protocol's frame reader and packet decoder (tested
      // against the reference recordings), in batches of 3 packets.
      const reader = new ExactReader(byteSourceOf(out.bytes()));
      const frame = await readRequestFrame(reader);
      assert.deepEqual(frame?.header, {
        clientId: ID,
        version: 3,
        code: RequestCode.SendFile,
        payloadSize: 0,
      });
      const first = decodePacketHeader(
        await reader.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE),
      );
      const decoder = new PacketDecoder(first);
      const headers: PacketHeader[] = [first];
      const decoded = new Uint8Array(content.length);
      while (!decoder.done) {
        const batch = await reader.readExact(decoder.nextBatchSize(3), 1 << 20);
        decoder.decodeBatch(batch, decoded.subarray(decoder.contentDecoded), (_, header) => {
          headers.push(decodePacketHeader(header));
        });
      }
      const total = Math.ceil(content.length / 7925);
      assert.equal(headers.length, total);
      headers.forEach((packet, i) => {
        assert.equal(packet.contentSize, content.length);
        assert.equal(packet.originalSize, size);
        assert.equal(packet.packetNumber, i);
        assert.equal(packet.totalPackets, total);
        assert.equal(new TextDecoder().decode(packet.fileNameField.subarray(0, 5)), "f.bin");
        assert.ok(packet.fileNameField.subarray(5).every((b) => b === 0));
      });
      assert.ok(bytesEqual(decoded, content), "the chunks carry the content");
      assert.equal(decoder.trailer, sum);
      assert.equal(await reader.readExactOrEnd(1, 1), null, "nothing after the last packet");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

async function expectChanged(
  change: (path: string) => Promise<void>,
  pattern: RegExp,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "client-upload-" });
  try {
    const path = join(dir, "f.bin");
    await Deno.writeFile(path, patternBytes(3_000_000));
    const file = await checkUploadFile(dir, "f.bin", "transfer.info");
    await change(path);
    const key = await importAesKey(generateAesKey());
    await assert.rejects(
      sendFile(new MemoryWriter(), { file, key, clientId: ID }),
      (error: unknown) => {
        assert.ok(error instanceof ClientError);
        assert.equal(error.exitCode, ExitCode.Config);
        assert.match(error.message, pattern);
        assert.match(error.message, /while it was being read\. Wait until nothing writes/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a file that got shorter since it was checked is refused", async () => {
  await expectChanged((path) => Deno.truncate(path, 1_000_000), /the file got shorter/);
});

Deno.test("a file that got longer since it was checked is refused", async () => {
  await expectChanged(
    (path) => Deno.writeFile(path, new Uint8Array(10), { append: true }),
    /the file got longer/,
  );
});

Deno.test("a file rewritten with the same size is refused by its modification time", async () => {
  await expectChanged(async (path) => {
    await Deno.writeFile(path, patternBytes(3_000_000, 99));
    await Deno.utime(path, new Date(), new Date(Date.now() + 60_000));
  }, /the file was modified/);
});
