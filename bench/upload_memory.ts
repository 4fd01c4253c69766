/**
 * Server memory under many concurrent uploads, and the speed of one upload
 * alone (issue 11, §2 "Memory under concurrent uploads").
 *
 * 1. One identity signs in on 250 connections (827) and uploads a 4 MB file
 *    on each at once, each sent slowly (16 KiB every 50 ms, about 320 KB/s):
 *    prints the server's peak resident memory, how many uploads completed
 *    with the right cksum, and the slowest one's time.
 * 2. One 200 MB upload alone, as fast as the server takes it: prints MB/s
 *    and the server's peak resident memory.
 *
 * The server runs as a separate process (`server/main.ts` with the compiled
 * server's flags, and `--max-per-address` raised to the connection cap);
 * the clients are raw protocol clients in this process.
 *
 * Run: `deno task bench:memory [--uploads 250] [--size 4] [--single 200]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  AesCbcEncryptor,
  Cksum,
  CKSUM_TRAILER_SIZE,
  contentSizeFor,
  encodeFileNameField,
  encodeRequestHeader,
  importAesKey,
  PacketEncoder,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { type BenchServer, startBenchServer } from "./support/bench_processes.ts";
import { formatMb } from "./support/process_monitor.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../server/server.ts";

const MB = 1_000_000;

const { values: options } = parseArgs({
  options: {
    uploads: { type: "string", default: "250" },
    size: { type: "string", default: "4" },
    single: { type: "string", default: "200" },
  },
});
const uploads = Number(options.uploads);
const size = Number(options.size) * MB;
const singleSize = Number(options.single) * MB;

/**
 * Starts `server/main.ts` as the compiled server runs, in `dir`, with the
 * per-address cap raised to the connection cap: here one address stands for
 * every client.
 */
function startServer(dir: string): Promise<BenchServer> {
  return startBenchServer(dir, [
    "--no-secure",
    "--max-per-address",
    String(DEFAULT_MAX_CONNECTIONS),
    // One identity on every connection: lift the per-identity cap (issue 17).
    "--max-per-identity",
    String(DEFAULT_MAX_CONNECTIONS),
  ]);
}

/** The plaintext of every upload: this, repeated. */
const PLAIN = crypto.getRandomValues(new Uint8Array(64 * 1024));

const cksums = new Map<number, number>();

/** The cksum of `size` bytes of {@linkcode PLAIN} repeated (computed once per size). */
function plainCksum(size: number): number {
  const known = cksums.get(size);
  if (known !== undefined) return known;
  const sum = new Cksum();
  for (let done = 0; done < size; done += PLAIN.length) {
    sum.update(PLAIN.subarray(0, Math.min(PLAIN.length, size - done)));
  }
  cksums.set(size, sum.digest());
  return sum.digest();
}

/**
 * A whole 828 upload of `size` bytes of {@linkcode PLAIN} repeated, in
 * pieces of at most `pieceSize` bytes, generated as it is sent: the clients
 * stay light.
 */
async function* uploadPieces(
  me: { clientId: Uint8Array; aesKey: Uint8Array },
  name: string,
  size: number,
  cksum: number,
  pieceSize: number,
): AsyncGenerator<Uint8Array> {
  yield encodeRequestHeader(me.clientId, RequestCode.SendFile, 0);
  const encoder = new PacketEncoder({
    contentSize: contentSizeFor(size),
    originalSize: size,
    fileNameField: encodeFileNameField(name),
  });
  const aes = new AesCbcEncryptor(await importAesKey(me.aesKey));
  const out = new Uint8Array(pieceSize);
  function* packets(content: Uint8Array): Generator<Uint8Array> {
    for (let read = 0; read < content.length;) {
      const progress = encoder.encodeInto(content.subarray(read), out);
      read += progress.read;
      yield out.subarray(0, progress.written);
    }
  }
  for (let done = 0; done < size; done += PLAIN.length) {
    yield* packets(await aes.update(PLAIN.subarray(0, Math.min(PLAIN.length, size - done))));
  }
  yield* packets(await aes.finish());
  const trailer = new Uint8Array(CKSUM_TRAILER_SIZE);
  new DataView(trailer.buffer).setUint32(0, cksum, true);
  yield* packets(trailer);
  encoder.finish();
}

/** Uploads `size` bytes as `name`, paced when `slow`; resolves to whether the cksum matched. */
async function upload(
  client: RawClient,
  me: { clientId: Uint8Array; aesKey: Uint8Array },
  name: string,
  size: number,
  slow: boolean,
): Promise<boolean> {
  const cksum = plainCksum(size);
  const pieceSize = slow ? 16 * 1024 : 1024 * 1024;
  for await (const piece of uploadPieces(me, name, size, cksum, pieceSize)) {
    await client.send(piece);
    if (slow) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const received = await client.expect(ResponseCode.FileReceived);
  return (received.response as { cksum: number }).cksum === cksum;
}

async function benchConcurrent(dir: string): Promise<void> {
  const server = await startServer(dir);
  try {
    using first = await RawClient.connect(server.port);
    const me = await signUp(first, "memory bench");
    const clients = await Promise.all(
      Array.from({ length: uploads }, () => RawClient.connect(server.port)),
    );
    try {
      const keys = await Promise.all(
        clients.map((client) => client.reconnect(me.clientId, me.name, me.keys.privateKey)),
      );
      const start = performance.now();
      let slowest = 0;
      const results = await Promise.all(clients.map(async (client, i) => {
        const ok = await upload(
          client,
          { clientId: me.clientId, aesKey: keys[i]! },
          `file-${i}.bin`,
          size,
          true,
        ).catch(() => false);
        slowest = Math.max(slowest, performance.now() - start);
        return ok;
      }));
      const completed = results.filter((ok) => ok).length;
      console.log(
        `${uploads} concurrent slow uploads of ${size / MB} MB: server peak ` +
          `${formatMb(server.monitor.figures.peakRssBytes)}, ${completed} of ${uploads} ` +
          `completed with the right cksum, the slowest in ${(slowest / 1000).toFixed(1)} s`,
      );
    } finally {
      for (const client of clients) client.close();
    }
  } finally {
    await server.stop();
  }
}

async function benchSingle(dir: string): Promise<void> {
  const server = await startServer(dir);
  try {
    using client = await RawClient.connect(server.port);
    const me = await signUp(client, "single bench");
    const start = performance.now();
    const ok = await upload(client, me, "single.bin", singleSize, false);
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `one upload of ${singleSize / MB} MB alone: ${(singleSize / MB / seconds).toFixed(0)} MB/s` +
        ` (client and server on one machine), server peak ` +
        `${formatMb(server.monitor.figures.peakRssBytes)}${ok ? "" : ", CKSUM MISMATCH"}`,
    );
  } finally {
    await server.stop();
  }
}

const scratch = await Deno.makeTempDir({ prefix: "upload-memory-bench-" });
try {
  console.log(
    `upload memory benchmark: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores`,
  );
  if (uploads > 0) await benchConcurrent(join(scratch, "concurrent"));
  if (singleSize > 0) await benchSingle(join(scratch, "single"));
} finally {
  await Deno.remove(scratch, { recursive: true });
}
