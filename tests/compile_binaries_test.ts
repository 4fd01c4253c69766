/**
 * Compiles both binaries with the jobs of scripts/compile.ts and runs a real
 * transfer with them from temporary folders: the client binary sits in its
 * folder and is started from elsewhere with no arguments (the double-click
 * case, with stdin not a terminal so it never waits).
 *
 * `deno compile` downloads its runtime (denort) from dl.deno.land; where
 * that is impossible the test is reported as ignored, with the reason
 * printed. Whether it is possible is found by trying, once, at load time.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { clientIdToHex, parseMeInfo } from "../protocol/mod.ts";
import { compileFailureReason, compileJobs, runCompile } from "../scripts/compile.ts";
import { serverPermissionFlags } from "../scripts/permissions.ts";
import { patternBytes } from "./support/client_process.ts";
import { waitForPort } from "./support/ports.ts";

const outDir = await Deno.makeTempDir({ prefix: "compile-dist-" });
const jobs = compileJobs(outDir, false, serverPermissionFlags());
const clientJob = jobs.find((job) => /client(\.exe)?$/.test(job.output))!;
const serverJob = jobs.find((job) => /server(\.exe)?$/.test(job.output))!;

/** The result of building both binaries once, at load time. */
const build: { ok: true } | { ok: false; download: boolean; reason: string } = await (async () => {
  for (const job of [clientJob, serverJob]) {
    const { code, stderr } = await runCompile(job);
    if (code === 0) continue;
    const reason = compileFailureReason(stderr) ?? stderr;
    return { ok: false, download: /dl\.deno\.land/.test(reason), reason } as const;
  }
  return { ok: true } as const;
})();
/** Set when deno compile cannot download its runtime here: the only reason to skip. */
const cannotDownload = !build.ok && build.download ? build.reason : undefined;
if (cannotDownload !== undefined) {
  console.log(
    `ignored 'compiled binaries transfer a file': deno compile cannot get its runtime: ${cannotDownload}`,
  );
  await Deno.remove(outDir, { recursive: true });
}

async function output(binary: string, args: string[], cwd: string) {
  const { code, stdout, stderr } = await new Deno.Command(binary, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

Deno.test({
  name: "compiled binaries transfer a file; the client finds transfer.info beside itself",
  ignore: cannotDownload !== undefined,
  async fn() {
    if (!build.ok) {
      await Deno.remove(outDir, { recursive: true });
      assert.fail(`Cannot compile: ${build.reason}`);
    }
    const root = await Deno.makeTempDir({ prefix: "compile-run-" });
    const serverDir = join(root, "server");
    const clientDir = join(root, "client");
    await Deno.mkdir(serverDir);
    await Deno.mkdir(clientDir);
    const clientExe = join(clientDir, clientJob.output.replace(/^.*[/\\]/, ""));
    await Deno.copyFile(clientJob.output, clientExe);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await Deno.writeTextFile(join(serverDir, "port.info"), `${port}\n`);
    for (const binary of [clientExe, serverJob.output]) {
      const version = await output(binary, ["--version"], root);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^(client|server) \d+\.\d+\.\d+/);
      assert.equal((await output(binary, ["--help"], root)).code, 0);
    }
    const server = new Deno.Command(serverJob.output, {
      args: ["--host", "127.0.0.1"],
      cwd: serverDir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const serverLog = new Response(server.stderr).text();
    try {
      await waitForPort(port, server);
      const contents = patternBytes(2_000_000, 11);
      await Deno.writeFile(join(clientDir, "data.bin"), contents);
      await Deno.writeTextFile(
        join(clientDir, "transfer.info"),
        `127.0.0.1:${port}\nBinary\ndata.bin\n`,
      );
      const run = await output(clientExe, [], root);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /confirmed data\.bin/);
      const { clientId } = parseMeInfo(await Deno.readTextFile(join(clientDir, "me.info")));
      assert.deepEqual(
        await Deno.readFile(join(serverDir, "received_files", clientIdToHex(clientId), "data.bin")),
        contents,
      );
    } finally {
      server.kill("SIGTERM");
      await server.status;
      await serverLog;
      await Deno.remove(root, { recursive: true });
      await Deno.remove(outDir, { recursive: true });
    }
  },
});
