/**
 * Issue 3, points 1 and 8: the command line as a process: port.info, --port,
 * a port in use, signals, the log on stderr and in the data folder.
 */

import { valueWithin } from "../common/deadline.ts";
import { errorMessage } from "../common/error_message.ts";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DEFAULT_PORT, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { readPortInfo } from "../server/net/port_info.ts";
import { randomBytes, RawClient, signUp, uploadBytes } from "../harness/raw_client.ts";
import { ServerProcess } from "./support/server_process.ts";
import { freePort } from "./support/ports.ts";
import { delay } from "./support/reliability.ts";

const WINDOWS = Deno.build.os === "windows";
const SERVER_MAIN = fileURLToPath(new URL("../server/main.ts", import.meta.url));
/** Whether this machine can listen on [::1] (containers often cannot). */
const HAS_IPV6_LOOPBACK = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch (error) {
    console.log(`IPv6 tests ignored: cannot listen on [::1]: ${errorMessage(error)}`);
    return false;
  }
})();
if (WINDOWS) console.log("signal tests ignored: Windows has no SIGTERM");

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "server_main_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("server main: port.info: missing or invalid means a reason and port 1256", async () => {
  await withDir(async (dir) => {
    const missing = await readPortInfo(dir);
    assert.equal(missing.port, DEFAULT_PORT);
    assert.match(missing.problem ?? "", /does not exist/);
    for (const text of ["", "abc\n", "0\n", "65536\n", "-5", "12.5"]) {
      await Deno.writeTextFile(`${dir}/port.info`, text);
      const info = await readPortInfo(dir);
      assert.equal(info.port, DEFAULT_PORT, JSON.stringify(text));
      assert.match(info.problem ?? "", /is not a port/);
    }
    await Deno.writeTextFile(`${dir}/port.info`, " 4321 \r\nextra\n");
    assert.deepEqual(await readPortInfo(dir), { port: 4321 });
  });
});

Deno.test("server main: listens on the port.info port; --port overrides it", async () => {
  await withDir(async (dir) => {
    const fromFile = freePort();
    await Deno.writeTextFile(`${dir}/port.info`, `${fromFile}\n`);
    let server = await ServerProcess.start(dir, ["--host", "127.0.0.1"]);
    assert.equal(server.port, fromFile);
    assert.equal((await server.stop()).code, 0);
    const fromFlag = freePort();
    server = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", String(fromFlag)]);
    assert.equal(server.port, fromFlag);
    assert.equal((await server.stop()).code, 0);
  });
});

Deno.test("server main: a port in use is one line that suggests --port, and exit code 1", async () => {
  await withDir(async (dir) => {
    using blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (blocker.addr as Deno.NetAddr).port;
    const server = ServerProcess.spawn(dir, ["--host", "127.0.0.1", "--port", String(port)]);
    const status = await server.wait();
    assert.equal(status.code, 1);
    // Issue 12 changed this line: it now says what to do.
    assert.equal(
      server.stderr,
      `Cannot listen on 127.0.0.1:${port}: the port is in use; ` +
        "choose another with --port PORT (or in port.info)\n",
    );
  });
});

Deno.test("server main: bad usage exits 2, --help and --version exit 0", async () => {
  await withDir(async (dir) => {
    for (
      const [args, code] of [
        [["--bogus"], 2],
        [["--port", "x"], 2],
        [["--log-level", "loud"], 2],
        [
          ["--max-file-size", "5T"],
          2,
        ],
        [["--help"], 0],
        [["--version"], 0],
      ] as const
    ) {
      const status = await ServerProcess.spawn(dir, [...args]).wait();
      assert.equal(status.code, code, args.join(" "));
    }
  });
});

Deno.test({
  name:
    "server main: SIGTERM and SIGINT shut down cleanly; the log has every step, on stderr and in server.log",
  ignore: WINDOWS,
  async fn() {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      await withDir(async (dir) => {
        const server = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", "0"]);
        {
          using client = await RawClient.connect(server.port);
          const me = await signUp(client, "Logged User");
          const data = randomBytes(70_000);
          await client.upload(me.clientId, me.aesKey, "logged.bin", data);
          await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "logged.bin" });
          await client.expect(ResponseCode.Ack);
          await client.sendHeader(me.clientId, 4242, 0);
          await client.expectError();
          using again = await RawClient.connect(server.port);
          await again.reconnect(me.clientId, me.name, me.keys.privateKey);
        }
        const status = await server.stop(signal);
        assert.equal(status.code, 0, server.stderr);
        const log = await Deno.readTextFile(`${dir}/server.log`);
        assert.equal(log, server.stderr, "server.log and stderr differ");
        for (
          const expected of [
            /Listening on 127\.0\.0\.1:\d+/,
            // Issue 12 reworded these: each line of a connection names it, and its client
            // once known; sizes in units, correct plurals, where the file was stored.
            /connection 1: Opened from 127\.0\.0\.1:\d+/,
            /connection 1: Registered Logged User as [0-9a-f]{32}/,
            /connection 1 \(Logged User\): Key exchange with Logged User/,
            /connection 1 \(Logged User\): Upload of logged\.bin started: 70 kB in 9 packets/,
            /connection 1 \(Logged User\): Received logged\.bin: 70 kB, cksum \d+, the client's cksum \d+; kept aside until the client confirms it; [\d.]+ s, [\d.]+ [kMG]?B\/s/,
            /connection 1 \(Logged User\): logged\.bin confirmed by the client and stored in .*received_files.[0-9a-f]{32}.logged\.bin\n/,
            /connection 1 \(Logged User\): Rejected request 4242: unknown request code 4242/,
            /connection 2 \(Logged User\): Reconnected Logged User/,
            /connection 1 \(Logged User\): Closed: /,
            /Shutting down: no upload in progress/,
            new RegExp(`${signal} received: shutting down`),
            /Server stopped/,
          ]
        ) {
          assert.match(log, expected);
        }
      });
    }
  },
});

Deno.test({
  name: "server main: --log-level warning leaves out the info lines",
  ignore: WINDOWS,
  async fn() {
    await withDir(async (dir) => {
      const port = freePort();
      const server = ServerProcess.spawn(dir, [
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--log-level",
        "warning",
      ]);
      // Nothing is logged at start-up at this level: wait for the port instead.
      for (let i = 0; i < 500; i++) {
        try {
          using client = await RawClient.connect(port);
          await client.sendHeader(new Uint8Array(16), 4242, 0);
          await client.expectError();
          break;
        } catch {
          await delay(20);
        }
      }
      assert.equal((await server.stop()).code, 0);
      const log = await Deno.readTextFile(`${dir}/server.log`);
      assert.match(log, /Rejected request 4242/);
      assert.doesNotMatch(log, /\[INF\]/);
    });
  },
});

Deno.test({
  name: "server main: by default it listens on IPv6 and IPv4, and logs IPv6 peers in brackets",
  ignore: !HAS_IPV6_LOOPBACK,
  async fn() {
    await withDir(async (dir) => {
      const server = await ServerProcess.start(dir, ["--port", "0"]);
      try {
        assert.match(
          server.stderr,
          /Listening on \[::\]:\d+ (\(IPv6 and IPv4\)|and 0\.0\.0\.0:\d+);/,
        );
        for (const hostname of ["127.0.0.1", "::1"]) {
          using client = await RawClient.connect(server.port, hostname);
          await client.sendHeader(new Uint8Array(16), 4242, 0);
          await client.expectError();
        }
      } finally {
        assert.equal((await server.stop()).code, 0, server.stderr);
      }
      assert.match(server.stderr, /Opened from 127\.0\.0\.1:\d+/, "IPv4 peers are plain");
      assert.match(server.stderr, /Opened from \[::1\]:\d+/);
      assert.doesNotMatch(server.stderr, /::ffff:/);
    });
  },
});

Deno.test({
  name: "server main: --host ::1 listens on IPv6 loopback only",
  ignore: !HAS_IPV6_LOOPBACK,
  async fn() {
    await withDir(async (dir) => {
      const server = await ServerProcess.start(dir, ["--host", "::1", "--port", "0"]);
      try {
        assert.match(server.stderr, /Listening on \[::1\]:\d+;/);
        using client = await RawClient.connect(server.port, "::1");
        await client.sendHeader(new Uint8Array(16), 4242, 0);
        await client.expectError();
        await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
      } finally {
        assert.equal((await server.stop()).code, 0, server.stderr);
      }
    });
  },
});

Deno.test("server main: deno task server --dir elsewhere says the task may use .data only, and its hint runs as printed", async () => {
  await withDir(async (dir) => {
    // The server task's permissions, from a working directory holding .data.
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-net",
        "--allow-read=.data",
        "--allow-write=.data",
        SERVER_MAIN,
        "--dir",
        ".data",
        "--dir",
        "elsewhere",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--secure-port",
        "0",
      ],
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 1, text);
    assert.equal(text.trim().split("\n").length, 1, text);
    assert.match(
      text,
      /^Cannot prepare the data folder elsewhere: deno task server may only read and write \.data /,
    );
    const command = /run `([^`]+)`/.exec(text)?.[1];
    assert.ok(command !== undefined, text);
    assert.match(
      command,
      /^deno run --no-prompt .*--allow-read=elsewhere --allow-write=elsewhere /,
    );
    assert.match(command, / --port 0 --secure-port 0 --dir elsewhere$/);
    // The hint, run as printed from the same folder (deno on PATH as the user has it), starts.
    const server = new Deno.Command("sh", {
      args: ["-c", `PATH="$DENO_BIN:$PATH" exec ${command}`],
      env: { DENO_BIN: fileURLToPath(new URL(".", `file://${Deno.execPath()}`)) },
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    try {
      const decoder = new TextDecoder();
      const deadline = Date.now() + 20_000;
      const reader = server.stderr.getReader();
      while (!/Listening on/.test(log) && Date.now() < deadline) {
        const chunk = await valueWithin(reader.read(), deadline - Date.now());
        if (chunk === undefined || chunk.done) break;
        log += decoder.decode(chunk.value, { stream: true });
      }
      reader.releaseLock();
      assert.match(log, /Listening on 127\.0\.0\.1:\d+/);
    } finally {
      server.kill("SIGTERM");
      await server.stderr.cancel().catch(() => {});
      await server.status;
    }
    await Deno.stat(`${dir}/elsewhere/server.log`);
  });
});

Deno.test({
  name: "server main: on a signal it says how many uploads it waits for, for how long, and which",
  ignore: WINDOWS,
  async fn() {
    await withDir(async (dir) => {
      const server = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", "0"]);
      using idle = await RawClient.connect(server.port);
      using client = await RawClient.connect(server.port);
      const me = await signUp(client, "Slow Sender");
      const bytes = await uploadBytes(me, "slow.bin", randomBytes(100_000));
      await client.send(bytes.subarray(0, 50_000));
      for (let i = 0; i < 500 && !/Upload of slow\.bin started/.test(server.stderr); i++) {
        await delay(10);
      }
      const status = await server.stop("SIGINT");
      assert.equal(status.code, 0, server.stderr);
      assert.match(
        server.stderr,
        /Shutting down: waiting up to 5 s for 1 upload; closing 1 idle connection: connection 2 \(Slow Sender\) receiving slow\.bin\n/,
      );
      assert.match(
        server.stderr,
        /Grace period over: closing 1 connection: connection 2 \(Slow Sender\) receiving slow\.bin\n/,
      );
      assert.match(server.stderr, /in 1 packet|in 13 packets/);
      void idle;
    });
  },
});
