/**
 * The server and client processes of the benchmarks, started through the one
 * harness (`harness/`): the server on 127.0.0.1 with port 0 and its bound
 * port read back, the client with exactly the compiled binary's permissions,
 * each watched by a {@linkcode ProcessMonitor} for peak memory and CPU time.
 *
 * @module
 */

import { ClientProcess } from "../../harness/client_process.ts";
import { ServerProcess, type SpawnOptions } from "../../harness/server_process.ts";
import { type ProcessFigures, ProcessMonitor } from "./process_monitor.ts";

/** A server process for a benchmark, with its monitor. */
export interface BenchServer {
  /** The process. */
  process: ServerProcess;
  /** Its plain port, as it reported it. */
  port: number;
  /** Its secure port, when the secure mode is on. */
  securePort: number | undefined;
  /** Its memory and CPU time. */
  monitor: ProcessMonitor;
  /** Stops it (SIGTERM), waits for it and stops the monitor. */
  stop(): Promise<void>;
}

/**
 * Starts `server/main.ts` in `dir` (created if needed) on 127.0.0.1, port 0,
 * with `args` added; by default as the compiled server runs (its flags, `dir`
 * its working directory). Its warnings and errors are printed as they come.
 */
export async function startBenchServer(
  dir: string,
  args: string[] = [],
  options: SpawnOptions = {},
): Promise<BenchServer> {
  await Deno.mkdir(dir, { recursive: true });
  const process = await ServerProcess.start(
    dir,
    ["--host", "127.0.0.1", "--port", "0", ...args],
    { as: "compiled", echoWarnings: true, ...options },
  );
  const monitor = new ProcessMonitor(process.child.pid);
  return {
    process,
    port: process.port,
    securePort: process.securePort,
    monitor,
    async stop() {
      try {
        await process.stop();
      } finally {
        monitor.stop();
      }
    },
  };
}

/** One client run of a benchmark. */
export interface TimedRun {
  /** Wall time from starting the process to its exit, in seconds. */
  seconds: number;
  /** Its exit code. */
  code: number;
  /** What it printed on stderr, trimmed. */
  stderr: string;
  /** Its peak memory and CPU time. */
  figures: ProcessFigures;
}

/** Runs the client once with `args`, exactly as users run it, timed and monitored. */
export async function timeClient(args: string[]): Promise<TimedRun> {
  const start = performance.now();
  const client = ClientProcess.spawn(args, { fastRetries: false });
  const monitor = new ProcessMonitor(client.child.pid);
  const run = await client.finished();
  const figures = monitor.stop();
  return {
    seconds: (performance.now() - start) / 1000,
    code: run.code,
    stderr: run.stderr.trim(),
    figures,
  };
}

/**
 * The middle value of `values` (the upper one of the two middle values for
 * an even count).
 *
 * @throws {RangeError} for no values.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("Cannot take the median of no values");
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
