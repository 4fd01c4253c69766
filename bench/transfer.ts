/**
 * End-to-end transfer benchmark: our server and our client as separate
 * processes on loopback, run with exactly the flags the compiled binaries
 * carry (`scripts/compile.ts`), as users run them.
 *
 * For each file size (10 MB, 100 MB, 800 MB by default; generated, then
 * deleted) it prints the end-to-end rate (median of several runs, measured
 * from starting the client process to its exit), the peak resident memory of
 * the server and of the client, and the CPU seconds each side spent. Then 50
 * clients uploading 10 MB each at once (total time and failures), and
 * registrations per second.
 *
 * Run: `deno task bench:transfer [--sizes 10,100,800] [--runs 3] [--clients 50]`
 *
 * It runs with `--allow-all` because Deno 2 grants reading another process's
 * `/proc/<pid>/` files (where peak memory and CPU time come from) to nothing less.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  encodeRequest,
  generateRsaKeyPair,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { ServerConnection } from "../client/connection.ts";
import { writeTransferInfo } from "../harness/client_process.ts";
import {
  type BenchServer,
  median,
  startBenchServer,
  timeClient,
  type TimedRun,
} from "./support/bench_processes.ts";
import { formatMb, formatSeconds } from "./support/process_monitor.ts";
import { writeRandomFile } from "./support/random_file.ts";

const MB = 1_000_000;

const { values: options } = parseArgs({
  options: {
    sizes: { type: "string", default: "10,100,800" },
    runs: { type: "string", default: "3" },
    clients: { type: "string", default: "50" },
    registrations: { type: "string", default: "300" },
  },
});
const sizes = options.sizes.split(",").map((s) => Number(s) * MB);
const runs = Number(options.runs);
const loadClients = Number(options.clients);
const registrations = Number(options.registrations);

const scratch = await Deno.makeTempDir({ prefix: "transfer-bench-" });

/**
 * Starts a server in `dir` for the plain protocol v3 (the secure mode is
 * bench/secure_transfer.ts's). Every client here comes from 127.0.0.1, so the
 * per-address registration limit (60 a minute) is lifted: the benchmark
 * measures registrations per second, not the limiter.
 */
function startServer(dir: string): Promise<BenchServer> {
  return startBenchServer(dir, ["--no-secure", "--registrations-per-address", "1000000"]);
}

/** Runs the client in `dir` once, as users run it. */
function runClient(dir: string): Promise<TimedRun> {
  // --force: every run sends, though the same file is "already stored" after the first.
  return timeClient(["--dir", dir, "--quiet", "--no-wait", "--force"]);
}

async function benchSize(size: number): Promise<void> {
  const dir = join(scratch, `size-${size}`);
  const server = await startServer(join(dir, "server"));
  const file = join(dir, "upload.bin");
  await writeRandomFile(file, size);
  await writeTransferInfo(join(dir, "client"), server.port, `bench ${size}`, file);
  const rates: number[] = [];
  let clientRss = 0;
  let clientCpu = 0;
  try {
    // A first run registers (RSA key generation); it warms up and is not counted.
    const warmup = await runClient(join(dir, "client"));
    if (warmup.code !== 0) throw new Error(`Cannot benchmark: client failed: ${warmup.stderr}`);
    const serverCpuBefore = server.monitor.figures.cpuSeconds ?? 0;
    for (let run = 0; run < runs; run++) {
      const result = await runClient(join(dir, "client"));
      if (result.code !== 0) throw new Error(`Cannot benchmark: client failed: ${result.stderr}`);
      rates.push(size / MB / result.seconds);
      clientRss = Math.max(clientRss, result.figures.peakRssBytes ?? 0);
      clientCpu += result.figures.cpuSeconds ?? 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const serverCpu = ((server.monitor.figures.cpuSeconds ?? 0) - serverCpuBefore) / runs;
    console.log(
      `${String(size / MB).padStart(4)} MB  ${median(rates).toFixed(0).padStart(5)} MB/s` +
        `  server peak ${formatMb(server.monitor.figures.peakRssBytes).padStart(7)}` +
        `  client peak ${formatMb(clientRss || undefined).padStart(7)}` +
        `  CPU server ${formatSeconds(serverCpu).padStart(7)}` +
        `  client ${formatSeconds(clientCpu / runs).padStart(7)}` +
        `  (runs: ${rates.map((r) => r.toFixed(0)).join(", ")} MB/s)`,
    );
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function benchLoad(): Promise<void> {
  const dir = join(scratch, "load");
  const server = await startServer(join(dir, "server"));
  const file = join(dir, "upload.bin");
  await writeRandomFile(file, 10 * MB);
  try {
    for (let i = 0; i < loadClients; i++) {
      await writeTransferInfo(join(dir, `client-${i}`), server.port, `load client ${i}`, file);
    }
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: loadClients }, (_, i) => runClient(join(dir, `client-${i}`))),
    );
    const seconds = (performance.now() - start) / 1000;
    const failures = results.filter((r) => r.code !== 0);
    console.log(
      `${loadClients} clients x 10 MB at once: ${seconds.toFixed(1)} s in all, ` +
        `${(loadClients * 10 / seconds).toFixed(0)} MB/s aggregate, ${failures.length} failures, ` +
        `server peak ${formatMb(server.monitor.figures.peakRssBytes)}`,
    );
    for (const failure of failures.slice(0, 3)) console.log(`  failure: ${failure.stderr.trim()}`);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function benchRegistrations(): Promise<void> {
  const dir = join(scratch, "registrations");
  const server = await startServer(join(dir, "server"));
  const { publicKey } = await generateRsaKeyPair();
  const concurrency = 8;
  let next = 0;
  try {
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < registrations) {
        const name = `registrant ${next++}`;
        const connection = await ServerConnection.open("127.0.0.1", server.port);
        try {
          await connection.send(encodeRequest(ZERO_CLIENT_ID, { code: 825, name }));
          const registered = await connection.receive();
          if (registered.code !== ResponseCode.Registered) {
            throw new Error(`Cannot register: got ${registered.code}`);
          }
          await connection.send(encodeRequest(registered.clientId, { code: 826, name, publicKey }));
          const accepted = await connection.receive();
          if (accepted.code !== ResponseCode.KeyAccepted) {
            throw new Error(`Cannot exchange keys: got ${accepted.code}`);
          }
        } finally {
          connection.close();
        }
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `registrations (825 + 826, ${concurrency} connections at a time): ` +
        `${(registrations / seconds).toFixed(0)} per second over ${registrations}`,
    );
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

try {
  console.log(`transfer benchmark: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores`);
  for (const size of sizes) await benchSize(size);
  if (loadClients > 0) await benchLoad();
  if (registrations > 0) await benchRegistrations();
} finally {
  await Deno.remove(scratch, { recursive: true });
}
