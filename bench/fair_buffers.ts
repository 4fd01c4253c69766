/**
 * A polite upload's time alone and under 100 slow uploads (issue 17, §4):
 * slow uploads used to hold their grants from the shared buffer budget while
 * they waited for their next bytes, and a polite 4 MB upload took up to
 * 42.7 s instead of 0.12 s. The promise: under the slow uploads, within 3x
 * of its time alone.
 *
 * The server runs in this process with its defaults (a 64 MiB buffer budget)
 * except the per-address caps, lifted since every client is on 127.0.0.1.
 * Each slow upload signs up, sends its first packet, then a packet a second.
 *
 * Run: `deno task bench:fair [--slow 100] [--size 4] [--runs 3]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cksum } from "../protocol/mod.ts";
import { generateRsaKeyPair, type RsaKeyPair } from "../protocol/rsa.ts";
import { randomBytes, RawClient, signUp } from "../harness/raw_client.ts";
import { SlowUploads } from "../harness/slow_upload.ts";
import { startServer } from "../server/server.ts";

/** The promise: under slow uploads, at most this many times the time alone. */
const MOST_SLOWDOWN = 3;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    slow: { type: "string", default: "100" },
    size: { type: "string", default: "4" },
    runs: { type: "string", default: "3" },
  },
});
const slowCount = Number(values.slow);
const size = Number(values.size) * 1_000_000;
const runs = Number(values.runs);

/** Seconds one polite upload of `data` takes, sign-up excluded. */
async function politeUpload(
  port: number,
  name: string,
  data: Uint8Array,
  keys: RsaKeyPair,
): Promise<number> {
  using client = await RawClient.connect(port);
  const me = await signUp(client, name, keys);
  const started = performance.now();
  const received = await client.upload(me.clientId, me.aesKey, "polite.bin", data);
  if (received.cksum !== cksum(data)) throw new Error("Cannot benchmark: the cksum differs");
  return (performance.now() - started) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const dir = await Deno.makeTempDir({ prefix: "bench_fair_" });
const server = await startServer({
  dir,
  host: "127.0.0.1",
  port: 0,
  securePort: false,
  maxConnectionsPerAddress: 256,
  registrationsPerMinute: 10_000,
});
try {
  const keys = await generateRsaKeyPair();
  const data = randomBytes(size);
  const alone: number[] = [];
  for (let run = 0; run < runs; run++) {
    alone.push(await politeUpload(server.port, `Alone ${run}`, data, keys));
  }
  const slow = await SlowUploads.start(server.port, slowCount, 2_000_000, 1_000, keys);
  const loaded: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      loaded.push(await politeUpload(server.port, `Loaded ${run}`, data, keys));
    }
  } finally {
    await slow.stop();
  }
  const ratio = median(loaded) / median(alone);
  console.log(`fair buffers: a polite ${size / 1e6} MB upload, median of ${runs}`);
  console.log(`  alone:                       ${median(alone).toFixed(3)} s`);
  console.log(`  under ${slowCount} slow uploads:     ${median(loaded).toFixed(3)} s`);
  console.log(
    `  ratio: ${ratio.toFixed(2)}x (promise: within ${MOST_SLOWDOWN}x) ${
      ratio <= MOST_SLOWDOWN ? "kept" : "NOT KEPT"
    }`,
  );
} finally {
  await server.close();
  await Deno.remove(dir, { recursive: true });
}
