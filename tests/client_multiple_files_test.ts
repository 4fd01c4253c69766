/**
 * `client PATH...`: several files, one after another on one connection with
 * one sign-in; a summary at the end; the exit code of the worst failure; and
 * one connection per file when a server closes after an upload.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CLIENT_ID_SIZE,
  clientIdToHex,
  parseMeInfo,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import { ExitCode } from "../client/client_error.ts";
import { startServer } from "../server/server.ts";
import {
  contentTrailer,
  decryptContent,
  type FakePeer,
  makeSessionKey,
  startFakeServer,
} from "./support/fake_server.ts";
import { patternBytes, runClient } from "./support/client_process.ts";

const ID = new Uint8Array(CLIENT_ID_SIZE).fill(3);

/** The public key of the last registration, for later 827s. */
let publicKey = new Uint8Array(0);

/** Registers the client like a good server; returns the raw AES key. */
async function registerClient(peer: FakePeer): Promise<Uint8Array> {
  assert.equal((await peer.read())?.code, RequestCode.Register);
  await peer.send({ code: ResponseCode.Registered, clientId: ID });
  const request = await peer.read();
  assert.equal(request?.code, RequestCode.PublicKey);
  publicKey = request.payload.slice(255);
  const { raw, wrapped } = await makeSessionKey(publicKey);
  await peer.send({ code: ResponseCode.KeyAccepted, clientId: ID, wrappedKey: wrapped });
  return raw;
}

/** Answers one upload with a matching cksum and its 1604; returns the plaintext. */
async function acceptUpload(peer: FakePeer, key: Uint8Array): Promise<Uint8Array | null> {
  const upload = await peer.read();
  if (upload === null) return null;
  assert.equal(upload.code, RequestCode.SendFile);
  await peer.send({
    code: ResponseCode.FileReceived,
    clientId: ID,
    contentSize: upload.content.length,
    fileNameField: upload.packets[0]!.fileNameField,
    cksum: contentTrailer(upload.content),
  });
  assert.equal((await peer.read())?.code, RequestCode.CrcOk);
  await peer.send({ code: ResponseCode.Ack, clientId: ID });
  return await decryptContent(key, upload.content);
}

/** A client folder with a two-line transfer.info and `files` beside it. */
async function clientFolder(port: number, files: Record<string, Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "client-multi-" });
  await Deno.writeTextFile(join(dir, "transfer.info"), `127.0.0.1:${port}\nMulti\n`);
  for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(join(dir, name), bytes);
  return dir;
}

Deno.test("several files go on one connection after one sign-in, and a summary says so", async () => {
  const received: Uint8Array[] = [];
  const server = startFakeServer(async (peer) => {
    const key = await registerClient(peer);
    while (true) {
      const plain = await acceptUpload(peer, key);
      if (plain === null) return;
      received.push(plain);
    }
  });
  const files = {
    "a.bin": patternBytes(10, 1),
    "b.bin": patternBytes(9000, 2),
    "c.bin": new Uint8Array(0),
  };
  const dir = await clientFolder(server.port, files);
  try {
    // Relative paths are relative to where the command runs (here: the folder).
    const run = await runClient(["--dir", dir, "a.bin", join(dir, "b.bin"), "c.bin"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.peers.length, 1, "one connection");
    assert.deepEqual(received, Object.values(files));
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 4, run.stdout);
    assert.match(
      lines[0]!,
      /^client: the server confirmed a\.bin \(10 B, cksum \d+\) and stored it as "a\.bin"$/,
    );
    assert.match(lines[2]!, /confirmed c\.bin \(0 B, /);
    assert.equal(lines[3], "client: 3 of 3 files arrived (a.bin, b.bin, c.bin)");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("a missing file among several: the others are sent, the summary names it, exit code 2", async () => {
  const server = startFakeServer(async (peer) => {
    const key = await registerClient(peer);
    while ((await acceptUpload(peer, key)) !== null);
  });
  const dir = await clientFolder(server.port, { "a.bin": patternBytes(100) });
  try {
    const run = await runClient(["--dir", dir, "nope.bin", "a.bin"], { cwd: dir });
    assert.equal(run.code, ExitCode.Config, run.stderr);
    assert.match(
      run.stderr,
      /client: Cannot send .*nope\.bin \(the command line\): the file does not exist/,
    );
    assert.match(run.stdout, /confirmed a\.bin/);
    assert.match(run.stdout, /client: 1 of 2 files arrived \(a\.bin\); not sent: nope\.bin\n$/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the exit code is the worst of the files': a cksum failure after a success is 5", async () => {
  const server = startFakeServer(async (peer) => {
    const key = await registerClient(peer);
    await acceptUpload(peer, key);
    for (let send = 1; send <= 4; send++) {
      const upload = await peer.read();
      await peer.send({
        code: ResponseCode.FileReceived,
        clientId: ID,
        contentSize: upload!.content.length,
        fileNameField: new Uint8Array(255),
        cksum: (contentTrailer(upload!.content) + 1) >>> 0,
      });
      await peer.read(); // 901, then 902
    }
    await peer.send({ code: ResponseCode.Ack, clientId: ID });
    assert.equal(await peer.read(), null);
  });
  const dir = await clientFolder(server.port, {
    "a.bin": patternBytes(5),
    "b.bin": patternBytes(6),
  });
  try {
    const run = await runClient(["--dir", dir, "a.bin", "b.bin"], { cwd: dir });
    assert.equal(run.code, ExitCode.Crc, run.stderr);
    assert.match(run.stderr, /Cannot send b\.bin: the server's cksum .* on all 4 sends/);
    assert.match(run.stdout, /1 of 2 files arrived \(a\.bin\); not sent: b\.bin/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("a server that closes after each upload gets one connection per file, and no retry is used", async () => {
  const server = startFakeServer(async (peer, index) => {
    let key: Uint8Array;
    if (index === 0) {
      key = await registerClient(peer);
    } else {
      const request = await peer.read();
      assert.equal(request?.code, RequestCode.Reconnect);
      const { raw, wrapped } = await makeSessionKey(publicKey);
      await peer.send({ code: ResponseCode.ReconnectApproved, clientId: ID, wrappedKey: wrapped });
      key = raw;
    }
    await acceptUpload(peer, key);
    // Returns: the fake server closes the connection after one upload.
  });
  const dir = await clientFolder(server.port, {
    "a.bin": patternBytes(1000, 1),
    "b.bin": patternBytes(2000, 2),
    "c.bin": patternBytes(3000, 3),
  });
  try {
    const run = await runClient(["--dir", dir, "--retries", "0", "a.bin", "b.bin", "c.bin"], {
      cwd: dir,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.peers.length, 3, "one connection per file");
    assert.match(
      run.stderr,
      /the server closed the connection after an upload; sending each remaining file/,
    );
    assert.match(run.stdout, /3 of 3 files arrived/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("two files of one name in a run: the second is refused, the first is sent", async () => {
  const server = startFakeServer(async (peer) => {
    const key = await registerClient(peer);
    while ((await acceptUpload(peer, key)) !== null);
  });
  const dir = await clientFolder(server.port, {});
  await Deno.mkdir(join(dir, "x"));
  await Deno.mkdir(join(dir, "y"));
  await Deno.writeFile(join(dir, "x", "same.bin"), patternBytes(10));
  await Deno.writeFile(join(dir, "y", "same.bin"), patternBytes(20));
  try {
    const run = await runClient(["--dir", dir, "x/same.bin", "y/same.bin"], { cwd: dir });
    assert.equal(run.code, ExitCode.Config, run.stderr);
    assert.match(
      run.stderr,
      /same\.bin .*has the same name, "same\.bin", and the server keeps one file per name/,
    );
    assert.match(run.stdout, /1 of 2 files arrived \(same\.bin\); not sent: y\/same\.bin/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("several files reach our server byte-identical, on one connection", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-multi-" });
  const serverDir = join(root, "server");
  const server = await startServer({ dir: serverDir, port: 0, host: "127.0.0.1" });
  const files = {
    "one.bin": patternBytes(1, 4),
    "two.bin": patternBytes(20_000, 5),
    "three.bin": patternBytes(7925, 6),
  };
  const dir = await clientFolder(server.port, files);
  try {
    const run = await runClient(["--dir", dir, ...Object.keys(files)], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /registered as "Multi"/);
    assert.equal((run.stderr.match(/registered/g) ?? []).length, 1, "one sign-in");
    const { clientId } = parseMeInfo(await Deno.readTextFile(join(dir, "me.info")));
    for (const [name, bytes] of Object.entries(files)) {
      const stored = join(serverDir, "received_files", clientIdToHex(clientId), name);
      assert.deepEqual(await Deno.readFile(stored), bytes, name);
    }
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});
