/**
 * The server's command line: `deno task server` (and later the compiled
 * `server`).
 *
 * ```text
 * server [--dir DIR] [--port PORT] [--host HOST] [--max-file-size SIZE] [--log-level LEVEL]
 * ```
 *
 * Logs go to stderr and to `server.log` in the data folder. SIGINT (Ctrl-C)
 * and SIGTERM shut down cleanly (within the grace period for running
 * uploads); repeated signals are ignored. Exit codes:
 * 0 after a clean shutdown, 1 when the server cannot start, 2 for bad usage.
 *
 * @module
 */

import {
  configure,
  getLogger,
  getTextFormatter,
  isLogLevel,
  type LogLevel,
  type Sink,
} from "@logtape/logtape";
import { join } from "node:path";
import { parseArgs } from "node:util";
import denoConfig from "../deno.json" with { type: "json" };
import { DEFAULT_MAX_FILE_SIZE, MAX_ENCODABLE_FILE_SIZE } from "../protocol/mod.ts";
import { DEFAULT_HOST, type RunningServer, startServer } from "./server.ts";

/** Name of the log file in the data folder. */
export const LOG_FILE = "server.log";

const USAGE = `Usage: server [options]

Receives files from clients over the protocol v3 (see PROTOCOL.md).

Options:
  --dir DIR             data folder: port.info, received_files/, server.db, server.log
                        (default: the working directory)
  --port PORT           port to listen on; overrides port.info (default: port.info, else 1256)
  --host HOST           address to listen on (default: ${DEFAULT_HOST}, all interfaces)
  --max-file-size SIZE  largest file accepted, in bytes; suffixes K, M, G (powers of 1000)
                        (default: ${DEFAULT_MAX_FILE_SIZE / 1e6}M)
  --log-level LEVEL     trace, debug, info, warning, error or fatal (default: info)
  -h, --help            show this help
  -V, --version         show the version
`;

class UsageError extends Error {}

/** Parses a size such as `800M` or `1000000`. */
function parseSize(text: string): number {
  const match = /^([0-9]+)([kKmMgG]?)$/.exec(text);
  if (match === null) throw new UsageError(`Cannot parse --max-file-size: ${JSON.stringify(text)}`);
  const unit = { "": 1, k: 1e3, m: 1e6, g: 1e9 }[match[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  const size = Number(match[1]) * unit;
  if (!Number.isSafeInteger(size) || size > MAX_ENCODABLE_FILE_SIZE) {
    throw new UsageError(
      `Cannot use --max-file-size ${text}: the protocol carries at most ${MAX_ENCODABLE_FILE_SIZE} bytes`,
    );
  }
  return size;
}

function parsePort(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`Cannot parse --port: ${JSON.stringify(text)} is not a port (0-65535)`);
  }
  return Number(text);
}

function writeAllSync(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/**
 * One log line. Strings appear as they are, without quotes: every string the
 * server logs is its own text or a name it has already validated.
 */
const formatLine = getTextFormatter({ value: "bare" });

/** A sink writing formatted lines synchronously, so no line is lost on exit. */
function lineSink(file: { writeSync(p: Uint8Array): number }): Sink {
  const encoder = new TextEncoder();
  return (record) => writeAllSync(file, encoder.encode(formatLine(record)));
}

/** Runs the server command line; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseArgs({
      args,
      options: {
        dir: { type: "string", default: "." },
        port: { type: "string" },
        host: { type: "string", default: DEFAULT_HOST },
        "max-file-size": { type: "string" },
        "log-level": { type: "string", default: "info" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
    if (options.help) {
      console.log(USAGE);
      return 0;
    }
    if (options.version) {
      console.log(`server ${denoConfig.version}`);
      return 0;
    }
    if (!isLogLevel(options["log-level"])) {
      throw new UsageError(`Cannot parse --log-level: ${JSON.stringify(options["log-level"])}`);
    }
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let port: number | undefined;
  let maxFileSize: number;
  try {
    port = options.port === undefined ? undefined : parsePort(options.port);
    maxFileSize = options["max-file-size"] === undefined
      ? DEFAULT_MAX_FILE_SIZE
      : parseSize(options["max-file-size"]);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const level: LogLevel = options["log-level"];
  const dir = options.dir;

  let logFile: Deno.FsFile;
  try {
    await Deno.mkdir(dir, { recursive: true });
    logFile = await Deno.open(join(dir, LOG_FILE), { append: true, create: true });
  } catch (error) {
    const reason = error instanceof Deno.errors.NotCapable
      ? "this server may only read and write its working directory and what is below it; " +
        "start it from the data folder, or from a folder above it"
      : (error as Error).message;
    console.error(`Cannot prepare the data folder ${dir}: ${reason}`);
    return 1;
  }
  try {
    await configure({
      sinks: { stderr: lineSink(Deno.stderr), file: lineSink(logFile) },
      loggers: [
        { category: ["server"], lowestLevel: level, sinks: ["stderr", "file"] },
        { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
      ],
    });
    return await serve({
      dir,
      host: options.host,
      maxFileSize,
      ...(port === undefined ? {} : { port }),
    });
  } finally {
    logFile.close();
  }
}

async function serve(
  options: { dir: string; host: string; maxFileSize: number; port?: number },
): Promise<number> {
  const logger = getLogger(["server"]);
  // Listen for signals before starting: one that arrives while the server
  // starts must not kill it with the database open.
  let server: RunningServer | undefined;
  let stopping = false;
  const onSignal = (signal: Deno.Signal) => () => {
    // Under `deno task`, Ctrl-C reaches the server twice (from the terminal
    // and forwarded by the task runner): a repeat is not a second request.
    // The shutdown is bounded by the grace period anyway.
    if (stopping) {
      logger.debug("{signal} received again: already shutting down", { signal });
      return;
    }
    stopping = true;
    logger.info("{signal} received: shutting down", { signal });
    server?.close();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => [signal, onSignal(signal)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    try {
      server = await startServer(options);
    } catch (error) {
      console.error((error as Error).message);
      return 1;
    }
    if (stopping) server.close();
    await server.finished;
  } finally {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
