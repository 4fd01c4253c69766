/**
 * Messages that point at the right thing: a two-line transfer.info, a host
 * name that does not exist, a port where an HTTP server answers, a server
 * that accepts and says nothing, spaces around lines, and the sizes of an
 * empty file.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../client/client_error.ts";
import { startServer } from "../server/server.ts";
import { startFakeServer } from "./support/fake_server.ts";
import { runClient } from "./support/client_process.ts";

async function folderWith(transferInfo: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "client-messages-" });
  await Deno.writeTextFile(join(dir, "f.bin"), "hello");
  await Deno.writeTextFile(join(dir, "transfer.info"), transferInfo);
  return dir;
}

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith("client: Cannot"));
}

Deno.test("a two-line transfer.info says it has two lines, and which line reads as the name", async () => {
  const dir = await folderWith("127.0.0.1:1\nf.bin\n");
  try {
    const run = await runClient(["--dir", dir]);
    assert.equal(run.code, ExitCode.Config, run.stderr);
    assert.match(
      run.stderr,
      /^client: Cannot read \S*transfer\.info: it has 2 lines, but needs 3 \(host:port, your name, the file to send\); line 2, "f\.bin", is read as your name\. Add the missing lines, or name the files to send on the command line/,
    );
    assert.doesNotMatch(run.stderr, /line 3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a host name that does not exist points at line 1 and is not retried", async () => {
  const dir = await folderWith("no-such-host.invalid:1256\nCarol\nf.bin\n");
  try {
    const run = await runClient(["--dir", dir]);
    assert.equal(run.code, ExitCode.Config, run.stderr);
    assert.doesNotMatch(run.stderr, /retry/);
    assert.deepEqual(errorLines(run.stderr).length, 1, run.stderr);
    assert.match(
      run.stderr,
      /Cannot connect to no-such-host\.invalid:1256: the host name no-such-host\.invalid does not exist \(\w+\)\. Check the host name on \S*transfer\.info line 1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an HTTP server on the port is recognised from its first bytes, at once", async () => {
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello"),
  );
  const dir = await folderWith(`127.0.0.1:${http.addr.port}\nCarol\nf.bin\n`);
  try {
    const run = await runClient(["--dir", dir, "--timeout", "20000"]);
    assert.equal(run.code, ExitCode.Rejected, run.stderr);
    assert.doesNotMatch(run.stderr, /retry/);
    assert.match(
      run.stderr,
      /Cannot talk to the server at 127\.0\.0\.1:\d+: this is not a file transfer server \(it answered "HTTP\/1\.1 400 Bad Request"\)\. Check the port on \S*transfer\.info line 1/,
    );
  } finally {
    await http.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server that accepts and says nothing is given up once, not retried", async () => {
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const server = startFakeServer(async (peer) => {
    await peer.read();
    await release;
  });
  const dir = await folderWith(`127.0.0.1:${server.port}\nCarol\nf.bin\n`);
  try {
    const run = await runClient(["--dir", dir, "--timeout", "300"]);
    assert.equal(run.code, ExitCode.Network, run.stderr);
    assert.equal(server.peers.length, 1, "no retry");
    assert.match(
      run.stderr,
      /the server made no progress for 0\.3 s and has sent nothing since the connection opened\. Check that \S*transfer\.info line 1 names a file transfer server/,
    );
  } finally {
    resolve();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spaces around the lines of transfer.info are ignored, and the client says which lines", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-messages-" });
  const server = await startServer({ dir: join(root, "server"), port: 0, host: "127.0.0.1" });
  const dir = await folderWith(` 127.0.0.1:${server.port}\nCarol \n\tf.bin\n`);
  try {
    const run = await runClient(["--dir", dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /transfer\.info: ignored the spaces or tabs around lines 1, 2 and 3/,
    );
    assert.match(run.stderr, /registered as "Carol"/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an empty file is 0 B of 0 B, never the wire's 20 B", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-messages-" });
  const server = await startServer({ dir: join(root, "server"), port: 0, host: "127.0.0.1" });
  const dir = await folderWith(`127.0.0.1:${server.port}\nEmpty\nempty.bin\n`);
  await Deno.writeFile(join(dir, "empty.bin"), new Uint8Array(0));
  try {
    const run = await runClient(["--dir", dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /client: sent 0 B of 0 B \(100%\)/);
    assert.doesNotMatch(run.stderr + run.stdout, /20 B|bytes\b/);
    assert.match(
      run.stdout,
      /^client: the server confirmed empty\.bin \(0 B, cksum 4294967295\) and stored it as "empty\.bin"\n$/,
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});
