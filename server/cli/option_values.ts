/**
 * The server's option values, each parsed and checked on its own: ports,
 * sizes, counts, durations, the `--http` address and the `--dialects` list.
 * A value that does not parse is a {@linkcode UsageError} naming the option,
 * what was typed and what is expected.
 *
 * | parser              | options                                                            |
 * | ------------------- | ------------------------------------------------------------------ |
 * | `parsePort`         | `--port`, `--secure-port`, `--public-secure-port`, `--http`'s port |
 * | `parseMaxFileSize`  | `--max-file-size`                                                  |
 * | `parseMaxStored`    | `--max-stored`                                                     |
 * | `parseMinRate`      | `--min-rate`                                                       |
 * | `parseCount`        | `--max-files`, `--max-connections`, `--max-per-*`, ...             |
 * | `parseDuration`     | `--partial-ttl`                                                    |
 * | `parseHttpAddress`  | `--http`                                                           |
 * | `parseDialects`     | `--dialects`                                                       |
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { MAX_ENCODABLE_FILE_SIZE } from "../../protocol/mod.ts";
import { type Dialect, parseDialect } from "../../protocol/dialects/mod.ts";
import { ByteSizeError, formatBytes, parseByteSize } from "../../common/units.ts";

/** The command line does not parse; the message says why, in one line. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message `Cannot <action>: <reason>`.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/**
 * Parses `--http HOST:PORT` (`127.0.0.1:9100`, `[::1]:9100`; port 0 picks a
 * free one).
 *
 * @example
 * ```ts
 * import { parseHttpAddress } from "./option_values.ts";
 * console.log(parseHttpAddress("[::1]:9100")); // { hostname: "::1", port: 9100 }
 * ```
 *
 * @throws {UsageError} when it is not a host and a port.
 */
export function parseHttpAddress(text: string): { hostname: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):([0-9]{1,5})$/.exec(text);
  if (match === null) {
    throw new UsageError(
      `Cannot use --http ${text}: give HOST:PORT, such as 127.0.0.1:9100 or [::1]:9100`,
    );
  }
  return { hostname: match[1] ?? match[2]!, port: parsePort(match[3]!, "--http's port") };
}

/**
 * Parses `--port`: 0 to 65535 (0 picks a free port).
 *
 * @throws {UsageError} when it is not a port.
 */
export function parsePort(text: string, option = "--port"): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`Cannot use ${option} ${text}: a port is a number from 0 to 65535`);
  }
  return Number(text);
}

/**
 * Parses `--max-file-size`: a size with an optional unit, up to what the
 * protocol's 4-byte size fields carry.
 *
 * @throws {UsageError} saying why the value is refused.
 */
export function parseMaxFileSize(text: string): number {
  let size: number;
  try {
    size = parseByteSize(text);
  } catch (error) {
    if (!(error instanceof ByteSizeError)) throw error;
    throw new UsageError(`Cannot use --max-file-size ${text}: ${error.message}`, { cause: error });
  }
  if (size > MAX_ENCODABLE_FILE_SIZE) {
    throw new UsageError(
      `Cannot use --max-file-size ${text}: the protocol's 4-byte size fields carry files up to ` +
        `${formatBytes(MAX_ENCODABLE_FILE_SIZE)} (${MAX_ENCODABLE_FILE_SIZE} bytes)`,
    );
  }
  return size;
}

/**
 * Parses `--min-rate`: bytes per second, with an optional unit (`64KiB`,
 * `1MB`, or bytes), at least 1.
 *
 * @example
 * ```ts
 * import { parseMinRate } from "./option_values.ts";
 * console.log(parseMinRate("64KiB")); // 65536
 * ```
 *
 * @throws {UsageError} saying why the value is refused.
 */
export function parseMinRate(text: string): number {
  let rate: number;
  try {
    rate = parseByteSize(text);
  } catch (error) {
    if (!(error instanceof ByteSizeError)) throw error;
    throw new UsageError(`Cannot use --min-rate ${text}: ${error.message}`, { cause: error });
  }
  if (rate < 1) {
    throw new UsageError(`Cannot use --min-rate ${text}: it is bytes per second, at least 1`);
  }
  return rate;
}

/**
 * Parses a count option (`--max-files`, `--max-connections`,
 * `--max-per-address`): a whole number, at least 1.
 *
 * @example
 * ```ts
 * import { parseCount } from "./option_values.ts";
 * console.log(parseCount("--max-connections", "512", "connections")); // 512
 * ```
 *
 * @param option The option's name, for the message.
 * @param text What the user typed.
 * @param unit What is counted, for the message ("files", "connections").
 * @throws {UsageError} when it is not a whole number of at least 1.
 */
export function parseCount(option: string, text: string, unit: string): number {
  if (!/^[0-9]{1,15}$/.test(text) || Number(text) < 1) {
    throw new UsageError(`Cannot use ${option} ${text}: it is a number of ${unit}, at least 1`);
  }
  return Number(text);
}

/**
 * Parses a duration: a whole number of seconds, or with a unit s, m, h or d
 * (`90m`, `24h`); returns milliseconds.
 *
 * @throws {UsageError} saying why the value is refused.
 */
export function parseDuration(option: string, text: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text);
  const seconds = match === null
    ? NaN
    : Number(match[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2]!]!;
  if (!(seconds > 0)) {
    throw new UsageError(
      `Cannot use ${option} ${text}: a time is a whole number with s, m, h or d (90m, 24h)`,
    );
  }
  return seconds * 1000;
}

/**
 * Parses `--max-stored`: a size with an optional unit.
 *
 * @throws {UsageError} saying why the value is refused.
 */
export function parseMaxStored(text: string): number {
  try {
    return parseByteSize(text);
  } catch (error) {
    if (!(error instanceof ByteSizeError)) throw error;
    throw new UsageError(`Cannot use --max-stored ${text}: ${error.message}`, { cause: error });
  }
}

/**
 * Parses `--dialects`: dialect names, comma-separated, at least one.
 *
 * @example
 * ```ts
 * import { parseDialects } from "./option_values.ts";
 * console.log(parseDialects("reference, b")); // [ "reference", "b" ]
 * ```
 *
 * @throws {UsageError} for an empty list or a name that is not a dialect.
 */
export function parseDialects(text: string): Dialect[] {
  const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "");
  if (names.length === 0) {
    throw new UsageError(`Cannot use --dialects ${JSON.stringify(text)}: name at least one`);
  }
  const dialects = new Set<Dialect>();
  for (const name of names) {
    try {
      dialects.add(parseDialect(name));
    } catch (error) {
      throw new UsageError(`Cannot use --dialects ${text}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }
  return [...dialects];
}
