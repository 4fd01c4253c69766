/**
 * The client as a process against our server in-process, on port 0, in
 * temporary folders: registration, reconnect, restart (1605 thanks to the
 * database), a deleted database (1606, then a new registration), files of
 * every framing edge size arriving byte-identical, and the reference
 * client's identity files used to reconnect.
 */

import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { join } from "node:path";
import { type ClientId, clientIdToHex, parseMeInfo, parsePrivateKey } from "../protocol/mod.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { startServer } from "../server/server.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { readFixture } from "./support/golden_session.ts";

async function readIdentity(dir: string): Promise<{ name: string; clientId: ClientId }> {
  return parseMeInfo(await Deno.readTextFile(join(dir, "me.info")));
}

function receivedPath(serverDir: string, clientId: ClientId, name: string): string {
  return join(serverDir, "received_files", clientIdToHex(clientId), name);
}

Deno.test("client registers, reconnects, and reconnects after a server restart", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-e2e-" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  const contents = patternBytes(20000, 7);
  let server = await startServer({ dir: serverDir, port: 0, host: "127.0.0.1" });
  try {
    await writeTransferInfo(clientDir, server.port, "Alice", "first.bin", contents);
    const first = await runClient(["--dir", clientDir]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /registered as "Alice"/);
    assert.match(
      first.stdout,
      /^client: the server confirmed first\.bin \(20\.0 kB, cksum \d+\) and stored it as "first\.bin"\n$/,
    );
    assert.equal(first.stdout.trim().split("\n").length, 1);
    const identity = await readIdentity(clientDir);
    assert.equal(identity.name, "Alice");
    assert.deepEqual(
      await Deno.readFile(receivedPath(serverDir, identity.clientId, "first.bin")),
      contents,
    );
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(join(clientDir, "me.info"))).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(join(clientDir, "priv.key"))).mode! & 0o777, 0o600);
    }

    const second = await runClient(["--dir", clientDir]);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /registered/);
    assert.deepEqual((await readIdentity(clientDir)).clientId, identity.clientId);

    await server.close();
    server = await startServer({ dir: serverDir, port: 0, host: "127.0.0.1" });
    await writeTransferInfo(clientDir, server.port, "Alice", "after-restart.bin", contents);
    const third = await runClient(["--dir", clientDir]);
    assert.equal(third.code, 0, third.stderr);
    assert.doesNotMatch(third.stderr, /registered|1606/);
    assert.deepEqual((await readIdentity(clientDir)).clientId, identity.clientId);
    assert.deepEqual(
      await Deno.readFile(receivedPath(serverDir, identity.clientId, "after-restart.bin")),
      contents,
    );
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("client registers again when the server's database was deleted (1606)", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-e2e-" });
  const clientDir = join(root, "client");
  let server = await startServer({ dir: join(root, "server1"), port: 0, host: "127.0.0.1" });
  try {
    await writeTransferInfo(clientDir, server.port, "Bob", "b.bin", patternBytes(100, 3));
    assert.equal((await runClient(["--dir", clientDir, "--quiet"])).code, 0);
    const before = await readIdentity(clientDir);
    const keyBefore = await Deno.readTextFile(join(clientDir, "priv.key"));
    await server.close();
    // A server with a fresh, empty data folder: it does not know Bob.
    server = await startServer({ dir: join(root, "server2"), port: 0, host: "127.0.0.1" });
    await writeTransferInfo(clientDir, server.port, "Bob", "b.bin");
    const run = await runClient(["--dir", clientDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /1606/);
    const after = await readIdentity(clientDir);
    assert.notDeepEqual(after.clientId, before.clientId);
    assert.notEqual(await Deno.readTextFile(join(clientDir, "priv.key")), keyBefore);
    assert.deepEqual(
      await Deno.readFile(receivedPath(join(root, "server2"), after.clientId, "b.bin")),
      patternBytes(100, 3),
    );
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("files of every framing edge size arrive byte-identical", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-e2e-" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  const server = await startServer({ dir: serverDir, port: 0, host: "127.0.0.1" });
  try {
    for (const size of [0, 1, 15, 16, 17, 7925, 7926, 50_000_000]) {
      const contents = patternBytes(size, size + 1);
      const name = `size-${size}.bin`;
      await writeTransferInfo(clientDir, server.port, "Sizes", name, contents);
      const run = await runClient(["--dir", clientDir]);
      assert.equal(run.code, 0, `${size} bytes: ${run.stderr}`);
      const { clientId } = await readIdentity(clientDir);
      const received = await Deno.readFile(receivedPath(serverDir, clientId, name));
      assert.equal(received.length, size);
      assert.ok(received.every((b, i) => b === contents[i]), `${size} bytes differ`);
      await Deno.remove(join(clientDir, name));
    }
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the reference client's info.me and priv.key reconnect to our server (1605)", async () => {
  const root = await Deno.makeTempDir({ prefix: "client-e2e-" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  const infoMe = await Deno.readTextFile(new URL("fixtures/s1-info.me", import.meta.url));
  const golden = parseMeInfo(infoMe);
  // Our server knows the golden client: same id, same name, its public key.
  await Deno.mkdir(serverDir, { recursive: true });
  const privateKey = createPrivateKey({
    key: Buffer.from(golden.privateKeyDer),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = new Uint8Array(
    createPublicKey(privateKey).export({ type: "spki", format: "der" }),
  );
  const db = await SqliteRegistry.open(join(serverDir, "server.db"));
  await db.addClient({ id: golden.clientId, name: golden.name, publicKey });
  await db.close();
  const server = await startServer({ dir: serverDir, port: 0, host: "127.0.0.1" });
  try {
    await writeTransferInfo(
      clientDir,
      server.port,
      golden.name,
      "block16.bin",
      await readFixture("block16.bin"),
    );
    await Deno.writeTextFile(join(clientDir, "info.me"), infoMe);
    await Deno.writeFile(join(clientDir, "priv.key"), await readFixture("s1-priv.key"));
    const run = await runClient(["--dir", clientDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /registered|1606/);
    assert.deepEqual(
      await Deno.readFile(receivedPath(serverDir, golden.clientId, "block16.bin")),
      await readFixture("block16.bin"),
    );
    // Nothing was rewritten: the reference's files stay as they were.
    assert.equal(await Deno.readTextFile(join(clientDir, "info.me")), infoMe);
    await assert.rejects(Deno.stat(join(clientDir, "me.info")), Deno.errors.NotFound);
    assert.deepEqual(
      parsePrivateKey(await Deno.readTextFile(join(clientDir, "priv.key"))),
      golden.privateKeyDer,
    );
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});
