/**
 * How the server's command line ends: the exit codes, and every failure
 * formatted in one place. An expected failure is one line; anything else is
 * a bug, reported with its stack (and its causes' stacks).
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

/** A failure as printed, and the exit code it means. */
export interface Failure {
  /** The exit code. */
  code: ExitCode;
  /** What to print on stderr, ending in a newline. */
  text: string;
}

/**
 * Formats `error` for stderr: one line with a hint for an expected failure,
 * the stack for a bug.
 *
 * @example
 * ```ts
 * import { describeFailure } from "./report.ts";
 * const failure = describeFailure(new TypeError("x is undefined"));
 * console.assert(failure.code === 70);
 * ```
 */
export function describeFailure(error: unknown): Failure {
  if (error instanceof UsageError) {
    return { code: ExitCode.Usage, text: `${error.message} (server --help lists the options)\n` };
  }
  if (error instanceof PortInUseError) {
    return {
      code: ExitCode.Failure,
      text: `${error.message}; choose another with --port PORT (or in port.info)\n`,
    };
  }
  if (error instanceof StartupError || error instanceof OperatorError) {
    return { code: ExitCode.Failure, text: `${error.message}\n` };
  }
  return {
    code: ExitCode.Bug,
    text: "server: internal error, a bug: please report it with what follows\n" +
      `${stackOf(error)}\n`,
  };
}

function stackOf(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const text = current instanceof Error ? current.stack ?? String(current) : String(current);
    lines.push(depth === 0 ? text : `Caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join("\n");
}
