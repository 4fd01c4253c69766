/**
 * The server's command line: `deno task server`, and the compiled `server`.
 *
 * ```text
 * server [--dir DIR] [--port PORT] [--host HOST] [--max-file-size SIZE] [--log-level LEVEL]
 * server clients [--dir DIR] [--json]
 * server files [NAME] [--dir DIR] [--json]
 * server forget NAME [--delete-files] [--dir DIR]
 * ```
 *
 * The command line is parsed in `cli/command_line.ts`, the server run in
 * `cli/serve.ts`, the operator commands in `cli/operator.ts`, and every failure formatted in `cli/report.ts`: an expected
 * one (bad usage, a port in use, a locked or corrupt database, a data folder
 * out of reach) is one line, anything else a bug with its stack. Exit codes:
 * 0 success (a clean shutdown), 1 an expected failure, 2 bad usage, 70 a bug.
 *
 * @module
 */

import denoConfig from "../deno.json" with { type: "json" };
import { type Command, parseCommandLine, USAGE } from "./cli/command_line.ts";
import {
  clientRows,
  clientsTable,
  fileRows,
  filesTable,
  forgetClient,
  openOperatorStorage,
} from "./cli/operator.ts";
import { describeFailure, ExitCode } from "./cli/report.ts";
import { serve } from "./cli/serve.ts";
import {
  createIdentityFile,
  describeFingerprint,
  rotateIdentity,
} from "./cli/fingerprint_command.ts";

export { LOG_FILE } from "./cli/serve.ts";

/** Runs the server command line; resolves to the exit code, never rejects. */
export async function main(args: string[]): Promise<number> {
  try {
    return await run(parseCommandLine(args));
  } catch (error) {
    const failure = describeFailure(error);
    console.error(failure.text);
    return failure.exitCode;
  }
}

async function run(command: Command): Promise<number> {
  switch (command.kind) {
    case "help":
      console.log(USAGE);
      return ExitCode.Ok;
    case "version":
      console.log(`server ${denoConfig.version}`);
      return ExitCode.Ok;
    case "fingerprint":
      console.log(await describeFingerprint(command.dir, command));
      return ExitCode.Ok;
    case "identity":
      console.log(await createIdentityFile(command.file));
      return ExitCode.Ok;
    case "rotate-identity":
      console.log(await rotateIdentity(command.registry, command.file));
      return ExitCode.Ok;
    case "serve": {
      const { kind: _, ...options } = command;
      await serve(options);
      return ExitCode.Ok;
    }
    default:
      await runOperatorCommand(command);
      return ExitCode.Ok;
  }
}

async function runOperatorCommand(
  command: Extract<Command, { kind: "clients" | "files" | "forget" }>,
): Promise<void> {
  await using storage = await openOperatorStorage(command.dir, command);
  let text: string;
  switch (command.kind) {
    case "clients": {
      const rows = await clientRows(storage.registry, command.forgetUnusedAfterMs);
      text = command.json ? json(rows) : clientsTable(rows);
      break;
    }
    case "files": {
      const rows = await fileRows(storage, command.name);
      text = command.json ? json(rows) : filesTable(rows, command.name);
      break;
    }
    case "forget":
      text = await forgetClient(storage, command.name, command.deleteFiles);
      break;
  }
  console.log(text.replace(/\n$/, ""));
}

function json(rows: unknown[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
