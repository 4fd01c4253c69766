/**
 * The `server/cli/` room. The command line: parsing it, serving, the operator's commands, and how
 * failures are reported.
 *
 * | file                     | what it holds                                                |
 * | ------------------------ | ------------------------------------------------------------ |
 * | `command_line.ts`        | the command line parsed into one command                     |
 * | `option_table.ts`        | every option, and which command takes which                  |
 * | `option_values.ts`       | each option's value parsed: ports, sizes, counts, dialects   |
 * | `serve_options.ts`       | the `serve` command's options and the rules between them     |
 * | `usage.ts`               | the usage text of `server --help`                            |
 * | `serve.ts`               | `server`: starting a server from the options, until a signal |
 * | `run_command.ts`         | the `deno run` line that starts the server on a folder       |
 * | `operator.ts`            | `server clients | files | forget`                            |
 * | `fingerprint_command.ts` | `server fingerprint`                                         |
 * | `report.ts`              | exit codes and the one-line report of a failure              |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/`. The top of the server: it may
 * import every room and `server/server.ts`; only `server/main.ts` imports it.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/cli/",
  mayImport: ["common/", "protocol/", "server/"],
};
