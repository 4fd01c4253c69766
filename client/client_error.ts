/**
 * The client's exit codes, its expected failures, and the one place where a
 * failure becomes the text the user reads.
 *
 * | code | meaning                                                               |
 * |------|-----------------------------------------------------------------------|
 * | 0    | the server confirmed every file                                       |
 * | 2    | bad configuration, usage or input (transfer.info, me.info, priv.key,  |
 * |      | arguments, a file to send, a file that changed while it was read,     |
 * |      | a host name that does not resolve, a missing permission)              |
 * | 3    | network failure: server unreachable after the retries, the connection |
 * |      | dropped, or the server stopped answering                              |
 * | 4    | rejected by the server (1601, 1607), a protocol violation, or a peer  |
 * |      | that is not a file transfer server                                    |
 * | 5    | CRC failure: the server's cksum differed on all 4 sends               |
 * | 70   | a bug in the client: the message carries its stack; please report it |
 *
 * With several files the exit code is the highest of the files' codes.
 *
 * Every expected failure is a {@linkcode ClientError}: an action, a reason and
 * a hint, printed as one line `client: Cannot <action>: <reason>. <hint>`.
 * Anything else reaching `main` is a bug, printed with its stack and its
 * causes'. The report has the shape both programs share,
 * `common/failure_report.ts`.
 *
 * @module
 */

import { type FailureReport, stackWithCauses } from "../common/failure_report.ts";

/** The client's exit codes. */
export const ExitCode = {
  /** The server confirmed every file. */
  Success: 0,
  /** Bad configuration, usage or input file. */
  Config: 2,
  /** The server is unreachable, the connection dropped, or the server went silent. */
  Network: 3,
  /** The server refused, broke the protocol, or is not a file transfer server. */
  Rejected: 4,
  /** The cksums differed on every send. */
  Crc: 5,
  /** A bug in the client (EX_SOFTWARE of sysexits.h). */
  Bug: 70,
} as const;

/** An exit code of the client. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** The parts of a failure message. */
export interface FailureParts {
  /** What the client tried to do, after "Cannot": `send f.bin`. */
  action: string;
  /** Why it could not, without a final period. */
  reason: string;
  /** What the user can do about it: one sentence, without a final period. */
  hint: string;
}

/**
 * An expected failure the user can act on. `message` is built from the parts,
 * `Cannot <action>: <reason>. <hint>`, and nothing rewrites it afterwards.
 *
 * @example Building and reading a failure
 * ```ts
 * import { ClientError, ExitCode } from "./client_error.ts";
 *
 * const error = new ClientError(ExitCode.Config, {
 *   action: "read transfer.info",
 *   reason: "it is empty",
 *   hint: "Write the server's host:port on line 1",
 * });
 * console.assert(error.message === "Cannot read transfer.info: it is empty. Write the server's host:port on line 1");
 * ```
 */
export class ClientError extends Error {
  /** The exit code `main` returns for this failure. */
  readonly exitCode: ExitCode;
  /** What the client tried to do. */
  readonly action: string;
  /** Why it could not. */
  readonly reason: string;
  /** What the user can do. */
  readonly hint: string;

  /**
   * Creates the error.
   *
   * @param exitCode The exit code for this failure.
   * @param parts The action, the reason and the hint.
   * @param options Standard error options; pass `cause` to keep the origin.
   */
  constructor(exitCode: ExitCode, parts: FailureParts, options?: ErrorOptions) {
    super(`Cannot ${parts.action}: ${parts.reason}. ${parts.hint}`, options);
    this.name = "ClientError";
    this.exitCode = exitCode;
    this.action = parts.action;
    this.reason = parts.reason;
    this.hint = parts.hint;
  }
}

/** Bad configuration, usage or input: exit code 2. */
export class ConfigError extends ClientError {
  /**
   * Creates the error.
   *
   * @param parts The action, the reason and the hint.
   * @param options Standard error options; pass `cause` to keep the origin.
   */
  constructor(parts: FailureParts, options?: ErrorOptions) {
    super(ExitCode.Config, parts, options);
    this.name = "ConfigError";
  }
}

/** The server could not be reached, or the connection was lost: exit code 3. */
export class NetworkError extends ClientError {
  /** Whether trying again may help (false for a silent peer, for example). */
  readonly retryable: boolean;

  /**
   * Creates the error.
   *
   * @param parts The action, the reason and the hint.
   * @param options Standard error options, and whether to retry (default true).
   */
  constructor(parts: FailureParts, options?: ErrorOptions & { retryable?: boolean }) {
    super(ExitCode.Network, parts, options);
    this.name = "NetworkError";
    this.retryable = options?.retryable ?? true;
  }
}

/** The server refused (1601, 1607) or broke the protocol: exit code 4. */
export class RejectedError extends ClientError {
  /**
   * Creates the error.
   *
   * @param parts The action, the reason and the hint.
   * @param options Standard error options; pass `cause` to keep the origin.
   */
  constructor(parts: FailureParts, options?: ErrorOptions) {
    super(ExitCode.Rejected, parts, options);
    this.name = "RejectedError";
  }
}

/** The server's cksum differed on every send: exit code 5. */
export class CrcError extends ClientError {
  /**
   * Creates the error.
   *
   * @param parts The action, the reason and the hint.
   */
  constructor(parts: FailureParts) {
    super(ExitCode.Crc, parts);
    this.name = "CrcError";
  }
}

/**
 * Turns any failure into the text the user reads: one line for a
 * {@linkcode ClientError} or a missing permission, and for anything else a
 * bug report with the stack (and its causes') and exit code 70.
 */
export function reportFailure(error: unknown): FailureReport<ExitCode> {
  if (error instanceof ClientError) {
    return { text: `client: ${error.message}`, exitCode: error.exitCode };
  }
  // NotCapable: Deno's own permission is missing. (PermissionDenied is the
  // system's EACCES on a file, which the code that touched the file reports.)
  if (error instanceof Deno.errors.NotCapable) {
    const missing = new ConfigError({
      action: "run",
      reason: `a permission is missing (${error.message})`,
      hint: "Run the client with the permissions of `deno task client`",
    }, { cause: error });
    return { text: `client: ${missing.message}`, exitCode: missing.exitCode };
  }
  return {
    text: "client: Bug: an unexpected error; please report it with what follows.\n" +
      stackWithCauses(error),
    exitCode: ExitCode.Bug,
  };
}
