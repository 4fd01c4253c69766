/**
 * The file transfer client: `deno task client`, or the compiled `client`.
 *
 * It reads `transfer.info` (`host:port`, name, file path) from its folder,
 * signs in with `me.info`/`priv.key` (or registers and writes them), sends
 * the file, or the files named on the command line, encrypted, and exits 0
 * only when the server confirmed every one.
 *
 * Its folder is `--dir`, else the folder the command was typed in, else
 * (compiled client) the folder of the executable. Progress goes to stderr,
 * the result lines to stdout. Exit codes: see `client_error.ts`.
 *
 * @module
 */

import { errorMessage } from "../common/error_message.ts";
import { join, resolve } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import { formatAddress } from "../common/address.ts";
import { ConfigError, ExitCode, reportFailure } from "./client_error.ts";
import { type Options, parseOptions, USAGE } from "./cli_options.ts";
import { candidateFolders, invocationDirectory } from "./folder_lookup.ts";
import { formatBytes } from "../common/units.ts";
import { Progress, terminalColumns } from "./progress.ts";
import { type FileOutcome, sendFiles } from "./send_files.ts";
import { checkIdentityName, type Confirmed } from "./session.ts";
import { loadIdentity } from "./identity_store.ts";
import { type RetrievalRun, runGet, runList } from "./retrieval_run.ts";
import { TransferLog } from "./transfer_log.ts";
import { type FolderScan, scanFolder } from "./folder_files.ts";
import { parseTransferInfo, type TransferInfo, TransferInfoError } from "./transfer_info.ts";
import { checkUploadFile, type UploadFile } from "./upload_file.ts";

/** The client program's version (from deno.json), not the wire protocol's. */
export const CLIENT_VERSION: string = denoJson.version;

/** A file refused before anything was sent. */
interface Refused {
  /** The path as named. */
  named: string;
  /** Why. */
  error: ConfigError;
}

/** What a run will do: where, as whom, which files; and the files refused before sending. */
interface Plan {
  folder: string;
  info: TransferInfo;
  infoPath: string;
  files: UploadFile[];
  /** The files refused before sending: as named, and why. */
  refused: Refused[];
  /** How many files were named in all. */
  count: number;
}

/** The exit code after Ctrl-C: 128 + SIGINT, as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * What the run has done so far, for `transfer.log`, the summary and a Ctrl-C:
 * the file being sent and how far, and the outcomes so far.
 */
class RunRecord {
  #log: TransferLog | undefined;
  #progress: Progress;
  /** The file being sent, its bytes sent so far, and whether a rerun resumes it. */
  current: { file: UploadFile; sent: number; resumable: boolean } | undefined;
  /** `--get`: the file being fetched and its bytes held so far. */
  fetching: { name: string; received: number; size: number } | undefined;
  stored = 0;
  skipped = 0;
  failed = 0;

  constructor(progress: Progress) {
    this.#progress = progress;
  }

  /** Starts `transfer.log` in the client's folder. */
  openLog(folder: string): void {
    this.#log = new TransferLog(folder, (problem) => this.#progress.note(problem));
  }

  /** Appends a line to `transfer.log`, once it is open. */
  log(text: string): void {
    this.#log?.line(text);
  }

  /** Ctrl-C: says what was sent and what a rerun does, in the log too. */
  interrupted(): string {
    const current = this.current;
    const done = `${this.stored} ${this.stored === 1 ? "file" : "files"} stored before`;
    const fetching = this.fetching;
    let text: string;
    if (fetching !== undefined) {
      text = `interrupted (Ctrl-C) while fetching ${fetching.name}: ` +
        `${formatBytes(fetching.received, { fixed: true })} of ` +
        `${formatBytes(fetching.size, { fixed: true })} held. Run the same command again to ` +
        "continue it where it stopped";
    } else if (current === undefined) {
      text = `interrupted (Ctrl-C); ${done}; nothing was being sent`;
    } else {
      const { file, sent, resumable } = current;
      text =
        `interrupted (Ctrl-C) while sending ${file.path}: ${
          formatBytes(sent, { fixed: true })
        } of ` +
        `${formatBytes(file.size, { fixed: true })} sent; ${done}. Run the client again ` +
        (resumable
          ? `to resume ${file.name} where it stopped (the server keeps what arrived)`
          : `to send ${file.name} again (this server does not keep a partial upload)`);
    }
    this.log(text);
    return `client: ${text}`;
  }
}

/**
 * Runs `fn` with Ctrl-C (SIGINT) turned into a message and exit code
 * {@linkcode INTERRUPTED_EXIT_CODE}.
 */
async function withInterruptReport<T>(record: RunRecord, fn: () => Promise<T>): Promise<T> {
  const onInterrupt = () => {
    console.error(`\n${record.interrupted()}`);
    Deno.exit(INTERRUPTED_EXIT_CODE);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    return await fn();
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/**
 * Runs the client with `args`; prints the result lines on stdout and errors
 * and progress on stderr, and appends the result lines to `transfer.log`.
 *
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const quiet = args.includes("--quiet") || args.includes("-q");
  const progress = new Progress({
    sink: Deno.stderr,
    terminal: Deno.stderr.isTerminal(),
    quiet,
    columns: terminalColumns,
  });
  const record = new RunRecord(progress);
  try {
    const options = parseOptions(args);
    if (options.help) {
      console.log(USAGE.trimEnd());
      return ExitCode.Success;
    }
    if (options.version) {
      console.log(`client ${CLIENT_VERSION}`);
      return ExitCode.Success;
    }
    if (options.list || options.get) {
      return await withInterruptReport(record, () => retrieve(options, progress, record));
    }
    return await withInterruptReport(record, async () => {
      const plan = await planRun(options, progress, record);
      const sent = plan.files.length === 0 ? [] : await send(plan, options, progress, record);
      progress.end();
      return summarize(plan, sent, record, options.quiet);
    });
  } catch (error) {
    progress.end();
    const { text, exitCode } = reportFailure(error);
    console.error(text);
    record.log(`failed: ${text.replace(/^client: /, "")}`);
    record.log(`result: exit code ${exitCode}`);
    return exitCode;
  }
}

/** `--list` or `--get` (`retrieval_run.ts`): transfer.info's lines 1 and 2 only. */
async function retrieve(options: Options, progress: Progress, record: RunRecord): Promise<number> {
  const typedIn = invocationDirectory();
  const folder = await findFolder(options, typedIn);
  record.openLog(folder);
  record.log(`run: client ${CLIENT_VERSION} in ${folder} (${options.list ? "--list" : "--get"})`);
  const { info, path: infoPath } = await readTransferInfo(folder, true);
  const run: RetrievalRun = {
    folder,
    host: info.host,
    port: info.port,
    source: `${infoPath} line 1`,
    name: info.name,
    timeout: options.timeout,
    ...(options.pin === undefined ? {} : { pin: options.pin }),
    typedIn,
    progress,
    log: (text) => record.log(text),
    quiet: options.quiet,
    onFetching: (state) => record.fetching = state,
  };
  checkIdentityName(await loadIdentity(folder), info.name);
  if (options.list) return await runList(run, options.json);
  return await runGet(run, options.paths, { to: options.to, force: options.force });
}

/** Finds the folder, reads transfer.info and checks every file before connecting. */
async function planRun(options: Options, progress: Progress, record: RunRecord): Promise<Plan> {
  const typedIn = invocationDirectory();
  const folder = await findFolder(options, typedIn);
  record.openLog(folder);
  record.log(`run: client ${CLIENT_VERSION} in ${folder}`);
  const { info, path: infoPath } = await readTransferInfo(folder, options.paths.length > 0);
  if (info.trimmedLines.length > 0) {
    const numbers = info.trimmedLines;
    const lines = numbers.length === 1
      ? `line ${numbers[0]}`
      : `lines ${numbers.slice(0, -1).join(", ")} and ${numbers.at(-1)}`;
    progress.note(`${infoPath}: ignored the spaces or tabs around ${lines}`);
  }
  checkIdentityName(await loadIdentity(folder), info.name);
  const named = options.paths.length > 0
    ? options.paths.map((path) => ({ path, base: typedIn, source: "the command line" }))
    : [{ path: info.filePath!, base: folder, source: `${infoPath} line 3` }];
  if (options.paths.length > 0 && info.filePath !== undefined) {
    progress.info(`sending the files named on the command line, not ${infoPath} line 3`);
  }
  const files: UploadFile[] = [];
  const refused: Refused[] = [];
  const refuse = (path: string, error: ConfigError) => {
    console.error(`client: ${error.message}`);
    record.log(`failed ${path}: ${error.message}`);
    refused.push({ named: path, error });
  };
  let count = 0;
  for (const { path, base, source } of named) {
    const folderScan = await scanIfFolder(base, path, source);
    if (folderScan !== undefined) {
      for (const link of folderScan.symlinks) {
        progress.info(`skipped ${link}: a symbolic link (not followed)`);
        record.log(`skipped ${link}: a symbolic link (not followed)`);
      }
      for (const { named, error } of folderScan.refused) refuse(named, error);
      count += folderScan.files.length + folderScan.refused.length;
      for (const file of folderScan.files) {
        try {
          refuseSameName(file, files, source);
          files.push(file);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          refuse(file.pathAsWritten, error);
        }
      }
      continue;
    }
    count++;
    try {
      const file = await checkUploadFile(base, path, source);
      refuseSameName(file, files, source);
      files.push(file);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (named.length === 1) throw error;
      refuse(path, error);
    }
  }
  return { folder, info, infoPath, files, refused, count };
}

/** The files below `path` when it names a folder (not a link to one), else `undefined`. */
async function scanIfFolder(
  base: string,
  path: string,
  source: string,
): Promise<FolderScan | undefined> {
  const absolute = resolve(base, path);
  try {
    if (!(await Deno.lstat(absolute)).isDirectory) return undefined;
  } catch {
    return undefined; // checkUploadFile says what is wrong
  }
  const scan = await scanFolder(absolute, path, source);
  if (scan.files.length === 0 && scan.refused.length === 0) {
    throw new ConfigError({
      action: `send the folder ${absolute} (${source})`,
      reason: "it holds no regular file to send" +
        (scan.symlinks.length > 0 ? " (symbolic links are not followed)" : ""),
      hint: "Name a folder with files in it, or the files themselves",
    });
  }
  return scan;
}

/** The server keeps one file per name: two files of one name in a run would replace each other. */
function refuseSameName(file: UploadFile, earlier: UploadFile[], source: string): void {
  const twin = earlier.find((other) => other.storedPath === file.storedPath);
  if (twin === undefined) return;
  throw new ConfigError({
    action: `send ${file.path} (${source})`,
    reason: `${twin.path} has the same name, ${JSON.stringify(file.storedPath)}, and the ` +
      "server keeps one file per name",
    hint: "Rename one of them, or send them in separate runs",
  });
}

/** Sends the planned files, printing each outcome as it comes. */
async function send(
  plan: Plan,
  options: Options,
  progress: Progress,
  record: RunRecord,
): Promise<FileOutcome[]> {
  const { info, files } = plan;
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const what = files.length === 1
    ? `${files[0]!.path} (${formatBytes(total, { fixed: true })})`
    : `${files.length} files (${formatBytes(total, { fixed: true })})`;
  const where = `${formatAddress(info.host, info.port)} as ${JSON.stringify(info.name)}`;
  progress.info(`sending ${what} to ${where}`);
  record.log(`sending ${what} to ${where}`);
  let lastError: unknown;
  return await sendFiles(files, {
    host: info.host,
    port: info.port,
    source: `${plan.infoPath} line 1`,
    folder: plan.folder,
    name: info.name,
    timeout: options.timeout,
    retries: options.retries,
    retryDelay: options.retryDelay,
    requireSecure: options.secure,
    choices: { force: options.force, noClobber: options.noClobber },
    ...(options.pin === undefined ? {} : { pin: options.pin }),
    onNote: (note) => progress.note(note),
    onInfo: (text) => progress.info(text),
    onPinned: (text) => record.log(text),
    onProgress: (sent, size, attempt) => {
      if (record.current !== undefined) record.current.sent = sent;
      progress.update(sent, size, attempt);
    },
    onFileStart: (file, index, resumable) => {
      record.current = { file, sent: 0, resumable };
      progress.start();
      if (files.length > 1) {
        progress.info(
          `file ${index + 1} of ${files.length}: ${file.path} (${
            formatBytes(file.size, { fixed: true })
          })`,
        );
      }
    },
    onOutcome: (outcome) => {
      progress.end();
      record.current = undefined;
      if (outcome.skipped !== undefined) {
        record.skipped++;
        const line = `skipped ${outcome.file.storedPath}: ${outcome.skipped}`;
        record.log(line);
        if (!options.quiet) console.log(`client: ${line}`);
        return;
      }
      if (outcome.confirmed !== undefined) {
        record.stored++;
        const line = confirmation(outcome.file, outcome.confirmed);
        record.log(line);
        if (!options.quiet) console.log(`client: ${line}`);
        return;
      }
      record.failed++;
      record.log(`failed ${outcome.file.path}: ${outcome.error.message}`);
      if (outcome.error !== lastError) {
        lastError = outcome.error; // The same error ends every file left: say it once.
        console.error(`client: ${outcome.error.message}`);
      }
    },
  });
}

function confirmation(file: UploadFile, confirmed: Confirmed): string {
  return `the server confirmed ${file.name} (${formatBytes(file.size, { fixed: true })}, cksum ` +
    `${confirmed.cksum}) and stored it as ${JSON.stringify(confirmed.storedName)}` +
    (confirmed.replaced ? ", replacing the file stored under that name" : "") +
    (confirmed.resumedAfter === undefined
      ? ""
      : `, resumed after the ${formatBytes(confirmed.resumedAfter)} it had kept`) +
    (confirmed.sends > 1 ? ` after ${confirmed.sends} sends` : "");
}

/**
 * With several files, prints which arrived and which did not; logs the result.
 *
 * @returns The exit code: 0 when all arrived, else the highest of the failures'.
 */
function summarize(plan: Plan, sent: FileOutcome[], record: RunRecord, quiet: boolean): number {
  const arrived = sent.flatMap((outcome) => outcome.confirmed ? [outcome.file.storedPath] : []);
  const skipped = sent.flatMap((outcome) => outcome.skipped ? [outcome.file.storedPath] : []);
  const failed = [
    ...plan.refused.map(({ named, error }) => ({ named, error })),
    ...sent.flatMap((outcome) =>
      outcome.ok ? [] : [{ named: outcome.file.pathAsWritten, error: outcome.error }]
    ),
  ];
  const code = failed.reduce<number>((worst, { error }) => Math.max(worst, error.exitCode), 0);
  const summary = `${arrived.length} of ${plan.count} files arrived` +
    (arrived.length > 0 ? ` (${arrived.join(", ")})` : "") +
    (skipped.length > 0 ? `; skipped: ${skipped.join(", ")}` : "") +
    (failed.length > 0 ? `; not sent: ${failed.map((f) => f.named).join(", ")}` : "");
  if (plan.count > 1 && !quiet) console.log(`client: ${summary}`);
  record.log(`result: ${summary}; exit code ${code}`);
  return code;
}

/** Finds the folder holding transfer.info, or says where it looked. */
async function findFolder(options: Options, typedIn: string): Promise<string> {
  const folders = candidateFolders({
    dir: options.dir,
    cwd: typedIn,
    execPath: options.standaloneExec ?? Deno.execPath(),
    standalone: options.standaloneExec !== undefined || Deno.build.standalone,
  });
  for (const folder of folders) {
    try {
      if ((await Deno.stat(join(folder, "transfer.info"))).isFile) return folder;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw new ConfigError({
        action: `look for transfer.info in ${folder}`,
        reason: errorMessage(error),
        hint: "Check the folder's permissions",
      }, { cause: error });
    }
  }
  throw new ConfigError({
    action: "find transfer.info",
    reason: `looked in ${folders.join(" and ")}`,
    hint: "Create it there with 3 lines: host:port, your name, the file to send",
  });
}

async function readTransferInfo(
  folder: string,
  pathsGiven: boolean,
): Promise<{ info: TransferInfo; path: string }> {
  const path = resolve(folder, "transfer.info");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError({
      action: `read ${path}`,
      reason: errorMessage(error),
      hint: "Check the file's permissions",
    }, { cause: error });
  }
  try {
    return { info: parseTransferInfo(text, path, { pathsGiven }), path };
  } catch (error) {
    if (!(error instanceof TransferInfoError)) throw error;
    throw new ConfigError({
      action: `read ${error.file}${error.line === undefined ? "" : ` line ${error.line}`}`,
      reason: error.reason,
      hint: error.line === undefined
        ? "Add the missing lines, or name the files to send on the command line (client PATH...)"
        : "Fix that line and run the client again",
    }, { cause: error });
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
