/**
 * What a run leaves and says (issue 20, points 4 to 6): transfer.log after a
 * run without a terminal, Ctrl-C, the secure port typed as the address, the
 * server's own size limit in one line, and the server's fingerprint printed
 * where nothing draws over it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../client/client_error.ts";
import { TRANSFER_LOG } from "../client/transfer_log.ts";
import { formatFingerprint } from "../protocol/fingerprint.ts";
import { CLIENT_PERMISSION_FLAGS } from "../scripts/permissions.ts";
import { type RunningServer, startServer } from "../server/server.ts";
import {
  CLIENT_MAIN,
  patternBytes,
  runClient,
  writeTransferInfo,
} from "./support/client_process.ts";
import { freePort } from "./support/ports.ts";
import { withServer } from "./support/test_server.ts";
import { withDeadline } from "../common/deadline.ts";

const TIME_PATTERN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

Deno.test("transfer.log: a run without a terminal leaves its result lines and the pin it made, 0600", async () => {
  await withServer(async ({ server, port }) => {
    const dir = await Deno.makeTempDir({ prefix: "client-log-" });
    try {
      await writeTransferInfo(dir, port, "Logan", "a.bin", patternBytes(1000));
      await Deno.writeFile(join(dir, "b.bin"), patternBytes(10, 2));
      const run = await runClient(["--dir", dir, join(dir, "a.bin"), join(dir, "b.bin"), "nope"]);
      assert.equal(run.code, ExitCode.Config, run.stderr);
      const log = await Deno.readTextFile(join(dir, TRANSFER_LOG));
      const lines = log.trimEnd().split("\n");
      assert.ok(lines.every((line) => TIME_PATTERN.test(line)), log);
      const text = lines.map((line) => line.replace(TIME_PATTERN, ""));
      assert.match(text[0]!, /^run: client \S+ in /);
      assert.ok(text.some((line) => /^failed nope: Cannot send .*nope.*does not exist/.test(line)));
      assert.ok(text.some((line) => /^sending 2 files \(1\.0 kB\) to 127\.0\.0\.1:\d+/.test(line)));
      const fingerprint = formatFingerprint(server.fingerprint!);
      assert.ok(
        text.some((line) =>
          line.startsWith(`pinned 127.0.0.1:${port}`) && line.includes(fingerprint)
        ),
        log,
      );
      assert.ok(
        text.some((line) => /^the server confirmed a\.bin \(1\.0 kB, cksum \d+\)/.test(line)),
      );
      assert.ok(text.some((line) => /^the server confirmed b\.bin/.test(line)));
      assert.equal(
        text.at(-1),
        "result: 2 of 3 files arrived (a.bin, b.bin); not sent: nope; exit code 2",
      );
      if (Deno.build.os !== "windows") {
        assert.equal((await Deno.stat(join(dir, TRANSFER_LOG))).mode! & 0o777, 0o600);
      }

      // A second run appends; a failure that ends the run is there too.
      await Deno.writeTextFile(join(dir, "transfer.info"), `127.0.0.1:${port}\nLogan\nmissing\n`);
      const failed = await runClient(["--dir", dir]);
      assert.equal(failed.code, ExitCode.Config);
      const again = (await Deno.readTextFile(join(dir, TRANSFER_LOG))).trimEnd().split("\n");
      assert.ok(again.length > lines.length + 2);
      assert.match(again.at(-2)!, /failed: Cannot send .*missing.*does not exist/);
      assert.match(again.at(-1)!, /result: exit code 2$/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("Ctrl-C prints what was sent and what running again does, and exits 130", async () => {
  await withServer(async ({ port }) => {
    const dir = await Deno.makeTempDir({ prefix: "client-interrupted-" });
    try {
      await writeTransferInfo(dir, port, "Ines", "big.bin");
      await Deno.writeFile(join(dir, "big.bin"), new Uint8Array(0));
      await Deno.truncate(join(dir, "big.bin"), 300_000_000); // sparse
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...CLIENT_PERMISSION_FLAGS, CLIENT_MAIN, "--dir", dir, "--no-wait"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stdout = new Response(child.stdout).text();
      let stderr = "";
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      await withDeadline(
        (async () => {
          while (!/client: sent [^\n]* of 300\.0 MB/.test(stderr)) {
            const { value, done } = await reader.read();
            if (done) break;
            stderr += value;
          }
        })(),
        60_000,
      );
      child.kill("SIGINT");
      const rest = withDeadline(
        (async () => {
          while (true) {
            const { value, done } = await reader.read();
            if (done) return;
            stderr += value;
          }
        })(),
        30_000,
      );
      const status = await withDeadline(child.status, 30_000);
      await rest;
      await stdout;
      assert.equal(status.code, 130, stderr);
      assert.match(
        stderr,
        /\nclient: interrupted \(Ctrl-C\) while sending \S*big\.bin: [\d.]+ [kMG]?B of 300\.0 MB sent; 0 files stored before\. Run the client again to (resume|send) big\.bin/,
      );
      const log = await Deno.readTextFile(join(dir, TRANSFER_LOG));
      assert.match(log, /interrupted \(Ctrl-C\) while sending/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

/** Starts a server whose secure port is its plain port plus one (the default). */
async function serverWithDefaultSecurePort(): Promise<{ server: RunningServer; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "client-secure-port-" });
  for (let attempt = 0;; attempt++) {
    const port = freePort();
    try {
      return { server: await startServer({ host: "127.0.0.1", port, dir }), dir };
    } catch (error) {
      if (attempt === 10) throw error; // port + 1 was taken every time
    }
  }
}

Deno.test("the secure port typed as the address is recognised, and the plain port named", async () => {
  const { server, dir } = await serverWithDefaultSecurePort();
  const clientDir = await Deno.makeTempDir({ prefix: "client-secure-port-" });
  try {
    assert.equal(server.securePort, server.port + 1);
    await writeTransferInfo(clientDir, server.securePort!, "Sam", "f.bin", patternBytes(10));
    const run = await runClient(["--dir", clientDir]);
    assert.equal(run.code, ExitCode.Config, run.stderr);
    assert.deepEqual(
      run.stderr.split("\n").filter((line) => line.includes("Cannot")),
      [
        `client: Cannot talk to the server at 127.0.0.1:${server.securePort}: that is the ` +
        `server's secure port. Use ${server.port} on ${join(clientDir, "transfer.info")} ` +
        "line 1: the client finds the secure port by itself",
      ],
    );
    assert.doesNotMatch(run.stderr, /771|retry/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(clientDir, { recursive: true });
  }
});

Deno.test("a file over the server's own limit is refused at its first packet, in one line naming the limit", async (t) => {
  for (const secure of [false, true]) {
    await t.step(secure ? "secure port" : "plain port", async () => {
      await withServer(async ({ port }) => {
        const dir = await Deno.makeTempDir({ prefix: "client-server-limit-" });
        try {
          await writeTransferInfo(dir, port, "Lima", "f.bin", patternBytes(3_000_000));
          await Deno.writeFile(join(dir, "small.bin"), patternBytes(10));
          const run = await runClient([
            "--dir",
            dir,
            join(dir, "f.bin"),
            join(dir, "small.bin"),
          ]);
          assert.equal(run.code, ExitCode.Rejected, run.stderr);
          const errors = run.stderr.split("\n").filter((line) => line.includes("Cannot"));
          assert.deepEqual(errors, [
            `client: Cannot send ${join(dir, "f.bin")}: the server accepts files of at most ` +
            "100.0 kB (100000 bytes), and this one is 3.0 MB (3000000 bytes). Ask the server's " +
            "operator to raise its --max-file-size, or split the file",
          ]);
          assert.doesNotMatch(run.stderr, /retry/);
          assert.match(run.stdout, /confirmed small\.bin/, "the next file is sent");
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }, { maxFileSize: 100_000, ...(secure ? {} : { securePort: false }) });
    });
  }
});

Deno.test("the server prints its fingerprint on stdout, on its own line, at the end of start-up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server-fingerprint-line-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        "--allow-env",
        join(import.meta.dirname!, "..", "server", "main.ts"),
        "--dir",
        dir,
        "--port",
        "0",
        "--secure-port",
        "0",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let stdout = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      await withDeadline(
        (async () => {
          while (!stdout.includes("\n")) {
            const { value, done } = await reader.read();
            if (done) break;
            stdout += value;
          }
        })(),
        30_000,
      );
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
    }
    assert.match(
      stdout,
      /^server: ready; secure port \d+, certificate fingerprint SHA256:[A-Za-z0-9+/]{43} \(give it to your users; `server fingerprint` shows it again\)\n/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
