/**
 * Captures the server's log records in memory for one test, so tests can
 * assert that something was logged. Logging is global: tests that capture
 * run one at a time (Deno runs the tests of a file in sequence).
 *
 * @module
 */

import { configure, type LogLevel, type LogRecord, reset } from "@logtape/logtape";

/** The records captured so far; dispose to stop capturing. */
export interface LogCapture extends AsyncDisposable {
  /** Every record at or above the level, in order. */
  readonly records: LogRecord[];
}

/** Starts capturing the `server` category's records at `level` and above. */
export async function captureServerLogs(level: LogLevel): Promise<LogCapture> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["server"], lowestLevel: level, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
    reset: true,
  });
  return { records, [Symbol.asyncDispose]: () => reset() };
}
