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
import { writeTransferInfo } from "../harness/client_process.ts";
import {
  type BenchServer,
  median,
  startBenchServer,
  timeClient,
} from "./support/bench_processes.ts";
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

/** Starts a secure-mode server process in `dir`, on port 0 and secure port 0. */
function startServer(dir: string): Promise<BenchServer> {
  return startBenchServer(dir);
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
  const run = await timeClient(["--dir", dir, "--quiet", "--no-wait", ...args]);
  const serverPeak = server.stop().peakRssBytes;
  if (run.code !== 0) throw new Error(`Cannot benchmark: the client failed: ${run.stderr}`);
  return { seconds: run.seconds, clientPeak: run.figures.peakRssBytes, serverPeak };
}

function highest(values: Array<number | undefined>): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

const scratch = await Deno.makeTempDir({ prefix: "retrieval-bench-" });
let server: BenchServer | undefined;
try {
  server = await startServer(join(scratch, "server"));
  const clientDir = join(scratch, "client");
  const toDir = join(scratch, "fetched");
  const file = join(scratch, "transfer.bin");
  await writeRandomFile(file, size);
  await writeTransferInfo(clientDir, server.port, "bench retrieval", file);
  await Deno.writeTextFile(join(clientDir, "warm-up.bin"), "warm up");
  // Registration and the first contact's pinning: not counted.
  await runClient(clientDir, server.process.child.pid, [join(clientDir, "warm-up.bin")]);
  const peakResettable = resetPeak(server.process.child.pid);
  const uploads: Measure[] = [];
  const downloads: Measure[] = [];
  for (let run = 0; run < runs; run++) {
    // --force: every run sends, though the same file is "already stored" after the first
    // (without it, the later runs only hashed the file and skipped the upload).
    uploads.push(await runClient(clientDir, server.process.child.pid, ["--force"]));
    downloads.push(
      await runClient(clientDir, server.process.child.pid, [
        "--get",
        "transfer.bin",
        "--to",
        toDir,
        "--force",
      ]),
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
