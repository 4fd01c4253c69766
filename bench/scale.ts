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
 * Each figure twice, side by side: the plain mode (servers `--no-secure`)
 * and the secure mode (TLS, pinned; behind HAProxy both ports forwarded and
 * `--public-secure-port` set, so the client pins the balancer). HAProxy
 * connects to the instances from 127.0.0.2 and clients from 127.0.0.1: each
 * figure's line says how many connections the servers' own logs saw from
 * which address, and a figure whose connections did not all take the route
 * its label names stops the benchmark.
 *
 * Run: `deno task bench:scale [--size 800] [--runs 2] [--clients 50]`. Where
 * PostgreSQL, HAProxy or Ceph are not installed, it says so and stops.
 *
 * @module
 */

import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type S3Service, startCeph } from "../scripts/services/ceph.ts";
import { findProgram, freePort, sleep } from "../scripts/services/daemon.ts";
import { type HaproxyService, startHaproxy } from "../scripts/services/haproxy.ts";
import { type PostgresService, startPostgres } from "../scripts/services/postgres.ts";
import { writeTransferInfo } from "../harness/client_process.ts";
import { median, startBenchServer, timeClient, type TimedRun } from "./support/bench_processes.ts";
import { formatMb, type ProcessMonitor } from "./support/process_monitor.ts";
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

/** The client's mode: the server offers the secure mode (TLS, pinned), or runs `--no-secure`. */
type Mode = "plain" | "secure";
const MODES: readonly Mode[] = ["plain", "secure"];

/**
 * HAProxy connects to the instances from this address, so an instance's log
 * (`Opened from <peer>`) shows whether a connection came through it; clients
 * connect directly from 127.0.0.1.
 */
const HAPROXY_SOURCE = "127.0.0.2";

/** A server process, its memory monitor and the peers its log saw. */
interface Server {
  port: number;
  /** The bound secure port (secure mode). */
  securePort: number | undefined;
  monitor: ProcessMonitor;
  /** Connections the log shows opened, by peer address. */
  peers: Map<string, number>;
  /** Its health listener, which HAProxy checks (no connection on the served ports). */
  httpPort: number;
  stop(): Promise<void>;
}

/** Where a server keeps its state: the default, or the shared engines. */
type Backend = { kind: "local" } | { kind: "shared"; registryUrl: string; s3: S3Service };

/** What a server's log said so far (it is read as it comes, never kept). */
interface LogView {
  /** Connections opened, by peer address. */
  peers: Map<string, number>;
  /** The `--http` port, once the server said it listens there. */
  httpPort?: number;
}

/**
 * Reads a line of a server's log: counts `Opened from <host>:<port>` lines,
 * notes the `--http` port (logged once everything listens), prints errors.
 */
function readLogLine(line: string, view: LogView): void {
  const peer = /Opened from (\S+):\d+/.exec(line)?.[1];
  const http = /Health on http:\/\/127\.0\.0\.1:(\d+)\//.exec(line)?.[1];
  if (peer !== undefined) view.peers.set(peer, (view.peers.get(peer) ?? 0) + 1);
  else if (http !== undefined) view.httpPort = Number(http);
  else if (/\[(ERR|FTL)\]/.test(line)) console.error(`    server: ${line}`);
}

/**
 * Starts a server with `--dir dir` (read and write scoped to it, as the
 * `server` task) on port 0 (and secure port 0), the bound ports read back.
 */
async function startServer(
  dir: string,
  backend: Backend,
  mode: Mode,
  publicSecurePort?: number,
): Promise<Server> {
  const storage = backend.kind === "local"
    ? []
    : ["--registry", backend.registryUrl, "--store", `s3://${BUCKET}`];
  const env = backend.kind === "local" ? {} : {
    FT_S3_ENDPOINT: backend.s3.endpoint,
    AWS_REGION: backend.s3.region,
    AWS_ACCESS_KEY_ID: backend.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: backend.s3.secretAccessKey,
  };
  const secure = mode === "plain" ? ["--no-secure"] : ["--secure-port", "0"].concat(
    publicSecurePort === undefined ? [] : ["--public-secure-port", String(publicSecurePort)],
  );
  const view: LogView = { peers: new Map() };
  // Behind the balancer every connection comes from its address (README: Deployment).
  const args = [...secure, "--max-per-address", "256", "--http", "127.0.0.1:0", ...storage];
  args.push("--registrations-per-address", "1000000"); // the same for registrations (issue 17)
  const server = await startBenchServer(dir, args, {
    as: "task",
    env,
    echoWarnings: false,
    onLine: (line) => readLogLine(line, view),
  });
  const deadline = Date.now() + 20_000;
  // Waits for the log, not with a connection: every connection a server sees must be a client's.
  while (view.httpPort === undefined) {
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error("Cannot benchmark: a server never said where its health listener is");
    }
    await sleep(50);
  }
  const { port, securePort, monitor, stop } = server;
  return { port, securePort, monitor, peers: view.peers, httpPort: view.httpPort, stop };
}

/**
 * Checks what the servers' logs say about where their connections came
 * from: all through HAProxy, or all direct.
 *
 * @throws {Error} when a figure would not measure what its label says.
 */
function checkRoute(label: string, servers: Server[], viaHaproxy: boolean): string {
  const counts = new Map<string, number>();
  for (const server of servers) {
    for (const [peer, n] of server.peers) counts.set(peer, (counts.get(peer) ?? 0) + n);
  }
  const expected = viaHaproxy ? HAPROXY_SOURCE : "127.0.0.1";
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const others = [...counts].filter(([peer]) => peer !== expected);
  if (total === 0 || others.length > 0) {
    throw new Error(
      `Cannot trust the figure "${label}": the servers' logs show connections from ` +
        `${JSON.stringify(Object.fromEntries(counts))}, expected all from ${expected}`,
    );
  }
  const spread = servers.length > 1
    ? `, per instance ${servers.map((s) => s.peers.get(expected) ?? 0).join(" + ")}`
    : "";
  return `${total} connections from ${expected}${spread}`;
}

/** Runs one client process in `dir`; resolves to its wall time and exit code. */
function runClient(dir: string): Promise<TimedRun> {
  // --force: every run sends, though the same file is "already stored" after the first.
  return timeClient(["--dir", dir, "--quiet", "--force"]);
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

/** `count` servers in `mode`, behind HAProxy (both ports) when `viaHaproxy`. */
async function startDeployment(
  dir: string,
  backend: Backend,
  mode: Mode,
  count: number,
  viaHaproxy: boolean,
): Promise<{ servers: Server[]; port: number; stop(): Promise<void> }> {
  const servers: Server[] = [];
  let lb: HaproxyService | undefined;
  const stop = async () => {
    await lb?.stop();
    for (const server of servers) await server.stop();
  };
  try {
    // HAProxy's secure port, which the servers advertise before it listens: named in advance.
    const publicSecurePort = viaHaproxy && mode === "secure" ? freePort() : undefined;
    for (let i = 0; i < count; i++) {
      servers.push(await startServer(join(dir, `server-${i}`), backend, mode, publicSecurePort));
    }
    if (viaHaproxy) {
      lb = await startHaproxy(
        servers.map(({ port, securePort, httpPort }) => ({ port, securePort, httpPort })),
        {
          sourceAddress: HAPROXY_SOURCE,
          ...(publicSecurePort ? { securePort: publicSecurePort } : {}),
        },
      );
    }
    return { servers, port: lb?.port ?? servers[0]!.port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One large upload, `runs` times after a warm-up that registers (and pins). */
async function benchOne(
  label: string,
  scratch: string,
  file: string,
  backend: Backend,
  viaHaproxy: boolean,
  mode: Mode,
): Promise<void> {
  const dir = join(scratch, `${label}-${mode}`.replaceAll(/\W+/g, "-"));
  const deployment = await startDeployment(dir, backend, mode, 1, viaHaproxy);
  try {
    await writeTransferInfo(join(dir, "client"), deployment.port, `bench ${label}`, file);
    const rates: number[] = [];
    for (let run = -1; run < runs; run++) {
      const result = await runClient(join(dir, "client"));
      if (result.code !== 0) throw new Error(`Cannot benchmark ${label}: ${result.stderr}`);
      if (run >= 0) rates.push(size / MB / result.seconds);
      if (backend.kind === "shared") await emptyBucket(backend.s3);
    }
    const server = deployment.servers[0]!;
    console.log(
      `  ${label.padEnd(37)} ${mode.padEnd(6)} ${median(rates).toFixed(0).padStart(5)} MB/s` +
        `  server peak ${formatMb(server.monitor.figures.peakRssBytes).padStart(7)}` +
        `  (runs: ${rates.map((r) => r.toFixed(0)).join(", ")} MB/s; ` +
        `${checkRoute(label, deployment.servers, viaHaproxy)})`,
    );
  } finally {
    await deployment.stop();
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
  mode: Mode,
): Promise<void> {
  const dir = join(scratch, `${label}-${mode}`.replaceAll(/\W+/g, "-"));
  const viaHaproxy = instances > 1;
  const deployment = await startDeployment(dir, backend, mode, instances, viaHaproxy);
  try {
    for (let i = 0; i < clients; i++) {
      await writeTransferInfo(
        join(dir, `client-${i}`),
        deployment.port,
        `many ${label} ${i}`,
        file,
      );
    }
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: clients }, (_, i) => runClient(join(dir, `client-${i}`))),
    );
    const seconds = (performance.now() - start) / 1000;
    const failures = results.filter((r) => r.code !== 0);
    const peaks = deployment.servers.map((s) => formatMb(s.monitor.figures.peakRssBytes))
      .join(" + ");
    console.log(
      `  ${label.padEnd(37)} ${mode.padEnd(6)} ${seconds.toFixed(1).padStart(5)} s in all, ` +
        `${(clients * clientSize / MB / seconds).toFixed(0)} MB/s aggregate, ` +
        `${failures.length} failures, server peak ${peaks} ` +
        `(${checkRoute(label, deployment.servers, viaHaproxy)})`,
    );
    for (const failure of failures.slice(0, 3)) console.log(`    failure: ${failure.stderr}`);
    if (backend.kind === "shared") await emptyBucket(backend.s3);
  } finally {
    await deployment.stop();
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
  console.log(`one ${size / MB} MB upload (median of ${runs}), plain and secure side by side:`);
  for (const mode of MODES) {
    await benchOne("local default, direct", scratch, big, { kind: "local" }, false, mode);
  }
  for (const mode of MODES) {
    await benchOne("local default, through HAProxy", scratch, big, { kind: "local" }, true, mode);
  }
  for (const mode of MODES) {
    const backend = await shared(`one_${mode}`);
    await benchOne("PostgreSQL + S3, through HAProxy", scratch, big, backend, true, mode);
  }
  await Deno.remove(big);

  const small = join(scratch, "small.bin");
  await writeRandomFile(small, clientSize);
  console.log(`${clients} clients x ${clientSize / MB} MB at once, plain and secure side by side:`);
  for (const mode of MODES) {
    await benchMany("1 local default server", scratch, small, { kind: "local" }, 1, mode);
  }
  for (const mode of MODES) {
    const backend = await shared(`many_${mode}`);
    await benchMany("2 PostgreSQL + S3 instances, HAProxy", scratch, small, backend, 2, mode);
  }
} finally {
  await s3?.stop();
  await pg?.stop();
  await Deno.remove(scratch, { recursive: true });
}
