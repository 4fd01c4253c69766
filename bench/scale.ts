/**
 * Scale-out benchmark: the same uploads to the single-server default (SQLite
 * and a local folder) and to instances behind HAProxy sharing PostgreSQL and
 * S3 (Ceph's gateway, its OSD in memory), side by side. Servers and clients
 * are separate processes with the shipped permission flags; the engines are
 * the throwaway ones of `scripts/services/`.
 *
 * 1. One 800 MB upload (median of `--runs`, from starting the client to its
 *    exit): local default direct, local default through HAProxy, and
 *    PostgreSQL + S3 through HAProxy; with the server's peak memory.
 * 2. 50 clients sending 10 MB each at once: one local default server, and
 *    two PostgreSQL + S3 instances behind HAProxy.
 *
 * Run: `deno task bench:scale [--size 800] [--runs 2] [--clients 50]`. Where
 * PostgreSQL, HAProxy or Ceph are not installed, it says so and stops.
 *
 * @module
 */

import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CLIENT_PERMISSION_FLAGS, ROOT, serverPermissionFlags } from "../scripts/permissions.ts";
import { type S3Service, startCeph } from "../scripts/services/ceph.ts";
import { accepts, findProgram, freePort, sleep } from "../scripts/services/daemon.ts";
import { type HaproxyService, startHaproxy } from "../scripts/services/haproxy.ts";
import { type PostgresService, startPostgres } from "../scripts/services/postgres.ts";
import { formatMb, ProcessMonitor } from "./support/process_monitor.ts";
import { writeRandomFile } from "./support/random_file.ts";

const MB = 1_000_000;
const BUCKET = "bench";

const { values: options } = parseArgs({
  options: {
    size: { type: "string", default: "800" },
    runs: { type: "string", default: "2" },
    clients: { type: "string", default: "50" },
    "client-size": { type: "string", default: "10" },
  },
});
const size = Number(options.size) * MB;
const runs = Number(options.runs);
const clients = Number(options.clients);
const clientSize = Number(options["client-size"]) * MB;

/** A server process and its memory monitor. */
interface Server {
  port: number;
  monitor: ProcessMonitor;
  stop(): Promise<void>;
}

/** Where a server keeps its state: the default, or the shared engines. */
type Backend = { kind: "local" } | { kind: "shared"; registryUrl: string; s3: S3Service };

async function startServer(dir: string, backend: Backend): Promise<Server> {
  await Deno.mkdir(dir, { recursive: true });
  const port = freePort();
  const flags = serverPermissionFlags().map((flag) =>
    flag.replace(/^(--allow-(?:read|write))=.*$/, `$1=${dir}`)
  );
  const storage = backend.kind === "local"
    ? []
    : ["--registry", backend.registryUrl, "--store", `s3://${BUCKET}`];
  const env = backend.kind === "local" ? {} : {
    FT_S3_ENDPOINT: backend.s3.endpoint,
    AWS_REGION: backend.s3.region,
    AWS_ACCESS_KEY_ID: backend.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: backend.s3.secretAccessKey,
  };
  const args = [join(ROOT, "server/main.ts"), "--dir", dir, "--port", String(port)];
  args.push("--host", "127.0.0.1", "--log-level", "warning", ...storage);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, ...args],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const monitor = new ProcessMonitor(child.pid);
  const deadline = Date.now() + 20_000;
  while (!await accepts(port)) {
    if (Date.now() > deadline) throw new Error("Cannot benchmark: a server never listened");
    await sleep(50);
  }
  const stop = async () => {
    try {
      child.kill("SIGTERM");
      await child.status;
    } finally {
      monitor.stop();
    }
  };
  return { port, monitor, stop };
}

/** Runs one client process in `dir`; resolves to its wall time and exit code. */
async function runClient(dir: string): Promise<{ seconds: number; code: number; stderr: string }> {
  const client = [join(ROOT, "client/main.ts"), "--dir", dir, "--quiet"];
  const start = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLIENT_PERMISSION_FLAGS, ...client],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return {
    seconds: (performance.now() - start) / 1000,
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr).trim(),
  };
}

async function prepareClient(dir: string, port: number, name: string, file: string) {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "transfer.info"), `127.0.0.1:${port}\n${name}\n${file}\n`);
}

/** Deletes every object in the bucket (the OSD keeps them in memory). */
async function emptyBucket(s3: S3Service): Promise<void> {
  const client = s3.client();
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    for (const object of listed.Contents ?? []) {
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: object.Key! }));
    }
  } finally {
    client.destroy();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** One large upload, `runs` times after a warm-up that registers. */
async function benchOne(
  label: string,
  scratch: string,
  file: string,
  backend: Backend,
  viaHaproxy: boolean,
): Promise<void> {
  const dir = join(scratch, label.replaceAll(/\W+/g, "-"));
  const server = await startServer(join(dir, "server"), backend);
  let lb: HaproxyService | undefined;
  try {
    if (viaHaproxy) lb = await startHaproxy([server.port]);
    const port = lb?.port ?? server.port;
    await prepareClient(join(dir, "client"), port, `bench ${label}`, file);
    const rates: number[] = [];
    for (let run = -1; run < runs; run++) {
      const result = await runClient(join(dir, "client"));
      if (result.code !== 0) throw new Error(`Cannot benchmark ${label}: ${result.stderr}`);
      if (run >= 0) rates.push(size / MB / result.seconds);
      if (backend.kind === "shared") await emptyBucket(backend.s3);
    }
    console.log(
      `  ${label.padEnd(34)} ${median(rates).toFixed(0).padStart(5)} MB/s` +
        `  server peak ${formatMb(server.monitor.figures.peakRssBytes).padStart(7)}` +
        `  (runs: ${rates.map((r) => r.toFixed(0)).join(", ")} MB/s)`,
    );
  } finally {
    await lb?.stop();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** `clients` clients at once over `instances` servers (through HAProxy when more than one). */
async function benchMany(
  label: string,
  scratch: string,
  file: string,
  backend: Backend,
  instances: number,
): Promise<void> {
  const dir = join(scratch, label.replaceAll(/\W+/g, "-"));
  const servers: Server[] = [];
  let lb: HaproxyService | undefined;
  try {
    for (let i = 0; i < instances; i++) {
      servers.push(await startServer(join(dir, `server-${i}`), backend));
    }
    if (instances > 1) lb = await startHaproxy(servers.map((s) => s.port));
    const port = lb?.port ?? servers[0]!.port;
    for (let i = 0; i < clients; i++) {
      await prepareClient(join(dir, `client-${i}`), port, `many ${label} ${i}`, file);
    }
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: clients }, (_, i) => runClient(join(dir, `client-${i}`))),
    );
    const seconds = (performance.now() - start) / 1000;
    const failures = results.filter((r) => r.code !== 0);
    const peaks = servers.map((s) => formatMb(s.monitor.figures.peakRssBytes)).join(" + ");
    console.log(
      `  ${label.padEnd(34)} ${seconds.toFixed(1).padStart(5)} s in all, ` +
        `${(clients * clientSize / MB / seconds).toFixed(0)} MB/s aggregate, ` +
        `${failures.length} failures, server peak ${peaks}`,
    );
    for (const failure of failures.slice(0, 3)) console.log(`    failure: ${failure.stderr}`);
    if (backend.kind === "shared") await emptyBucket(backend.s3);
  } finally {
    await lb?.stop();
    for (const server of servers) await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const missing = ["initdb", "postgres", "haproxy", "ceph-mon", "ceph-osd", "radosgw"]
  .filter((program) => findProgram(program) === undefined);
if (missing.length > 0) {
  console.log(`scale benchmark skipped: ${missing.join(", ")} not installed (see .ci/run)`);
  Deno.exit(0);
}

const scratch = await Deno.makeTempDir({ prefix: "scale-bench-" });
let pg: PostgresService | undefined;
let s3: S3Service | undefined;
try {
  console.log(`scale benchmark: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores`);
  [pg, s3] = await Promise.all([
    startPostgres(),
    startCeph({ bucket: BUCKET, memstoreBytes: 3 * size + 1024 * MB }),
  ]);
  const shared = async (name: string): Promise<Backend> => ({
    kind: "shared",
    registryUrl: await pg!.createDatabase(name),
    s3: s3!,
  });

  const big = join(scratch, "big.bin");
  await writeRandomFile(big, size);
  console.log(`one ${size / MB} MB upload (median of ${runs}):`);
  await benchOne("local default, direct", scratch, big, { kind: "local" }, false);
  await benchOne("local default, through HAProxy", scratch, big, { kind: "local" }, true);
  await benchOne("PostgreSQL + S3, through HAProxy", scratch, big, await shared("one"), true);
  await Deno.remove(big);

  const small = join(scratch, "small.bin");
  await writeRandomFile(small, clientSize);
  console.log(`${clients} clients x ${clientSize / MB} MB at once:`);
  await benchMany("1 local default server", scratch, small, { kind: "local" }, 1);
  await benchMany("2 PostgreSQL + S3 instances, HAProxy", scratch, small, await shared("many"), 2);
} finally {
  await s3?.stop();
  await pg?.stop();
  await Deno.remove(scratch, { recursive: true });
}
