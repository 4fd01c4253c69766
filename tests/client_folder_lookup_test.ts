/**
 * Where the client looks for transfer.info: the pure lookup, and the
 * "standalone" path through `deno run` with `--standalone-exec`.
 */

import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { candidateFolders } from "../client/folder_lookup.ts";
import { shouldWaitForEnter } from "../client/main.ts";
import { ExitCode } from "../client/client_error.ts";
import { runClient } from "./support/client_process.ts";

Deno.test("candidateFolders: --dir only, relative to the working directory", () => {
  assert.deepEqual(
    candidateFolders({ dir: "sub", cwd: "/home/u", execPath: "/opt/app/client", standalone: true }),
    [resolve("/home/u/sub")],
  );
});

Deno.test("candidateFolders: deno run looks in the working directory only", () => {
  assert.deepEqual(
    candidateFolders({ cwd: "/home/u", execPath: "/usr/bin/deno", standalone: false }),
    [resolve("/home/u")],
  );
});

Deno.test("candidateFolders: a compiled client also looks beside its executable", () => {
  assert.deepEqual(
    candidateFolders({ cwd: "/home/u", execPath: "/opt/app/client", standalone: true }),
    [resolve("/home/u"), resolve("/opt/app")],
  );
  assert.deepEqual(
    candidateFolders({ cwd: "/opt/app", execPath: "/opt/app/client", standalone: true }),
    [resolve("/opt/app")],
  );
});

Deno.test("shouldWaitForEnter only for a compiled client started without arguments on a terminal", () => {
  assert.equal(shouldWaitForEnter([], true, true), true);
  assert.equal(shouldWaitForEnter([], true, false), false);
  assert.equal(shouldWaitForEnter([], false, true), false);
  assert.equal(shouldWaitForEnter(["--no-wait"], true, true), false);
});

Deno.test("the standalone lookup finds transfer.info beside the executable", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-lookup-" });
  const exeDir = join(root, "app");
  const cwd = join(root, "elsewhere");
  await Deno.mkdir(exeDir);
  await Deno.mkdir(cwd);
  // Unreachable port: the folder was found when the error is about the network.
  await Deno.writeTextFile(join(exeDir, "transfer.info"), "127.0.0.1:9\nLookup\nmissing.bin\n");
  try {
    const found = await runClient(["--standalone-exec", join(exeDir, "client")], { cwd });
    assert.equal(found.code, ExitCode.Config);
    assert.match(
      found.stderr,
      new RegExp(`Cannot send ${join(exeDir, "missing.bin").replaceAll("\\", "\\\\")}`),
    );
    assert.match(found.stderr, /the file does not exist/);

    const notFound = await runClient(["--standalone-exec", join(root, "empty", "client")], {
      cwd,
    });
    assert.equal(notFound.code, ExitCode.Config);
    assert.match(
      notFound.stderr,
      /Cannot find transfer\.info: looked in \S*elsewhere and \S*empty\. Create it/,
    );

    const plain = await runClient([], { cwd });
    assert.equal(plain.code, ExitCode.Config);
    assert.ok(plain.stderr.includes(`looked in ${cwd}.`), plain.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
