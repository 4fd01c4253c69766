/**
 * Retrieval against upload (issue 21, point 5): the same file uploaded by our
 * client to our server in the secure mode, then fetched back with
 * `client --get`, in the same run, both as processes with the compiled
 * binaries' flags. The issue asks that the download run at least 0.8 times
 * the upload's speed, and that neither side's resident memory pass 150 MB.
 *
 * Each figure is the median over `--runs` rounds of one upload then one
 * download, after a warm-up (registration and pinning, not counted). Peak
 * resident memory is the kernel's high-water mark (VmHWM) of the client
 * process of that transfer, and of the server during that transfer (its mark
 * is reset before each one through `/proc/<pid>/clear_refs`, where Linux
 * allows it; otherwise the figure is the server's peak so far, and says so).
 *
 * Run: `deno task bench:retrieval [--size 200] [--runs 3]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { CLIENT_PERMISSION_FLAGS, ROOT, serverPermissionFlags } from "../scripts/permissions.ts";
import { formatMb, ProcessMonitor } from "./support/process_monitor.ts";
import { writeRandomFile } from "./support/random_file.ts";

const MB = 1_000_000;
/** The bounds. */
const MIN_SPEED_RATIO = 0.8;
const MAX_RSS_BYTES = 150 * MB;

const { values: options } = parseArgs({
  options: {
    size: { type: "string", default: "200" },
    runs: { type: "string", default: "3" },
  },
});
const size = Number(options.size) * MB;
const runs = Number(options.runs);

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

/** Starts a secure-mode server process in `dir`; resolves once its plain port accepts. */
async function startServer(dir: string) {
  await Deno.mkdir(dir, { recursive: true });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    cwd: dir,
    args: [
      "run",
      ...serverPermissionFlags(),
      join(ROOT, "server/main.ts"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--secure-port",
      String(freePort()),
      "--log-level",
      "warning",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let attempt = 0;; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (attempt > 400) {
        throw new Error("Cannot start server: it never listened", { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** Resets a process's peak resident memory to its current one; false where Linux refuses. */
function resetPeak(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

interface Measure {
  seconds: number;
  clientPeak: number | undefined;
  serverPeak: number | undefined;
}

/** Runs the client once with `args`; its wall time and both sides' peak memory. */
async function runClient(dir: string, serverPid: number, args: string[]): Promise<Measure> {
  resetPeak(serverPid);
  const server = new ProcessMonitor(serverPid);
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CLIENT_PERMISSION_FLAGS,
      join(ROOT, "client/main.ts"),
      "--dir",
      dir,
      "--quiet",
      "--no-wait",
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const monitor = new ProcessMonitor(child.pid);
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  const seconds = (performance.now() - start) / 1000;
  const clientPeak = monitor.stop().peakRssBytes;
  const serverPeak = server.stop().peakRssBytes;
  if (status.code !== 0) throw new Error(`Cannot benchmark: the client failed: ${stderr}`);
  return { seconds, clientPeak, serverPeak };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

function highest(values: Array<number | undefined>): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

const scratch = await Deno.makeTempDir({ prefix: "retrieval-bench-" });
let server: Awaited<ReturnType<typeof startServer>> | undefined;
try {
  server = await startServer(join(scratch, "server"));
  const clientDir = join(scratch, "client");
  const toDir = join(scratch, "fetched");
  await Deno.mkdir(clientDir);
  const file = join(scratch, "transfer.bin");
  await writeRandomFile(file, size);
  await Deno.writeTextFile(join(clientDir, "warm-up.bin"), "warm up");
  await Deno.writeTextFile(
    join(clientDir, "transfer.info"),
    `127.0.0.1:${server.port}\nbench retrieval\n${file}\n`,
  );
  // Registration and the first contact's pinning: not counted.
  await runClient(clientDir, server.pid, [join(clientDir, "warm-up.bin")]);
  const peakResettable = resetPeak(server.pid);
  const uploads: Measure[] = [];
  const downloads: Measure[] = [];
  for (let run = 0; run < runs; run++) {
    uploads.push(await runClient(clientDir, server.pid, []));
    downloads.push(
      await runClient(clientDir, server.pid, ["--get", "transfer.bin", "--to", toDir, "--force"]),
    );
  }
  const report = (name: string, measures: Measure[]) => {
    const seconds = median(measures.map((m) => m.seconds));
    console.log(
      `${size / MB} MB ${name}  ${seconds.toFixed(2).padStart(6)} s  ` +
        `${(size / MB / seconds).toFixed(0).padStart(4)} MB/s  ` +
        `peak RSS client ${formatMb(highest(measures.map((m) => m.clientPeak)))}, ` +
        `server ${formatMb(highest(measures.map((m) => m.serverPeak)))}` +
        (peakResettable ? "" : " (since start: Linux did not let the mark be reset)") +
        `  (runs: ${measures.map((m) => m.seconds.toFixed(2)).join(", ")} s)`,
    );
    return seconds;
  };
  const up = report("upload  ", uploads);
  const down = report("download", downloads);
  const ratio = up / down;
  const peaks = [...uploads, ...downloads].flatMap((m) => [m.clientPeak, m.serverPeak]);
  const worst = highest(peaks.filter((_, i) => i >= uploads.length * 2));
  console.log(
    `download speed / upload speed: ${ratio.toFixed(2)} (issue 21 asks at least ` +
      `${MIN_SPEED_RATIO}): ${ratio >= MIN_SPEED_RATIO ? "within" : "BELOW"} the bound; ` +
      `download peak RSS ${formatMb(worst)} (at most ${formatMb(MAX_RSS_BYTES)} on each side): ` +
      `${worst !== undefined && worst <= MAX_RSS_BYTES ? "within" : "OVER"} the bound`,
  );
} finally {
  await server?.stop();
  await Deno.remove(scratch, { recursive: true });
}
