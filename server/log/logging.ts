/**
 * Where the server's log goes, and in what shape.
 *
 * | sink          | what                                                             |
 * |---------------|------------------------------------------------------------------|
 * | stderr        | every record, one line each, written at once                     |
 * | `server.log`  | the same lines, in the data folder, created 0600; rotated past  |
 * |               | {@linkcode DEFAULT_LOG_MAX_BYTES} into `server.log.1` ... `.N`   |
 * |               | (at most {@linkcode DEFAULT_LOG_MAX_FILES} old files), flushed   |
 * |               | within a second and when logging is disposed                    |
 *
 * Every line goes through {@linkcode formatLogLine}: whatever a client sent
 * (a name, a text) reaches the log with its control characters escaped, so
 * one record is always one line and no terminal sequence gets through.
 *
 * A warning repeated more than {@linkcode WARNING_BURST} times within
 * {@linkcode WARNING_WINDOW_MS} (the same message template, whatever its
 * values: a flood of refused connections, say) is logged once more as a count
 * when the burst ends, so a client cannot fill the disk through the log.
 *
 * @example
 * ```ts ignore
 * await using _logging = await setupLogging({ dir: ".data", level: "info" });
 * ```
 *
 * @module
 */

import {
  compareLogLevel,
  configure,
  type Filter,
  getLogger,
  getTextFormatter,
  getThrottlingFilter,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { writeAllSync } from "../../common/write_all.ts";
import { join } from "node:path";
import { withContextPrefix } from "./log_context.ts";

/** Name of the log file in the data folder. */
export const LOG_FILE = "server.log";
/** Default for {@linkcode LoggingOptions.maxBytes}: 10 MiB. */
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
/** Default for {@linkcode LoggingOptions.maxFiles}. */
export const DEFAULT_LOG_MAX_FILES = 5;
/** Warnings of one template logged in full per {@linkcode WARNING_WINDOW_MS}. */
export const WARNING_BURST = 20;
/** The window of {@linkcode WARNING_BURST}. */
export const WARNING_WINDOW_MS = 10_000;
/** How long a line may wait in the file sink's buffer. */
const FLUSH_INTERVAL_MS = 1000;
/** Mode of the log files: the log holds every client's name and id. */
const LOG_FILE_MODE = 0o600;

/**
 * Characters that never reach the log raw: C0 controls (line breaks and tabs
 * included), DEL, C1 controls, the Unicode line and paragraph separators, and
 * the bidirectional controls that reorder what a reader sees.
 */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * Escapes every character of `text` that could break a log line or fool its
 * reader (see {@linkcode UNSAFE}): `\n`, `\r`, `\t` as such, others as
 * `\xNN` or `\uNNNN`.
 *
 * @example
 * ```ts
 * import { escapeControlCharacters } from "./logging.ts";
 * console.assert(escapeControlCharacters("a\nb\u202e") === "a\\nb\\u202e");
 * ```
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    if (char === "\n") return "\\n";
    if (char === "\r") return "\\r";
    if (char === "\t") return "\\t";
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * One log line: `<time> [<LVL>] <category>: <message>\n`, the message
 * after the connection and client it is about (see log_context.ts). Strings appear
 * without quotes; every value (a string, or another value as inspected, an
 * error with its stack) has its control characters escaped, so a line never
 * spans two.
 */
export const formatLogLine: TextFormatter = withContextPrefix(getTextFormatter({
  value: (value, inspect) =>
    escapeControlCharacters(typeof value === "string" ? value : inspect(value)),
  sanitize: { sgr: "escape", newlines: "escape" },
}));

/** How to set up logging. */
export interface LoggingOptions {
  /** The data folder, where `server.log` goes; it must exist. */
  dir: string;
  /** The lowest level logged. */
  level: LogLevel;
  /** Size past which `server.log` is rotated; default {@linkcode DEFAULT_LOG_MAX_BYTES}. */
  maxBytes?: number;
  /** Old log files kept; default {@linkcode DEFAULT_LOG_MAX_FILES}. */
  maxFiles?: number;
  /** Where the lines go besides the file; default stderr. */
  console?: { writeSync(p: Uint8Array): number };
}

/**
 * Sends the `server` category to stderr and to the rotating `server.log`
 * (see the module documentation). Dispose the result before exiting: that
 * flushes the file and resets the configuration.
 *
 * @throws {Deno.errors.NotCapable} or another error when `server.log`
 * cannot be created.
 */
export async function setupLogging(options: LoggingOptions): Promise<AsyncDisposable> {
  const path = join(options.dir, LOG_FILE);
  const maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  restrictLogFile(path);
  const file = getRotatingFileSink(path, {
    maxSize: maxBytes,
    maxFiles: options.maxFiles ?? DEFAULT_LOG_MAX_FILES,
    formatter: formatLogLine,
    encoder: new RotationWatcher(path, maxBytes),
    nonBlocking: true,
    flushInterval: FLUSH_INTERVAL_MS,
  });
  const summaries = getLogger(["server", "log"]);
  const throttle = getThrottlingFilter({
    limit: WARNING_BURST,
    windowMs: WARNING_WINDOW_MS,
    key: (record) => `${record.category.join(".")} ${record.level} ${record.rawMessage}`,
    summary: {
      logger: summaries,
      message: "{suppressed} more warnings not logged, like: {key}",
    },
  });
  await configure({
    sinks: { stderr: lineSink(options.console ?? Deno.stderr), file },
    filters: { warnings: warningsOnly(throttle) },
    loggers: [
      {
        category: ["server"],
        lowestLevel: options.level,
        sinks: ["stderr", "file"],
        filters: ["warnings"],
      },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
  return { [Symbol.asyncDispose]: reset };
}

/**
 * Applies `throttle` to warnings and above only: information lines (uploads,
 * sign-ins) are the record of what happened and are never dropped. Disposing
 * the result disposes `throttle`, which logs what it still holds back.
 */
function warningsOnly(throttle: Filter & Disposable): Filter & Disposable {
  const filter = (record: LogRecord) =>
    compareLogLevel(record.level, "warning") < 0 || throttle(record);
  return Object.assign(filter, { [Symbol.dispose]: () => throttle[Symbol.dispose]() });
}

/** Creates `path` 0600 if it is missing, and makes it 0600 if it is not. */
function restrictLogFile(path: string): void {
  Deno.openSync(path, { append: true, create: true, mode: LOG_FILE_MODE }).close();
  if (Deno.build.os !== "windows") Deno.chmodSync(path, LOG_FILE_MODE);
}

/**
 * The file sink's encoder, which also sees each write just before the sink
 * rotates: the sink then creates a new `server.log` with the default mode,
 * which is set to 0600 before anything else runs.
 */
class RotationWatcher {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #encoder = new TextEncoder();

  constructor(path: string, maxBytes: number) {
    this.#path = path;
    this.#maxBytes = maxBytes;
  }

  encode(text: string): Uint8Array<ArrayBuffer> {
    const bytes = this.#encoder.encode(text);
    let size = 0;
    try {
      size = Deno.statSync(this.#path).size;
    } catch {
      // Missing: the sink creates it.
    }
    // The sink rotates, creates the new file and writes to it synchronously
    // right after this returns; this microtask restricts it before any other
    // code runs.
    if (size + bytes.length > this.#maxBytes) queueMicrotask(() => restrictLogFile(this.#path));
    return bytes;
  }
}

/** A sink writing formatted lines synchronously, so no line is lost on exit. */
function lineSink(file: { writeSync(p: Uint8Array): number }): Sink {
  const encoder = new TextEncoder();
  return (record) => {
    writeAllSync(file, encoder.encode(formatLogLine(record)));
  };
}
