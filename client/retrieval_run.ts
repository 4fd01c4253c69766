/**
 * `client --list [--json]` and `client --get NAME... [--to DIR] [--force]`:
 * what the server holds for this identity, and fetching it back.
 *
 * Both need the secure mode (the server pinned or offering it, TLS, the key
 * proof) and an identity the server knows: they never register, and never
 * fall back to the plain protocol, where the server does not serve them.
 * Against a server without retrieval (the reference server, ours with
 * `--no-secure`) they say so in one line and exit 4.
 *
 * | command | prints (stdout)                                              | exit |
 * |---------|--------------------------------------------------------------|------|
 * | `--list` | one line per file: name, size, stored (UTC), SHA-256 prefix; then a total | 0 |
 * | `--list --json` | `{"files":[{name,size,bytes... }],"total":{...}}`     | 0 |
 * | `--get` | one line per file fetched; with several names, a summary      | highest of the names' codes |
 *
 * A name that fails (not held, exists locally, not verified) is one line on
 * stderr and the others are still fetched; a lost connection fails the names
 * not fetched yet (a rerun continues the cut one).
 *
 * @module
 */

import { resolve } from "node:path";
import { formatFingerprint } from "../protocol/fingerprint.ts";
import type { ListedFile } from "../protocol/mod.ts";
import { ClientError, ConfigError, CrcError, RejectedError } from "./client_error.ts";
import { formatAddress } from "../common/address.ts";
import { formatBytes } from "../common/units.ts";
import { ServerConnection } from "./connection.ts";
import { type Downloaded, downloadFile, LocalFileError } from "./download.ts";
import type { Progress } from "./progress.ts";
import { NoSuchFileError, RetrievalClient } from "./retrieval_client.ts";
import { ClientSession, ServerError } from "./session.ts";
import { openTransport } from "./tls_policy.ts";

/** What a retrieval run needs from the command line and `transfer.info`. */
export interface RetrievalRun {
  /** The client's folder (identity, `known_servers`). */
  folder: string;
  /** The server, from `transfer.info` line 1. */
  host: string;
  /** Its plain port. */
  port: number;
  /** Where host and port were written, for hints. */
  source: string;
  /** The client name, from `transfer.info` line 2. */
  name: string;
  /** `--timeout`, in ms. */
  timeout: number;
  /** `--pin`. */
  pin?: Uint8Array;
  /** Where the command was typed: the default `--to`, and what a relative `--to` is relative to. */
  typedIn: string;
  /** Progress and notes. */
  progress: Progress;
  /** Appends a line to `transfer.log`. */
  log(text: string): void;
  /** `--quiet`. */
  quiet: boolean;
  /** The file being fetched and its bytes held so far (for Ctrl-C's message); `undefined` between files. */
  onFetching?: (state: { name: string; received: number; size: number } | undefined) => void;
}

/** Signs in over the secure mode; the server must offer it and know us. */
async function openRetrieval(
  run: RetrievalRun,
  action: string,
): Promise<{ client: RetrievalClient; connection: ServerConnection }> {
  const address = formatAddress(run.host, run.port);
  const transport = await openTransport({
    folder: run.folder,
    host: run.host,
    port: run.port,
    timeoutMs: run.timeout,
    source: run.source,
    ...(run.pin === undefined ? {} : { pin: run.pin }),
    onInfo: (text) => run.progress.info(text),
    onPinned: (text) => run.log(text),
  });
  if (!transport.secure) {
    throw new RejectedError({
      action: `${action} on ${address}`,
      reason: `this server does not serve its files back: it has no secure mode ` +
        `(${transport.reason}); only the secure mode lists and fetches files`,
      hint: "Ask its operator to turn the secure mode on (the reference server has none)",
    });
  }
  const connection = ServerConnection.over(transport.conn, address, run.timeout);
  try {
    const session = await ClientSession.signIn(connection, {
      folder: run.folder,
      name: run.name,
      secure: { fingerprint: transport.fingerprint },
      registerIfUnknown: false,
      onNote: (note) => run.progress.note(note),
      onInfo: (text) => run.progress.info(text),
    });
    run.log(
      `signed in to ${address} (${formatFingerprint(transport.fingerprint)}) as ` +
        JSON.stringify(run.name),
    );
    return { client: new RetrievalClient(connection, session.clientId), connection };
  } catch (error) {
    connection.close();
    throw error;
  }
}

/** `2026-12-03 14:53:49Z` */
function utc(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The table `--list` prints: a header, one line per file, a total. */
export function formatListing(files: ListedFile[]): string[] {
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const rows = files.map((file) => [
    formatBytes(file.size),
    utc(file.storedAt),
    file.sha256 === null ? "-" : hex(file.sha256).slice(0, 12),
    file.path,
  ]);
  const header = ["SIZE", "STORED (UTC)", "SHA-256", "NAME"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) =>
      i === cells.length - 1 ? cell : i === 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)
    ).join("  ");
  return [
    line(header),
    ...rows.map(line),
    `${files.length} ${files.length === 1 ? "file" : "files"}, ${
      formatBytes(total)
    } (${total} bytes)`,
  ];
}

/** The document `--list --json` prints. */
export function listingJson(files: ListedFile[]): string {
  return JSON.stringify({
    files: files.map((file) => ({
      name: file.path,
      size: file.size,
      stored: new Date(file.storedAt).toISOString(),
      cksum: file.cksum,
      sha256: file.sha256 === null ? null : hex(file.sha256),
    })),
    total: { files: files.length, bytes: files.reduce((sum, file) => sum + file.size, 0) },
  });
}

/**
 * `--list`: prints what the server holds for this identity.
 *
 * @returns The exit code (0).
 * @throws {ClientError} when the listing cannot be had.
 */
export async function runList(run: RetrievalRun, json: boolean): Promise<number> {
  const { client, connection } = await openRetrieval(run, "list the files");
  const files: ListedFile[] = [];
  try {
    for await (const file of client.list()) files.push(file);
  } finally {
    connection.close();
  }
  console.log(json ? listingJson(files) : formatListing(files).join("\n"));
  run.log(`listed ${files.length} files; exit code 0`);
  return 0;
}

/** How one name of `--get` ended. */
type GetOutcome = { name: string; ok: true; file: Downloaded } | {
  name: string;
  ok: false;
  error: ClientError;
};

/**
 * `--get NAME...`: fetches each name into `to` (relative to where the
 * command was typed; default there).
 *
 * @returns The exit code: 0 when every name was fetched, else the highest of theirs.
 * @throws {ClientError} when no name can be fetched (no secure mode, unknown identity).
 */
export async function runGet(
  run: RetrievalRun,
  names: string[],
  options: { to: string | undefined; force: boolean },
): Promise<number> {
  const dir = resolve(run.typedIn, options.to ?? ".");
  let open: Retrieval | undefined = await openRetrieval(run, "fetch files");
  const outcomes: GetOutcome[] = [];
  try {
    for (const [index, name] of names.entries()) {
      if (names.length > 1) run.progress.info(`file ${index + 1} of ${names.length}: ${name}`);
      let outcome: GetOutcome;
      let next: "go on" | "reconnect" | "stop";
      try {
        // A failure mid-file (a local write) left the last connection out of step: a new one.
        open ??= await openRetrieval(run, "fetch files");
        ({ outcome, next } = await fetchOne(run, open.client, name, dir, options.force));
      } catch (error) {
        if (!(error instanceof ClientError)) throw error;
        ({ outcome, next } = failed(run, name, error));
      }
      outcomes.push(outcome);
      if (next === "reconnect") {
        open?.connection.close();
        open = undefined;
      }
      if (next === "stop" && !outcome.ok) {
        // The connection cannot carry on: the names left fail with it.
        for (const left of names.slice(index + 1)) {
          outcomes.push(failed(run, left, outcome.error, false).outcome);
        }
        break;
      }
    }
  } finally {
    open?.connection.close();
  }
  return summarize(run, outcomes);
}

/** A signed-in secure connection for retrieval. */
type Retrieval = { client: RetrievalClient; connection: ServerConnection };

/** Fetches one name; says whether the connection can serve the next one. */
async function fetchOne(
  run: RetrievalRun,
  client: RetrievalClient,
  name: string,
  dir: string,
  force: boolean,
): Promise<{ outcome: GetOutcome; next: "go on" | "reconnect" | "stop" }> {
  run.progress.start();
  try {
    const file = await downloadFile(client, name, {
      dir,
      force,
      onProgress: (received, size) => {
        run.onFetching?.({ name, received, size });
        run.progress.update(received, size, 1);
      },
    });
    run.progress.end();
    report(run, fetchedLine(file));
    return { outcome: { name, ok: true, file }, next: "go on" };
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    return failed(run, name, error);
  } finally {
    run.onFetching?.(undefined);
    run.progress.end();
  }
}

/** A name that failed: one line (unless `say` is false), and what it means for the connection. */
function failed(
  run: RetrievalRun,
  name: string,
  error: ClientError,
  say = true,
): { outcome: GetOutcome; next: "go on" | "reconnect" | "stop" } {
  run.progress.end();
  if (say) console.error(`client: ${error.message}`);
  run.log(`failed ${name}: ${error.message}`);
  const next = error instanceof LocalFileError && error.midStream
    ? "reconnect"
    : nameOnly(error)
    ? "go on"
    : "stop";
  return { outcome: { name, ok: false, error }, next };
}

/** Whether a failure concerns only its name: the connection goes on. */
function nameOnly(error: ClientError): boolean {
  return error instanceof ConfigError || error instanceof NoSuchFileError ||
    error instanceof CrcError || error instanceof ServerError;
}

function fetchedLine(file: Downloaded): string {
  return `fetched ${file.name} (${formatBytes(file.size)}) into ${file.path}, verified by ` +
    (file.sha256 === null ? "cksum (the server recorded no SHA-256)" : "SHA-256 and cksum") +
    (file.resumedAt > 0 ? `; continued from byte ${file.resumedAt}` : "");
}

function report(run: RetrievalRun, line: string): void {
  run.log(line);
  if (!run.quiet) console.log(`client: ${line}`);
}

function summarize(run: RetrievalRun, outcomes: GetOutcome[]): number {
  const fetched = outcomes.flatMap((o) => o.ok ? [o.name] : []);
  const failed = outcomes.flatMap((o) => o.ok ? [] : [o]);
  const code = failed.reduce((worst, o) => Math.max(worst, o.error.exitCode), 0);
  const summary = `${fetched.length} of ${outcomes.length} files fetched` +
    (fetched.length > 0 ? ` (${fetched.join(", ")})` : "") +
    (failed.length > 0 ? `; not fetched: ${failed.map((o) => o.name).join(", ")}` : "");
  if (outcomes.length > 1 && !run.quiet) console.log(`client: ${summary}`);
  run.log(`result: ${summary}; exit code ${code}`);
  return code;
}
