/**
 * How the server's command line ends: the exit codes, and every failure
 * formatted in one place. An expected failure is one line; anything else is
 * a bug, reported with its stack (and its causes' stacks). The report has
 * the shape both programs share, `common/failure_report.ts`.
 *
 * | code | meaning                                                               |
 * |------|-----------------------------------------------------------------------|
 * | 0    | success; for the server, a clean shutdown                              |
 * | 1    | an expected failure: port in use, database locked or corrupt, data folder out of reach, unknown client |
 * | 2    | bad usage                                                             |
 * | 70   | an internal error: a bug (EX_SOFTWARE, as the client)                  |
 *
 * @module
 */

import { type FailureReport, stackWithCauses } from "../../common/failure_report.ts";
import { PortInUseError, StartupError } from "../errors.ts";
import { UsageError } from "./command_line.ts";

/** The server's exit codes. */
export const ExitCode = {
  /** Success; for the server, a clean shutdown. */
  Ok: 0,
  /** An expected failure, reported in one line. */
  Failure: 1,
  /** Bad usage. */
  Usage: 2,
  /** An internal error: a bug, reported with its stack. */
  Bug: 70,
} as const;

/** One of {@linkcode ExitCode}. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** An operator command cannot do what it was asked (an unknown client, say). */
export class OperatorError extends Error {
  /**
   * Creates the error.
   *
   * @param message `Cannot <action>: <reason>`.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OperatorError";
  }
}

/**
 * Formats `error` for stderr: one line with a hint for an expected failure,
 * the stack and its causes' for a bug.
 *
 * @example
 * ```ts
 * import { describeFailure } from "./report.ts";
 * const failure = describeFailure(new TypeError("x is undefined"));
 * console.assert(failure.exitCode === 70);
 * ```
 */
export function describeFailure(error: unknown): FailureReport<ExitCode> {
  if (error instanceof UsageError) {
    return { exitCode: ExitCode.Usage, text: `${error.message} (server --help lists the options)` };
  }
  if (error instanceof PortInUseError) {
    return {
      exitCode: ExitCode.Failure,
      text: `${error.message}; choose another with --port PORT (or in port.info)`,
    };
  }
  if (error instanceof StartupError || error instanceof OperatorError) {
    return { exitCode: ExitCode.Failure, text: error.message };
  }
  return {
    exitCode: ExitCode.Bug,
    text: "server: internal error, a bug: please report it with what follows\n" +
      stackWithCauses(error),
  };
}
