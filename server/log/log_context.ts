/**
 * Which connection and which client a log line is about. A connection's
 * logger carries its number, and the client's name once it is known; the
 * log formatter puts them in front of every line, so two uploads of the same
 * name at once can be told apart:
 *
 * ```text
 * ... [INF] server·session: connection 3 (Alice): upload of report.pdf started: 1.2 MB in 152 packets
 * ```
 *
 * @example
 * ```ts
 * import { connectionLogger, forClient } from "./log_context.ts";
 *
 * let logger = connectionLogger(3);
 * logger.info("opened from {peer}", { peer: "127.0.0.1:5000" });
 * logger = forClient(logger, "Alice");
 * logger.info("signed in");
 * ```
 *
 * @module
 */

import { getLogger, type Logger, type LogRecord, type TextFormatter } from "@logtape/logtape";

/** The logger of connection number `connection`. */
export function connectionLogger(connection: number): Logger {
  return getLogger(["server", "session"]).with({ connection });
}

/** `logger`, whose lines now also name the client `client`. */
export function forClient(logger: Logger, client: string): Logger {
  return logger.with({ client });
}

/**
 * The prefix of a record's line: `connection 3 (Alice): `, `connection 3: `,
 * or nothing for a record about no connection.
 */
export function contextPrefix(properties: Record<string, unknown>): string {
  const { connection, client } = properties;
  if (typeof connection !== "number") return "";
  return typeof client === "string"
    ? `connection ${connection} (${client}): `
    : `connection ${connection}: `;
}

/**
 * `format`, with each record's {@linkcode contextPrefix} in front of its
 * message. The client's name goes in as a value, so the formatter escapes it
 * as it escapes every value.
 */
export function withContextPrefix(format: TextFormatter): TextFormatter {
  return (record: LogRecord) => {
    const { connection, client } = record.properties;
    if (typeof connection !== "number") return format(record);
    const [first = "", ...rest] = record.message;
    const message = typeof client === "string"
      ? [`connection ${connection} (`, client, `): ${String(first)}`, ...rest]
      : [`connection ${connection}: ${String(first)}`, ...rest];
    return format({ ...record, message });
  };
}
