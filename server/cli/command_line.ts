/**
 * The server's command line, parsed into one {@linkcode Command}: run the
 * server, or one of the operator commands that read or change its registry.
 *
 * ```text
 * server [--dir DIR] [--port PORT] [--host HOST] [--max-file-size SIZE] [--log-level LEVEL]
 *        [--dialects LIST]
 * server clients [--dir DIR] [--json] [--forget-unused-after H]
 * server files [NAME] [--dir DIR] [--json]
 * server forget NAME [--delete-files] [--dir DIR]
 * server fingerprint [--dir DIR] [--identity FILE] [--registry URL]
 * server identity FILE
 * server rotate-identity [FILE] [--registry URL]
 * ```
 *
 * This file checks the command and its arguments; the options table is
 * `option_table.ts`, each value's parser `option_values.ts`, the `serve`
 * command's options `serve_options.ts` and the help text `usage.ts` (these
 * exports stay here too).
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import type { LogLevel } from "@logtape/logtape";
import { parseArgs } from "node:util";
import type { Dialect } from "../../protocol/dialects/mod.ts";
import { checkOptionNames, COMMAND_OPTIONS, type OptionName, OPTIONS } from "./option_table.ts";
import { parseCount, UsageError } from "./option_values.ts";
import { serveCommand } from "./serve_options.ts";

export {
  parseCount,
  parseDialects,
  parseDuration,
  parseHttpAddress,
  parseMaxFileSize,
  parseMaxStored,
  parsePort,
  UsageError,
} from "./option_values.ts";
export { USAGE } from "./usage.ts";

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
    minRate?: number;
    verdictTimeoutMs?: number;
    registrationsPerMinute?: number;
    forgetUnusedAfterMs?: number;
    dialects?: readonly Dialect[];
    logLevel: LogLevel;
  }
  | Common & { kind: "clients"; json: boolean; forgetUnusedAfterMs?: number }
  | Common & { kind: "fingerprint"; identity?: string }
  | Common & { kind: "identity"; file: string }
  | Common & { kind: "rotate-identity"; file?: string }
  | Common & { kind: "files"; name?: string; json: boolean }
  | Common & { kind: "forget"; name: string; deleteFiles: boolean };

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

/** `--forget-unused-after H` of `server clients`: the server's, for when names are freed. */
function forgetUnusedAfter(text: string | undefined): { forgetUnusedAfterMs?: number } {
  if (text === undefined) return {};
  return { forgetUnusedAfterMs: parseCount("--forget-unused-after", text, "hours") * 3_600_000 };
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
      return {
        kind: "clients",
        dir,
        json: values.json ?? false,
        ...forgetUnusedAfter(values["forget-unused-after"]),
      };
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
function describe(command: string): string {
  return command === "serve" ? "the server" : `server ${command}`;
}
