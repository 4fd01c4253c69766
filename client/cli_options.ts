/**
 * The client's command line: `client [options] [PATH...]`, its help text, and
 * the usage errors (exit code 2).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { errorMessage } from "../common/error_message.ts";
import { FingerprintSyntaxError, parseFingerprint } from "../protocol/fingerprint.ts";
import { ConfigError } from "./client_error.ts";
import { DEFAULT_TIMEOUT_MS } from "./connection.ts";

/** Connection retries after the first attempt, by default. */
export const DEFAULT_RETRIES = 3;
/** Delay before the first retry, doubled for each next one, in ms. */
export const DEFAULT_RETRY_DELAY_MS = 500;

/** The text of `client --help`. */
export const USAGE = `Usage: client [options] [PATH...]
       client --list [--json]
       client --get NAME... [--to DIR] [--force]

Sends files to a file transfer server, encrypted, as described by
transfer.info in the client's folder:
  line 1  host:port        (127.0.0.1:1256, example.org:1256, [::1]:1256)
  line 2  your name        (1 to 100 printable ASCII characters)
  line 3  the file to send (absolute, or relative to the client's folder);
          not needed, and not used, when PATHs are given
Spaces and tabs around each line are ignored (the client says so).

PATH...  send these files instead of line 3, one after another on one
         connection; relative paths are relative to where you typed the
         command. A summary at the end says which arrived. A folder sends
         every regular file below it, stored under its path from the
         folder's parent (symbolic links are not followed; the secure mode
         of our server only).

In the secure mode the client first asks what the server holds: a file
already stored with the same content is not sent again, and an upload
that was cut resumes where it stopped.

--list   the files the server holds for you: name (with its folders), size,
         when it was stored (UTC), start of its SHA-256; then a total.
         --json prints the same as one JSON document, for scripts.
--get NAME...
         fetches each named file (a name as --list shows it) into DIR
         (--to, relative to where you typed the command; default there),
         verified against the server's SHA-256 and cksum; an existing file
         is replaced only with --force. A cut download continues where it
         stopped on the next run. Both need the secure mode (TLS): a server
         without it (the reference server) is refused, exit 4.

With a server that offers the secure mode, the client pins its certificate
in known_servers on first contact (like ssh's known_hosts) and from then on
talks to it only over TLS; it never falls back to the plain protocol.

On first use the client registers and writes me.info and priv.key beside
transfer.info (keep them: they are your identity). If it ever has to
register again, it first moves the old ones aside as me.info.<id>.old and
priv.key.<id>.old. The client's folder is --dir, else the folder you typed
the command in, else the folder of the client executable.

Options:
  --dir <folder>        the folder with transfer.info, me.info and priv.key
                        (relative to where you typed the command)
  -q, --quiet           print only errors (no progress, retries or results)
  --no-wait             never wait for Enter before closing
  --retries <n>         connection retries after the first attempt (default ${DEFAULT_RETRIES})
  --retry-delay <ms>    first retry delay, doubled each time (default ${DEFAULT_RETRY_DELAY_MS})
  --force               send files the server already holds (same size and
                        SHA-256) anyway; with --get, replace local files
  --no-clobber          never replace a file stored under the same name
  --secure              refuse the plain protocol v3, even on first contact (only
                        the secure mode: TLS with a pinned server certificate)
  --pin <fingerprint>   the server's certificate fingerprint, as its operator
                        reads it out (SHA256:...): authenticates even the first
                        contact, or re-pins a server whose identity changed
  --timeout <ms>        give up on a response that takes longer than this, or a
                        write that makes no progress for this long
                        (default ${DEFAULT_TIMEOUT_MS}; 0: wait forever)
  --standalone-exec <path>
                        look for the folder as a compiled client at <path> would
                        (for testing the double-click lookup)
  -h, --help            show this help
  -V, --version         show the version

Exit codes: 0 the server confirmed every file; 2 bad configuration or
input; 3 network failure; 4 rejected by the server or protocol error; 5
cksum mismatch after 4 sends; 70 a bug in the client (please report it);
130 interrupted (Ctrl-C). With several files, the highest code of any file.
Every run appends its result lines to transfer.log in the client's folder.
`;

/** The parsed command line. */
export interface Options {
  /** `--dir`, as typed. */
  dir: string | undefined;
  /** Files named on the command line, as typed. */
  paths: string[];
  /** `--quiet`. */
  quiet: boolean;
  /** `--no-wait`. */
  noWait: boolean;
  /** `--retries`. */
  retries: number;
  /** `--retry-delay`, in ms. */
  retryDelay: number;
  /** `--timeout`, in ms. */
  timeout: number;
  /** `--standalone-exec`. */
  standaloneExec: string | undefined;
  /** `--secure`. */
  secure: boolean;
  /** `--no-clobber`. */
  noClobber: boolean;
  /** `--pin`, parsed. */
  pin: Uint8Array | undefined;
  /** `--list`. */
  list: boolean;
  /** `--json` (with `--list`). */
  json: boolean;
  /** `--get`: the positionals are names to fetch. */
  get: boolean;
  /** `--to`, as typed (with `--get`). */
  to: string | undefined;
  /**
   * `--force`: when sending, send files the server already holds; with
   * `--get`, replace an existing local file.
   */
  force: boolean;
  /** `--help`. */
  help: boolean;
  /** `--version`. */
  version: boolean;
}

function usageError(reason: string, cause?: unknown): ConfigError {
  return new ConfigError(
    { action: "parse the arguments", reason, hint: "See client --help" },
    cause === undefined ? undefined : { cause },
  );
}

function nonNegativeInteger(text: string | undefined, fallback: number, option: string): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,9}$/.test(text)) {
    throw usageError(`${option} needs a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function parsePin(text: string): Uint8Array {
  try {
    return parseFingerprint(text);
  } catch (error) {
    if (!(error instanceof FingerprintSyntaxError)) throw error;
    throw usageError(`--pin: fingerprint ${JSON.stringify(error.text)}: ${error.reason}`, error);
  }
}

/**
 * Parses the command line.
 *
 * @throws {ConfigError} for an unknown option or a bad value.
 */
export function parseOptions(args: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        dir: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        "no-wait": { type: "boolean" },
        retries: { type: "string" },
        "retry-delay": { type: "string" },
        timeout: { type: "string" },
        "standalone-exec": { type: "string" },
        secure: { type: "boolean" },
        force: { type: "boolean" },
        "no-clobber": { type: "boolean" },
        pin: { type: "string" },
        list: { type: "boolean" },
        json: { type: "boolean" },
        get: { type: "boolean" },
        to: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    // node:util's own sentence, quoted as it is.
    throw usageError(JSON.stringify(errorMessage(error)), error);
  }
  const { values, positionals } = parsed;
  checkRetrievalOptions(values, positionals);
  return {
    dir: values.dir,
    paths: positionals,
    quiet: values.quiet ?? false,
    noWait: values["no-wait"] ?? false,
    retries: nonNegativeInteger(values.retries, DEFAULT_RETRIES, "--retries"),
    retryDelay: nonNegativeInteger(values["retry-delay"], DEFAULT_RETRY_DELAY_MS, "--retry-delay"),
    timeout: nonNegativeInteger(values.timeout, DEFAULT_TIMEOUT_MS, "--timeout"),
    standaloneExec: values["standalone-exec"],
    secure: values.secure ?? false,
    force: values.force ?? false,
    noClobber: values["no-clobber"] ?? false,
    pin: values.pin === undefined ? undefined : parsePin(values.pin),
    list: values.list ?? false,
    json: values.json ?? false,
    get: values.get ?? false,
    to: values.to,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

/** `--list` and `--get` take their own options, and not each other. */
function checkRetrievalOptions(
  values: { list?: boolean; json?: boolean; get?: boolean; to?: string },
  positionals: string[],
): void {
  if (values.list && values.get) throw usageError("--list and --get cannot be used together");
  if (values.list && positionals.length > 0) {
    throw usageError(`--list takes no names (got ${JSON.stringify(positionals[0])})`);
  }
  if (values.json && !values.list) throw usageError("--json goes with --list");
  if (values.get && positionals.length === 0) throw usageError("--get needs the names to fetch");
  if (values.to !== undefined && !values.get) throw usageError("--to goes with --get");
}
