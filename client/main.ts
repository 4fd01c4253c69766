/**
 * The file transfer client: `deno task client`, or the compiled `client`.
 *
 * It reads `transfer.info` (`host:port`, name, file path) from its folder,
 * signs in with `me.info`/`priv.key` (or registers and writes them), sends the
 * file encrypted, and exits 0 only when the server confirmed it.
 *
 * Its folder is `--dir`, else the working directory, else (compiled client)
 * the folder of the executable. Progress goes to stderr, the one result line
 * to stdout.
 *
 * Exit codes: 0 success; 1 unexpected internal error; 2 bad configuration,
 * usage or input file; 3 network failure; 4 rejected by the server or a
 * protocol violation; 5 CRC failure after 4 sends (see `client_error.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import { ClientError, ExitCode } from "./client_error.ts";
import { DEFAULT_TIMEOUT_MS, ServerConnection } from "./connection.ts";
import { candidateFolders } from "./folder_lookup.ts";
import { Progress } from "./progress.ts";
import { checkIdentityName, runSession, type SessionResult } from "./session.ts";
import { loadIdentity } from "./identity_store.ts";
import { parseTransferInfo, type TransferInfo, TransferInfoError } from "./transfer_info.ts";
import { checkUploadFile } from "./upload_file.ts";
import { formatBytes } from "./progress.ts";

/** The client's version (from deno.json). */
export const VERSION: string = denoJson.version;

/** Connection retries after the first attempt, by default. */
export const DEFAULT_RETRIES = 3;
/** Delay before the first retry, doubled for each next one, in ms. */
export const DEFAULT_RETRY_DELAY_MS = 500;

const USAGE = `Usage: client [options]

Sends one file to a file transfer server, encrypted, as described by
transfer.info in the client's folder:
  line 1  host:port        (127.0.0.1:1256, example.org:1256, [::1]:1256)
  line 2  your name        (1 to 100 printable ASCII characters)
  line 3  the file to send (absolute, or relative to the client's folder)

On first use the client registers and writes me.info and priv.key beside
transfer.info (keep them: they are your identity). The client's folder is
--dir, else the working directory, else the folder of the client executable.

Options:
  --dir <folder>        the folder with transfer.info, me.info and priv.key
  -q, --quiet           no progress on stderr, only errors
  --no-wait             never wait for Enter before closing
  --retries <n>         connection retries after the first attempt (default ${DEFAULT_RETRIES})
  --retry-delay <ms>    first retry delay, doubled each time (default ${DEFAULT_RETRY_DELAY_MS})
  --timeout <ms>        give up on a server that sends or reads nothing for this long
                        (default ${DEFAULT_TIMEOUT_MS}; 0: wait forever)
  --standalone-exec <path>
                        look for the folder as a compiled client at <path> would
                        (for testing the double-click lookup)
  -h, --help            show this help
  -V, --version         show the version

Exit codes: 0 the server confirmed the file; 1 internal error; 2 bad
configuration or input; 3 network failure; 4 rejected by the server or
protocol error; 5 cksum mismatch after 4 sends.
`;

/** Parsed command line. */
interface Options {
  dir: string | undefined;
  quiet: boolean;
  noWait: boolean;
  retries: number;
  retryDelay: number;
  timeout: number;
  standaloneExec: string | undefined;
  help: boolean;
  version: boolean;
}

function usageError(reason: string): ClientError {
  return new ClientError(
    ExitCode.Config,
    `Cannot parse the arguments: ${reason}. See client --help`,
  );
}

function nonNegativeInteger(text: string | undefined, fallback: number, option: string): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,9}$/.test(text)) {
    throw usageError(`${option} needs a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function parseOptions(args: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        dir: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        "no-wait": { type: "boolean" },
        retries: { type: "string" },
        "retry-delay": { type: "string" },
        timeout: { type: "string" },
        "standalone-exec": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    }));
  } catch (error) {
    throw usageError((error as Error).message.replace(/\.$/, ""));
  }
  return {
    dir: values.dir,
    quiet: values.quiet ?? false,
    noWait: values["no-wait"] ?? false,
    retries: nonNegativeInteger(values.retries, DEFAULT_RETRIES, "--retries"),
    retryDelay: nonNegativeInteger(values["retry-delay"], DEFAULT_RETRY_DELAY_MS, "--retry-delay"),
    timeout: nonNegativeInteger(values.timeout, DEFAULT_TIMEOUT_MS, "--timeout"),
    standaloneExec: values["standalone-exec"],
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

/** Finds the folder holding transfer.info, or says where it looked. */
async function findFolder(options: Options): Promise<string> {
  const folders = candidateFolders({
    dir: options.dir,
    cwd: Deno.cwd(),
    execPath: options.standaloneExec ?? Deno.execPath(),
    standalone: options.standaloneExec !== undefined || Deno.build.standalone,
  });
  for (const folder of folders) {
    try {
      if ((await Deno.stat(join(folder, "transfer.info"))).isFile) return folder;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  throw new ClientError(
    ExitCode.Config,
    `Cannot find transfer.info: looked in ${folders.join(" and ")}. ` +
      "Create it there with 3 lines: host:port, your name, the file to send",
  );
}

async function readTransferInfo(folder: string): Promise<{ info: TransferInfo; path: string }> {
  const path = join(folder, "transfer.info");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ClientError(
      ExitCode.Config,
      `Cannot read ${path}: ${(error as Error).message}. Check the file's permissions`,
      { cause: error },
    );
  }
  try {
    return { info: parseTransferInfo(text, path), path };
  } catch (error) {
    if (!(error instanceof TransferInfoError)) throw error;
    throw new ClientError(
      ExitCode.Config,
      `${error.message}. Fix that line and run the client again`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Runs the client with `args`; prints the result line on stdout and errors
 * and progress on stderr.
 *
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const progress = new Progress({
    sink: Deno.stderr,
    terminal: Deno.stderr.isTerminal(),
    quiet: args.includes("--quiet") || args.includes("-q"),
  });
  try {
    const options = parseOptions(args);
    if (options.help) {
      console.log(USAGE.trimEnd());
      return ExitCode.Success;
    }
    if (options.version) {
      console.log(`client ${VERSION}`);
      return ExitCode.Success;
    }
    const folder = await findFolder(options);
    const { info, path: infoPath } = await readTransferInfo(folder);
    const file = await checkUploadFile(folder, info.filePath, infoPath);
    checkIdentityName(await loadIdentity(folder), info.name);
    progress.info(
      `sending ${file.path} (${formatBytes(file.size)}) to ${info.host}:${info.port} as ${
        JSON.stringify(info.name)
      }`,
    );
    const result = await withRetries(options, progress, async () => {
      const connection = await ServerConnection.open(info.host, info.port, options.timeout);
      try {
        return await runSession(connection, {
          folder,
          name: info.name,
          file,
          onProgress: (sent, total, attempt) => progress.update(sent, total, attempt),
          onNote: (note) => progress.note(note),
          onInfo: (info) => progress.info(info),
        });
      } finally {
        connection.close();
      }
    });
    progress.end();
    console.log(
      `client: the server confirmed ${file.name} (${file.size} bytes, cksum ${result.cksum})` +
        (result.sends > 1 ? ` after ${result.sends} sends` : ""),
    );
    return ExitCode.Success;
  } catch (error) {
    progress.end();
    if (error instanceof ClientError) {
      console.error(`client: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      console.error(
        `client: Cannot run: a permission is missing (${(error as Error).message}). ` +
          "Run the client with the permissions of `deno task client`",
      );
      return ExitCode.Internal;
    }
    console.error(
      `client: Cannot send the file: unexpected error: ${
        error instanceof Error ? error.stack ?? error.message : String(error)
      }. Please report this`,
    );
    return ExitCode.Internal;
  }
}

async function withRetries(
  options: Options,
  progress: Progress,
  attempt: () => Promise<SessionResult>,
): Promise<SessionResult> {
  for (let retry = 0;; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (
        !(error instanceof ClientError) || error.exitCode !== ExitCode.Network ||
        retry >= options.retries
      ) {
        throw error;
      }
      const delay = options.retryDelay * 2 ** retry;
      progress.note(
        `retry ${retry + 1} of ${options.retries} in ${(delay / 1000).toFixed(1)} s after: ${
          error.message.replace(/\. [^.]*$/, "")
        }`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Whether to wait for Enter before closing: a compiled client started from a file manager. */
export function shouldWaitForEnter(
  args: string[],
  standalone: boolean,
  stdinIsTerminal: boolean,
): boolean {
  return standalone && stdinIsTerminal && args.length === 0;
}

async function waitForEnter(): Promise<void> {
  console.error("Press Enter to close.");
  const buffer = new Uint8Array(64);
  while (true) {
    const n = await Deno.stdin.read(buffer);
    if (n === null || buffer.subarray(0, n).includes(10) || buffer.subarray(0, n).includes(13)) {
      return;
    }
  }
}

if (import.meta.main) {
  const args = Deno.args;
  const code = await main(args);
  if (shouldWaitForEnter(args, Deno.build.standalone, Deno.stdin.isTerminal())) {
    await waitForEnter();
  }
  Deno.exit(code);
}
