/**
 * `deno task client` runs in the repository's root, but relative `--dir` and
 * file paths mean what the user typed: they are resolved against the folder
 * the command was typed in (`INIT_CWD`, set by `deno task`), also when the
 * task is started from another folder with `--config`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { clientIdToHex, parseMeInfo } from "../protocol/mod.ts";
import { ROOT } from "../scripts/permissions.ts";
import { startServer } from "../server/server.ts";
import { patternBytes } from "./support/client_process.ts";

/**
 * What `deno` needs of the environment to find itself and its cache. The
 * tests may read only the variables they name (deno.json), so these are
 * passed on by name.
 */
const DENO_ENVIRONMENT = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];

/** Runs `deno task --config <repo>/deno.json client ...args` in `cwd`, as a user would. */
async function runTask(args: string[], cwd: string) {
  // deno task keeps an INIT_CWD it inherits (as npm does): start from none,
  // as a user's shell would.
  const env: Record<string, string> = {};
  for (const name of DENO_ENVIRONMENT) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "--config", join(ROOT, "deno.json"), "client", ...args],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("deno task client from another folder: --dir and paths are relative to that folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-task-" });
  const serverDir = join(root, "server");
  const server = await startServer({ dir: serverDir, port: 0, host: "127.0.0.1" });
  try {
    const typedIn = join(root, "home");
    await Deno.mkdir(join(typedIn, "identity"), { recursive: true });
    await Deno.writeTextFile(
      join(typedIn, "identity", "transfer.info"),
      `127.0.0.1:${server.port}\nTasker\n`,
    );
    await Deno.writeFile(join(typedIn, "report.bin"), patternBytes(3000, 8));
    const run = await runTask(["--dir", "identity", "--no-wait", "report.bin"], typedIn);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /confirmed report\.bin/);
    const { clientId } = parseMeInfo(
      await Deno.readTextFile(join(typedIn, "identity", "me.info")),
    );
    assert.deepEqual(
      await Deno.readFile(join(serverDir, "received_files", clientIdToHex(clientId), "report.bin")),
      patternBytes(3000, 8),
    );
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});
