/**
 * The permissions baked into the binaries are enough, and the folder lookup
 * works, without compiling: `server/main.ts` and `client/main.ts` run as
 * processes with exactly the flags of scripts/compile.ts (including
 * `--no-prompt`, so a missing permission fails instead of prompting), each
 * from its own working directory, and a real transfer goes through.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { clientIdToHex, parseMeInfo } from "../protocol/mod.ts";
import { compileJobs } from "../scripts/compile.ts";
import {
  CLIENT_PERMISSION_FLAGS,
  permissionFlagsOfTask,
  ROOT,
  serverPermissionFlags,
} from "../scripts/permissions.ts";
import { serverRunFlags } from "../server/cli/run_command.ts";
import { patternBytes, runClient } from "./support/client_process.ts";
import { freePort, waitForPort } from "./support/ports.ts";

Deno.test("permissionFlagsOfTask keeps the permission and V8 flags and maps the task's --dir to '.'", () => {
  assert.deepEqual(
    permissionFlagsOfTask(
      "deno run --allow-net --allow-read=.data --allow-write=.data,/tmp --check --v8-flags=--expose-gc server/main.ts --dir .data",
    ),
    ["--allow-net", "--allow-read=.", "--allow-write=.,/tmp", "--v8-flags=--expose-gc"],
  );
  assert.deepEqual(
    serverPermissionFlags('{"tasks":{"server":"deno run --allow-net=0.0.0.0 --allow-env=X s.ts"}}'),
    ["--no-prompt", "--allow-net=0.0.0.0", "--allow-env=X"],
  );
  assert.ok(CLIENT_PERMISSION_FLAGS.includes("--no-prompt"));
  assert.ok(serverPermissionFlags().includes("--no-prompt"));
  assert.ok(serverPermissionFlags().includes("--v8-flags=--expose-gc"));
});

Deno.test("the server's printed run command has the server task's permissions, scoped to its folder", () => {
  // The task scopes read/write to .data, which serverPermissionFlags reads back as ".".
  assert.deepEqual(serverRunFlags(".").sort(), serverPermissionFlags().sort());
});

Deno.test("compileJobs names each target's binaries after it", () => {
  const jobs = compileJobs("/out", true, ["--no-prompt"]);
  const names = jobs.map((job) => job.output.replace(/^.*[/\\]/, ""));
  assert.ok(names.includes("client-x86_64-pc-windows-msvc.exe"));
  assert.ok(names.includes("server-aarch64-apple-darwin"));
  assert.ok(names.includes("client-aarch64-unknown-linux-gnu"));
  assert.equal(jobs.length, 12);
  const client = jobs.find((job) => job.output.endsWith("client-x86_64-apple-darwin"))!;
  assert.deepEqual(client.args.slice(0, 1 + CLIENT_PERMISSION_FLAGS.length), [
    "compile",
    ...CLIENT_PERMISSION_FLAGS,
  ]);
  assert.ok(client.args.includes("--target"));
});

Deno.test("server/main.ts and client/main.ts transfer a file with exactly the baked permissions", async () => {
  const root = await Deno.makeTempDir({ prefix: "compile-perms-" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  await Deno.mkdir(serverDir);
  await Deno.mkdir(clientDir);
  const port = freePort();
  // The server's data folder is its working directory, as for a double-clicked binary.
  await Deno.writeTextFile(join(serverDir, "port.info"), `${port}\n`);
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...serverPermissionFlags(),
      join(ROOT, "server/main.ts"),
      "--host",
      "127.0.0.1",
      "--secure-port",
      String(freePort()),
    ],
    cwd: serverDir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const serverOutput = Promise.all([
    new Response(server.stdout).text(),
    new Response(server.stderr).text(),
  ]);
  try {
    await waitForPort(port, server);
    const contents = patternBytes(100_000, 5);
    await Deno.writeFile(join(clientDir, "data.bin"), contents);
    await Deno.writeTextFile(
      join(clientDir, "transfer.info"),
      `127.0.0.1:${port}\nPerms\ndata.bin\n`,
    );
    // Found in the working directory.
    const first = await runClient(["--no-wait"], { cwd: clientDir });
    assert.equal(first.code, 0, first.stderr);
    // Found beside the "executable", from an unrelated working directory.
    const second = await runClient(["--standalone-exec", join(clientDir, "client")], { cwd: root });
    assert.equal(second.code, 0, second.stderr);
    for (const run of [first, second]) {
      assert.doesNotMatch(run.stderr, /NotCapable|Requires|permission/i);
    }
    // Both runs used the secure mode: the first pinned the server, the second used the pin.
    assert.match(first.stderr, /first contact with .*: pinned its certificate/);
    assert.match(await Deno.readTextFile(join(clientDir, "known_servers")), /^127\.0\.0\.1:/m);
    const { clientId } = parseMeInfo(await Deno.readTextFile(join(clientDir, "me.info")));
    assert.deepEqual(
      await Deno.readFile(join(serverDir, "received_files", clientIdToHex(clientId), "data.bin")),
      contents,
    );
  } finally {
    server.kill("SIGTERM");
    const status = await server.status;
    const [, stderr] = await serverOutput;
    await Deno.remove(root, { recursive: true });
    assert.doesNotMatch(stderr, /NotCapable|Requires .* access/);
    assert.equal(status.code, 0, stderr);
  }
});

Deno.test("the server with the baked permissions explains a data folder outside its working directory", async () => {
  const root = await Deno.makeTempDir({ prefix: "compile-perms-" });
  try {
    await Deno.mkdir(join(root, "cwd"));
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...serverPermissionFlags(),
        join(ROOT, "server/main.ts"),
        "--dir",
        join(root, "elsewhere"),
        "--port",
        "0",
      ],
      cwd: join(root, "cwd"),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 1, text);
    assert.match(
      text,
      /^Cannot prepare the data folder .*elsewhere: this server may only read and write its working directory/,
    );
    assert.equal(text.trim().split("\n").length, 1, text);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
