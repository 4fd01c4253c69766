/**
 * Builds the standalone executables with `deno compile`:
 *
 * - `deno task compile`: `dist/server` and `dist/client` for this machine;
 * - `deno task compile:all` (or `--all`): also one pair per target, named
 *   after it: `dist/client-x86_64-unknown-linux-gnu`, ...,
 *   `dist/client-x86_64-pc-windows-msvc.exe`.
 *
 * The permissions baked into each binary come from `permissions.ts`, the
 * single source of truth that the tests also run `client/main.ts` and
 * `server/main.ts` with. `--no-prompt` makes a missing permission an error,
 * never a prompt.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { CLIENT_PERMISSION_FLAGS, ROOT, serverPermissionFlags } from "./permissions.ts";

/** The targets `compile:all` builds. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** One `deno compile` invocation. */
export interface CompileJob {
  /** The output path. */
  output: string;
  /** The arguments after `deno`. */
  args: string[];
}

/**
 * The compile jobs: this machine's pair, plus every target with `all`.
 *
 * @param outDir Where the binaries go.
 */
export function compileJobs(outDir: string, all: boolean, serverFlags: string[]): CompileJob[] {
  const jobs: CompileJob[] = [];
  const programs = [
    { name: "client", entry: join(ROOT, "client/main.ts"), flags: [...CLIENT_PERMISSION_FLAGS] },
    { name: "server", entry: join(ROOT, "server/main.ts"), flags: serverFlags },
  ];
  const targets: (string | undefined)[] = [undefined, ...(all ? TARGETS : [])];
  for (const target of targets) {
    for (const program of programs) {
      const exe = target === undefined
        ? (Deno.build.os === "windows" ? `${program.name}.exe` : program.name)
        : `${program.name}-${target}${target.includes("windows") ? ".exe" : ""}`;
      const output = join(outDir, exe);
      jobs.push({
        output,
        args: [
          "compile",
          ...program.flags,
          ...(target === undefined ? [] : ["--target", target]),
          "--output",
          output,
          program.entry,
        ],
      });
    }
  }
  return jobs;
}

/** Runs one job; resolves to its exit code and stderr. */
export async function runCompile(job: CompileJob): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: job.args,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/**
 * The most telling line of a failed `deno compile`'s stderr: the download
 * error when the runtime could not be fetched, else the first `error:` line.
 */
export function compileFailureReason(stderr: string): string | undefined {
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("Stack backtrace:")[0]!;
  const lines = text.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  return lines.find((line) => /error/i.test(line) && /dl\.deno\.land/.test(line)) ??
    lines.find((line) => line.startsWith("error:"));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      all: { type: "boolean" },
      out: { type: "string", default: join(ROOT, "dist") },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task compile [--all] [--out <dir>]\n" +
        "Builds dist/client and dist/server for this machine; --all also every target in\n" +
        `${TARGETS.join(", ")}.`,
    );
    return 0;
  }
  await Deno.mkdir(values.out, { recursive: true });
  let failed = 0;
  for (const job of compileJobs(values.out, values.all ?? false, serverPermissionFlags())) {
    console.error(`compile: ${job.output}`);
    const { code, stderr } = await runCompile(job);
    if (code !== 0) {
      failed++;
      const reason = compileFailureReason(stderr) ?? `deno compile exited with ${code}`;
      console.error(
        `compile: Cannot build ${job.output}: ${reason}. ` +
          "deno compile downloads its runtime from dl.deno.land: check the network",
      );
    }
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
