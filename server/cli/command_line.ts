/**
 * The server's command line, parsed into one {@linkcode Command}: run the
 * server, or one of the operator commands that read or change its registry.
 *
 * ```text
 * server [--dir DIR] [--port PORT] [--host HOST] [--max-file-size SIZE] [--log-level LEVEL]
 *        [--dialects LIST]
 * server clients [--dir DIR] [--json]
 * server files [NAME] [--dir DIR] [--json]
 * server forget NAME [--delete-files] [--dir DIR]
 * server fingerprint [--dir DIR] [--identity FILE] [--registry URL]
 * server identity FILE
 * server rotate-identity [FILE] [--registry URL]
 * ```
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { isLogLevel, type LogLevel } from "@logtape/logtape";
import { parseArgs } from "node:util";
import { DEFAULT_MAX_FILE_SIZE, MAX_ENCODABLE_FILE_SIZE } from "../../protocol/mod.ts";
import { type Dialect, parseDialect } from "../../protocol/dialects/mod.ts";
import { ByteSizeError, formatBytes, parseByteSize } from "../../common/units.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES } from "../storage/registry.ts";
import {
  DEFAULT_FORGET_UNUSED_AFTER_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_PER_IDENTITY,
  DEFAULT_REGISTRATIONS_PER_MINUTE,
  DEFAULT_VERDICT_TIMEOUT_MS,
} from "../server.ts";

/** The usage text of `server --help`. */
export const USAGE = `Usage: server [options]                      run the server
       server clients [--json]               list the registered clients
       server files [NAME] [--json]          list the stored files (of client NAME)
       server forget NAME [--delete-files]   forget a client: its name is free again;
                                             with --delete-files, its files are deleted too
       server fingerprint                    print the secure mode's certificate
                                             fingerprint, which clients pin
       server identity FILE                  make a new identity file for --identity
       server rotate-identity [FILE] [--registry URL]
                                             make FILE (or a new identity) the
                                             deployment's; restart every instance

Receives files from clients over the protocol v3 (see docs/protocol.md). The
operator commands work on the same data folder, also while the server runs.

Options:
  --dir DIR             data folder: port.info, received_files/, server.db, server.log
                        (default: the working directory)
  --port PORT           port to listen on; overrides port.info (default: port.info, else 1256)
  --host HOST           address to listen on (default: all, IPv6 and IPv4)
  --secure-port PORT    the secure mode's TLS port (default: the port plus one)
  --no-secure           no secure mode: no TLS port, plain protocol v3 only
  --identity FILE       the secure mode's identity (made by server identity FILE;
                        default: server_identity.pem in --dir, or the deployment's
                        in a shared --registry)
  --http HOST:PORT      health (GET /healthz) and metrics (GET /metrics, Prometheus)
                        on this address, such as 127.0.0.1:9100 (default: off)
  --public-secure-port PORT
                        the secure port clients reach, named in the discovery
                        answer: a load balancer's (default: --secure-port)
  --max-file-size SIZE  largest file accepted: 800MB, 1.5GB, 512MiB, or bytes
                        (default: ${formatBytes(DEFAULT_MAX_FILE_SIZE)}; at most ${
  formatBytes(MAX_ENCODABLE_FILE_SIZE)
}, what the protocol carries)
  --max-files N         most files one client may store (default: ${DEFAULT_MAX_FILES})
  --max-stored SIZE     most bytes one client may store: 100GB, 1TiB, or bytes
                        (default: ${formatBytes(DEFAULT_MAX_BYTES)})
  --partial-ttl TIME    how long the bytes of a cut upload are kept for the
                        client to resume (secure port): 90m, 24h, 7d, or
                        seconds (default: 24h); they count against --max-stored
  --max-connections N   most connections open at once (default: ${DEFAULT_MAX_CONNECTIONS})
  --max-per-address N   most connections open at once from one address
                        (default: ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS})
  --max-per-identity N  most connections signed in at once as one client
                        (default: ${DEFAULT_MAX_PER_IDENTITY})
  --verdict-timeout S   seconds a client has to answer 1603 (900, 901 or 902) before its
                        upload is discarded and its connection closed
                        (default: ${DEFAULT_VERDICT_TIMEOUT_MS / 1000})
  --registrations-per-address N
                        most names registered from one address per minute
                        (default: ${DEFAULT_REGISTRATIONS_PER_MINUTE})
  --forget-unused-after H
                        hours after which a name whose client never signed in again
                        nor stored a file is freed (default: ${
  DEFAULT_FORGET_UNUSED_AFTER_MS / 3_600_000
})
  --dialects LIST       the protocol dialects served on the plain port, comma-separated:
                        reference, a-per-packet, b, c, d (default: all; docs/protocol.md §15)
  --log-level LEVEL     trace, debug, info, warning, error or fatal (default: info)
  --json                operator commands: print JSON instead of a table
  --delete-files        forget: also delete the client's files
  --registry URL        a shared PostgreSQL registry, postgres://user:password@host:port/db
                        (env FT_REGISTRY_URL; default: server.db, SQLite, in --dir)
  --store STORE         s3://BUCKET (with FT_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID,
                        AWS_SECRET_ACCESS_KEY) or a folder (env FT_STORE; default:
                        received_files/ in --dir)
  -h, --help            show this help
  -V, --version         show the version

Exit codes: 0 success (the server after a clean shutdown), 1 an expected failure
(the port is in use, the database is locked, an unknown client, ...), 2 bad usage,
70 an internal error (a bug: the message comes with its stack).
`;

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

/** Options every command takes. */
interface Common {
  /** The data folder. */
  dir: string;
  /** `--registry`: a shared PostgreSQL registry (see server/storage/storage_selection.ts). */
  registry?: string;
  /** `--store`: `s3://bucket` or a folder. */
  store?: string;
}

/** What the command line asks for. */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | Common & {
    kind: "serve";
    port?: number;
    host?: string;
    securePort?: number | false;
    identity?: string;
    publicSecurePort?: number;
    http?: { hostname: string; port: number };
    maxFileSize: number;
    maxStoredFiles?: number;
    maxStoredBytes?: number;
    partialTtlMs?: number;
    maxConnections?: number;
    maxConnectionsPerAddress?: number;
    maxConnectionsPerIdentity?: number;
    verdictTimeoutMs?: number;
    registrationsPerMinute?: number;
    forgetUnusedAfterMs?: number;
    dialects?: readonly Dialect[];
    logLevel: LogLevel;
  }
  | Common & { kind: "clients"; json: boolean }
  | Common & { kind: "fingerprint"; identity?: string }
  | Common & { kind: "identity"; file: string }
  | Common & { kind: "rotate-identity"; file?: string }
  | Common & { kind: "files"; name?: string; json: boolean }
  | Common & { kind: "forget"; name: string; deleteFiles: boolean };

const OPTIONS = {
  dir: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  "max-file-size": { type: "string" },
  "max-files": { type: "string" },
  "max-stored": { type: "string" },
  "partial-ttl": { type: "string" },
  "max-connections": { type: "string" },
  "max-per-address": { type: "string" },
  "max-per-identity": { type: "string" },
  "verdict-timeout": { type: "string" },
  "registrations-per-address": { type: "string" },
  "forget-unused-after": { type: "string" },
  "log-level": { type: "string" },
  dialects: { type: "string" },
  "secure-port": { type: "string" },
  "no-secure": { type: "boolean" },
  identity: { type: "string" },
  http: { type: "string" },
  "public-secure-port": { type: "string" },
  json: { type: "boolean" },
  "delete-files": { type: "boolean" },
  registry: { type: "string" },
  store: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

type OptionName = keyof typeof OPTIONS;

/** The options each command accepts, beyond `--dir`, `--help`, `--version`. */
const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  serve: [
    "port",
    "host",
    "max-file-size",
    "max-files",
    "max-stored",
    "partial-ttl",
    "max-connections",
    "max-per-address",
    "max-per-identity",
    "verdict-timeout",
    "registrations-per-address",
    "forget-unused-after",
    "dialects",
    "log-level",
    "registry",
    "store",
    "secure-port",
    "no-secure",
    "identity",
    "public-secure-port",
    "http",
  ],
  fingerprint: ["identity", "registry"],
  identity: [],
  "rotate-identity": ["registry"],
  clients: ["json", "registry", "store"],
  files: ["json", "registry", "store"],
  forget: ["delete-files", "registry", "store"],
};

/**
 * Parses the server's arguments.
 *
 * @throws {UsageError} for an unknown option or command, a missing or extra
 * argument, or a value that does not parse.
 */
export function parseCommandLine(args: string[]): Command {
  checkOptionNames(args);
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`Cannot parse the command line: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const [name = "serve", ...rest] = positionals;
  const allowed = COMMAND_OPTIONS[name];
  if (allowed === undefined || name === "serve" && positionals.length > 0) {
    throw new UsageError(
      `Cannot run ${JSON.stringify(name)}: the commands are clients, files, forget, ` +
        "fingerprint, identity and rotate-identity",
    );
  }
  for (const option of Object.keys(values) as OptionName[]) {
    if (option !== "dir" && !allowed.includes(option)) {
      throw new UsageError(`Cannot use --${option} with ${describe(name)}`);
    }
  }
  const dir = values.dir ?? ".";
  return { ...commandOf(name, rest, values, dir), ...storageOptions(values) };
}

/** `--registry` and `--store`, which every command takes. */
function storageOptions(values: { registry?: string; store?: string }) {
  return {
    ...(values.registry === undefined ? {} : { registry: values.registry }),
    ...(values.store === undefined ? {} : { store: values.store }),
  };
}

function commandOf(
  name: string,
  rest: string[],
  values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"],
  dir: string,
): Command {
  switch (name) {
    case "clients":
      expectArguments(name, rest, 0);
      return { kind: "clients", dir, json: values.json ?? false };
    case "files":
      expectArguments(name, rest, 1);
      return {
        kind: "files",
        dir,
        json: values.json ?? false,
        ...(rest[0] ? { name: rest[0] } : {}),
      };
    case "forget":
      if (rest.length === 0) {
        throw new UsageError("Cannot run server forget: it needs a client name");
      }
      expectArguments(name, rest, 1);
      return { kind: "forget", dir, name: rest[0]!, deleteFiles: values["delete-files"] ?? false };
    case "fingerprint":
      expectArguments(name, rest, 0);
      return {
        kind: "fingerprint",
        dir,
        ...(values.identity ? { identity: values.identity } : {}),
      };
    case "identity":
      if (rest.length === 0) {
        throw new UsageError("Cannot run server identity: it needs the file to write");
      }
      expectArguments(name, rest, 1);
      return { kind: "identity", dir, file: rest[0]! };
    case "rotate-identity":
      expectArguments(name, rest, 1);
      return { kind: "rotate-identity", dir, ...(rest[0] ? { file: rest[0] } : {}) };
    default:
      return serveCommand(dir, values);
  }
}

function expectArguments(command: string, rest: string[], max: number): void {
  if (rest.length > max) {
    throw new UsageError(
      `Cannot run server ${command}: unexpected ${JSON.stringify(rest[max])}` +
        (max === 1 ? " (a name with spaces needs quotes)" : ""),
    );
  }
}

/** Names an unknown option in plain words (before `parseArgs` would, at length). */
function checkOptionNames(args: string[]): void {
  for (const arg of args) {
    if (arg === "--") return;
    const name = /^--([^=]+)/.exec(arg)?.[1] ?? /^-([^-])$/.exec(arg)?.[1];
    if (name === undefined) continue;
    const known = name in OPTIONS ||
      Object.values(OPTIONS).some((option) => "short" in option && option.short === name);
    if (!known) throw new UsageError(`Cannot use ${arg}: there is no such option`);
  }
}

function serveCommand(
  dir: string,
  values: {
    port?: string;
    host?: string;
    "max-file-size"?: string;
    "max-files"?: string;
    "max-stored"?: string;
    "partial-ttl"?: string;
    "max-connections"?: string;
    "max-per-address"?: string;
    "max-per-identity"?: string;
    "verdict-timeout"?: string;
    "registrations-per-address"?: string;
    "forget-unused-after"?: string;
    dialects?: string;
    "log-level"?: string;
    "secure-port"?: string;
    "no-secure"?: boolean;
    identity?: string;
    "public-secure-port"?: string;
    http?: string;
  },
): Command {
  const logLevel = values["log-level"] ?? "info";
  if (!isLogLevel(logLevel)) {
    throw new UsageError(
      `Cannot use --log-level ${logLevel}: the levels are trace, debug, info, warning, error and fatal`,
    );
  }
  return {
    kind: "serve",
    dir,
    logLevel,
    maxFileSize: values["max-file-size"] === undefined
      ? DEFAULT_MAX_FILE_SIZE
      : parseMaxFileSize(values["max-file-size"]),
    ...(values.port === undefined ? {} : { port: parsePort(values.port) }),
    ...(values["max-files"] === undefined
      ? {}
      : { maxStoredFiles: parseCount("--max-files", values["max-files"], "files") }),
    ...(values["max-stored"] === undefined
      ? {}
      : { maxStoredBytes: parseMaxStored(values["max-stored"]) }),
    ...(values["partial-ttl"] === undefined
      ? {}
      : { partialTtlMs: parseDuration("--partial-ttl", values["partial-ttl"]) }),
    ...(values["max-connections"] === undefined ? {} : {
      maxConnections: parseCount("--max-connections", values["max-connections"], "connections"),
    }),
    ...(values["max-per-address"] === undefined ? {} : {
      maxConnectionsPerAddress: parseCount(
        "--max-per-address",
        values["max-per-address"],
        "connections",
      ),
    }),
    ...availabilityOptions(values),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values.dialects === undefined ? {} : { dialects: parseDialects(values.dialects) }),
    ...securePortOption(values["secure-port"], values["no-secure"]),
    ...secureModeOptions(values),
    ...(values.http === undefined ? {} : { http: parseHttpAddress(values.http) }),
  };
}

function securePortOption(
  port: string | undefined,
  off: boolean | undefined,
): { securePort?: number | false } {
  if (off && port !== undefined) {
    throw new UsageError("Cannot use --secure-port with --no-secure: choose one");
  }
  if (off) return { securePort: false };
  return port === undefined ? {} : { securePort: parsePort(port, "--secure-port") };
}

/** `--identity` and `--public-secure-port`, which need the secure mode. */
function secureModeOptions(
  values: { identity?: string; "public-secure-port"?: string; "no-secure"?: boolean },
): { identity?: string; publicSecurePort?: number } {
  for (const option of ["identity", "public-secure-port"] as const) {
    if (values["no-secure"] && values[option] !== undefined) {
      throw new UsageError(`Cannot use --${option} with --no-secure: it is for the secure mode`);
    }
  }
  const publicPort = values["public-secure-port"];
  if (publicPort !== undefined && (parsePort(publicPort, "--public-secure-port") === 0)) {
    throw new UsageError(
      "Cannot use --public-secure-port 0: it names the port clients reach, 1 to 65535",
    );
  }
  return {
    ...(values.identity === undefined ? {} : { identity: values.identity }),
    ...(publicPort === undefined ? {} : { publicSecurePort: Number(publicPort) }),
  };
}

/**
 * Parses `--http HOST:PORT` (`127.0.0.1:9100`, `[::1]:9100`; port 0 picks a
 * free one).
 *
 * @example
 * ```ts
 * import { parseHttpAddress } from "./command_line.ts";
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

function describe(command: string): string {
  return command === "serve" ? "the server" : `server ${command}`;
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

/** The options of issue 17's limits: per identity, verdict, registrations. */
function availabilityOptions(values: {
  "max-per-identity"?: string;
  "verdict-timeout"?: string;
  "registrations-per-address"?: string;
  "forget-unused-after"?: string;
}): {
  maxConnectionsPerIdentity?: number;
  verdictTimeoutMs?: number;
  registrationsPerMinute?: number;
  forgetUnusedAfterMs?: number;
} {
  const count = (option: string, text: string | undefined, unit: string) =>
    text === undefined ? undefined : parseCount(option, text, unit);
  const perIdentity = count("--max-per-identity", values["max-per-identity"], "connections");
  const verdict = count("--verdict-timeout", values["verdict-timeout"], "seconds");
  const registrations = count(
    "--registrations-per-address",
    values["registrations-per-address"],
    "registrations",
  );
  const forget = count("--forget-unused-after", values["forget-unused-after"], "hours");
  return {
    ...(perIdentity === undefined ? {} : { maxConnectionsPerIdentity: perIdentity }),
    ...(verdict === undefined ? {} : { verdictTimeoutMs: verdict * 1000 }),
    ...(registrations === undefined ? {} : { registrationsPerMinute: registrations }),
    ...(forget === undefined ? {} : { forgetUnusedAfterMs: forget * 3_600_000 }),
  };
}

/**
 * Parses a count option (`--max-files`, `--max-connections`,
 * `--max-per-address`): a whole number, at least 1.
 *
 * @example
 * ```ts
 * import { parseCount } from "./command_line.ts";
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
 * import { parseDialects } from "./command_line.ts";
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
