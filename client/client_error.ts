/**
 * The client's exit codes and the one error type that carries one to `main`.
 *
 * | code | meaning                                                              |
 * |------|----------------------------------------------------------------------|
 * | 0    | the server confirmed the file (1604 after a matching cksum)          |
 * | 1    | unexpected internal error (a bug: please report it)                  |
 * | 2    | bad configuration, usage or input (transfer.info, me.info, priv.key, |
 * |      | arguments, the file to send, a file that changed while it was read)  |
 * | 3    | network failure: server unreachable after the retries, or the        |
 * |      | connection dropped                                                    |
 * | 4    | rejected by the server (1601, 1607) or a protocol violation (an      |
 * |      | unexpected or malformed response)                                    |
 * | 5    | CRC failure: the server's cksum differed on all 4 sends              |
 *
 * @module
 */

/** The client's exit codes. */
export const ExitCode = {
  /** The server confirmed the file. */
  Success: 0,
  /** An unexpected internal error. */
  Internal: 1,
  /** Bad configuration, usage or input file. */
  Config: 2,
  /** The server is unreachable or the connection dropped. */
  Network: 3,
  /** The server refused, or broke the protocol. */
  Rejected: 4,
  /** The cksums differed on every send. */
  Crc: 5,
} as const;

/** An exit code of the client. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/**
 * A failure the user can act on: `message` is one sentence of the form
 * `Cannot <action>: <reason>. <what to do>`, printed as is; `exitCode` is the
 * process exit code.
 */
export class ClientError extends Error {
  /** The exit code `main` returns for this failure. */
  readonly exitCode: ExitCode;

  /**
   * Creates the error.
   *
   * @param exitCode The exit code for this failure.
   * @param message `Cannot <action>: <reason>. <what to do>`.
   * @param options Standard error options; pass `cause` to keep the origin.
   */
  constructor(exitCode: ExitCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientError";
    this.exitCode = exitCode;
  }
}
