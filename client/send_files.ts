/**
 * Sending a list of checked files: one connection and one sign-in for all of
 * them, one upload after another, each file's outcome recorded.
 *
 * - A failure that concerns one file (it changed while read, a 1607, cksums
 *   that never agree) is that file's outcome; the others go on (on a new
 *   connection when the old one cannot carry another upload).
 * - A lost connection is retried (`--retries`, with a doubling delay), and
 *   the files already confirmed are not sent again.
 * - A server that closes the connection after an upload (one upload per
 *   connection) is not a failure: the client reconnects at once, without
 *   using a retry, and from then on opens one connection per file.
 * - Anything else (a refusal at sign-in, a protocol violation, a host that
 *   does not exist) ends the run: every file not yet sent fails with it.
 *
 * @module
 */

import { ClientError, NetworkError, RejectedError } from "./client_error.ts";
import type { TransferChoices } from "./transfer_requests.ts";
import { connectToServer } from "./tls_policy.ts";
import { securePortGiven, speaksTls } from "./tls_discovery.ts";
import { ClientSession, type Confirmed, type SignInOptions } from "./session.ts";
import type { UploadFile } from "./upload_file.ts";

/** Where to send, and how hard to try. */
export interface SendFilesOptions extends SignInOptions {
  /** The server's host. */
  host: string;
  /** The server's port. */
  port: number;
  /** Where host and port were written, for hints. */
  source: string;
  /** `--timeout`, in ms. */
  timeout: number;
  /** `--retries`. */
  retries: number;
  /** `--retry-delay`, in ms. */
  retryDelay: number;
  /** `--secure`: refuse the plain protocol even on first contact. */
  requireSecure?: boolean;
  /** `--pin`: the fingerprint the server's certificate must have. */
  pin?: Uint8Array;
  /**
   * A file's upload begins (`index` counts from 0); `resumable` says whether
   * the server keeps what arrives if the upload is cut, for a rerun to resume.
   */
  onFileStart?: (file: UploadFile, index: number, resumable: boolean) => void;
  /** A line for `transfer.log`: a server pinned, with its fingerprint. */
  onPinned?: (line: string) => void;
  /** `--force` and `--no-clobber`. */
  choices?: TransferChoices;
  /** Progress of each send of the current file: file bytes sent, file size, send number. */
  onProgress?: (sent: number, total: number, attempt: number) => void;
  /** A file's upload ended. */
  onOutcome?: (outcome: FileOutcome) => void;
}

/** How one file ended: stored, skipped (why), or failed. */
export type FileOutcome =
  | { file: UploadFile; ok: true; confirmed: Confirmed; skipped?: undefined }
  | { file: UploadFile; ok: true; skipped: string; confirmed?: undefined }
  | {
    file: UploadFile;
    ok: false;
    error: ClientError;
    confirmed?: undefined;
    skipped?: undefined;
  };

/** What a failed connection means for the run. */
type Next = "reconnect" | "retry" | "give up";

/** The state of a run: the files still to send, and how connections are used. */
class Run {
  readonly pending: UploadFile[];
  readonly outcomes: FileOutcome[] = [];
  /** Set once a server closed after an upload: one connection per file from then on. */
  onePerConnection = false;
  /** Whether a failed plain sign-in was checked for a secure port typed as the address. */
  probedTls = false;
  /** Uploads completed on the current connection. */
  uploadsOnConnection = 0;
  retry = 0;
  #options: SendFilesOptions;
  #count: number;

  constructor(files: UploadFile[], options: SendFilesOptions) {
    this.pending = [...files];
    this.#count = files.length;
    this.#options = options;
  }

  record(outcome: FileOutcome): void {
    this.pending.shift();
    this.outcomes.push(outcome);
    this.notify(outcome);
  }

  notify(outcome: FileOutcome): void {
    this.#options.onOutcome?.(outcome);
  }

  /** Every file not sent yet fails with `error`. */
  failAll(error: ClientError): void {
    while (this.pending.length > 0) this.record({ file: this.pending[0]!, ok: false, error });
  }

  get started(): number {
    return this.#count - this.pending.length;
  }
}

/**
 * Sends `files` to the server, one after another.
 *
 * @returns One outcome per file, in order.
 * @throws whatever is not a {@linkcode ClientError} (a bug).
 */
export async function sendFiles(
  files: UploadFile[],
  options: SendFilesOptions,
): Promise<FileOutcome[]> {
  const run = new Run(files, options);
  while (run.pending.length > 0) {
    run.uploadsOnConnection = 0;
    try {
      // Over TLS when the server is pinned or offers the secure mode (tls_policy.ts).
      const { connection, secure } = await connectToServer({
        ...options,
        timeoutMs: options.timeout,
      });
      try {
        let session: ClientSession;
        try {
          session = await ClientSession.signIn(connection, {
            ...options,
            ...(secure === undefined ? {} : { secure }),
          });
        } catch (error) {
          if (secure === undefined && !run.probedTls && connection.bytesReceived === 0) {
            run.probedTls = true;
            throw await securePortTyped(options, error);
          }
          throw error;
        }
        await uploadOnConnection(session, run, options);
      } finally {
        connection.close();
      }
    } catch (error) {
      if (!(error instanceof ClientError)) throw error;
      const next = afterFailure(error, run, options);
      if (next === "give up") run.failAll(error);
      if (next === "retry") await retryDelay(error, run, options);
    }
  }
  return run.outcomes;
}

/**
 * Uploads pending files on one signed-in connection until none is left, the
 * connection cannot carry another, or (one per connection) one was sent.
 */
async function uploadOnConnection(
  session: ClientSession,
  run: Run,
  options: SendFilesOptions,
): Promise<void> {
  await refuseFoldersUnlessKept(session, run);
  while (run.pending.length > 0 && !(run.onePerConnection && run.uploadsOnConnection > 0)) {
    const file = run.pending[0]!;
    options.onFileStart?.(file, run.started, await session.canTransfer(file));
    const outcome = await session.sendFile(file, options.onProgress, options.choices);
    run.uploadsOnConnection++;
    run.retry = 0;
    if (outcome.skipped !== undefined) {
      run.uploadsOnConnection--; // nothing went: the connection carries the next one
      run.record({ file, ok: true, skipped: outcome.skipped });
      continue;
    }
    if (outcome.ok) {
      run.record({ file, ok: true, confirmed: outcome.confirmed });
      continue;
    }
    run.record({ file, ok: false, error: outcome.error });
    if (!outcome.connectionUsable) break;
  }
}

/**
 * Files found in folders keep their paths only where the server answers the
 * transfer requests; elsewhere (the reference server, the plain port) none
 * of them is sent, rather than flattened into one folder.
 */
async function refuseFoldersUnlessKept(session: ClientSession, run: Run): Promise<void> {
  const inFolders = run.pending.filter((file) => file.storedPath.includes("/"));
  if (inFolders.length === 0 || await session.canTransfer(run.pending[0]!)) return;
  const error = new RejectedError({
    action: `send the ${inFolders.length === 1 ? "file" : `${inFolders.length} files`} found ` +
      "in folders",
    reason: "this server cannot keep folder paths (it is not ours, or it was reached over the " +
      "plain protocol v3, which stores one name per file), so none of them was sent",
    hint: "Send the folder to a server that offers the secure mode, or name its files one " +
      "by one (they are then stored by their names alone)",
  });
  for (const file of inFolders) {
    run.pending.splice(run.pending.indexOf(file), 1);
    run.outcomes.push({ file, ok: false, error });
    run.notify({ file, ok: false, error });
  }
}

/**
 * A plain sign-in that failed with a lost connection: the address may be the
 * server's secure port, whose TLS drops a plain request. If it speaks TLS,
 * the error says so and names the plain port; else `error` is kept.
 */
async function securePortTyped(options: SendFilesOptions, error: unknown): Promise<unknown> {
  // A silent server (a timeout) is not a TLS port: that one closes at once.
  if (!(error instanceof NetworkError) || !error.retryable) return error;
  if (!(await speaksTls(options.host, options.port, options.timeout))) return error;
  return await securePortGiven(options.host, options.port, options.timeout, options.source);
}

/** Decides what a failed connection means: reconnect at once, retry later, or give up. */
function afterFailure(error: ClientError, run: Run, options: SendFilesOptions): Next {
  if (!(error instanceof NetworkError) || !error.retryable) return "give up";
  if (run.uploadsOnConnection > 0 && !run.onePerConnection) {
    run.onePerConnection = true;
    options.onInfo?.(
      "the server closed the connection after an upload; " +
        "sending each remaining file on a connection of its own",
    );
    return "reconnect";
  }
  return run.retry < options.retries ? "retry" : "give up";
}

async function retryDelay(error: ClientError, run: Run, options: SendFilesOptions): Promise<void> {
  const delay = options.retryDelay * 2 ** run.retry;
  run.retry++;
  options.onInfo?.(
    `retry ${run.retry} of ${options.retries} in ${(delay / 1000).toFixed(1)} s after: ` +
      `Cannot ${error.action}: ${error.reason}`,
  );
  await new Promise((resolve) => setTimeout(resolve, delay));
}
