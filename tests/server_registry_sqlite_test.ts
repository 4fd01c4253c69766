/**
 * The SQLite registry: migration of a first-version `server.db`, names
 * unique by the engine, the commit protocol's limits and lock.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { clientIdToHex } from "../protocol/mod.ts";
import type { CommitIntent } from "../server/storage/registry.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { delay } from "./support/reliability.ts";
import { SQLITE_VERSION_2 } from "./support/old_schemas.ts";

/** The schema of the first version: clients without a key, files.path. */
const OLD_SCHEMA = `
CREATE TABLE clients (id BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE,
  public_key BLOB, last_seen INTEGER NOT NULL);
CREATE TABLE files (client_id BLOB NOT NULL REFERENCES clients(id), file_name TEXT NOT NULL,
  path TEXT NOT NULL, size INTEGER NOT NULL, cksum INTEGER NOT NULL, verified INTEGER NOT NULL,
  time INTEGER NOT NULL, PRIMARY KEY (client_id, file_name));
`;

function randomId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

function intent(clientId: Uint8Array, fileName: string, size: number): CommitIntent {
  const hex = clientIdToHex(clientId);
  return {
    clientId,
    fileName,
    location: `${hex}/${fileName}`,
    stagingRef: `${hex}/~upload-0000000000000000.partial`,
    size,
    cksum: 1,
    sha256: null,
    instanceId: "test",
  };
}

Deno.test("registry: a first-version server.db is migrated: keyless clients dropped, rows and keys kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "registry_migrate_" });
  try {
    const path = `${dir}/server.db`;
    const keyed = randomId();
    const keyless = randomId();
    const old = new DatabaseSync(path);
    old.exec(OLD_SCHEMA);
    old.prepare("INSERT INTO clients VALUES (?, ?, ?, ?)").run(
      keyed,
      "Kept",
      new Uint8Array(160),
      5,
    );
    old.prepare("INSERT INTO clients VALUES (?, ?, NULL, ?)").run(keyless, "Never Keyed", 6);
    old.prepare("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(keyed, "a.txt", "/old/path/a.txt", 3, 42, 1, 7);
    old.close();

    const registry = await SqliteRegistry.open(path);
    try {
      const client = await registry.clientByName("Kept");
      assert.deepEqual(client, {
        id: keyed,
        name: "Kept",
        publicKey: new Uint8Array(160),
        registeredAt: 5,
        lastSeen: 5,
        dialect: "A",
      });
      assert.equal(await registry.clientByName("Never Keyed"), undefined);
      assert.deepEqual(await registry.file(keyed, "a.txt"), {
        clientId: keyed,
        fileName: "a.txt",
        location: `${clientIdToHex(keyed)}/a.txt`,
        size: 3,
        cksum: 42,
        sha256: null, // stored before SHA-256s were recorded
        verified: true,
        time: 7,
      });
      // The freed name registers anew.
      assert.equal(
        await registry.addClient({
          id: randomId(),
          name: "Never Keyed",
          publicKey: new Uint8Array(160),
        }),
        true,
      );
      assert.deepEqual(await registry.pendingCommits(), []);
    } finally {
      await registry.close();
    }
    // Opening again changes nothing.
    const again = await SqliteRegistry.open(path);
    assert.equal((await again.listClients()).length, 2);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("registry: a name is given once, whatever the order of two additions", async () => {
  const registry = await SqliteRegistry.open(":memory:");
  try {
    const results = await Promise.all([
      registry.addClient({ id: randomId(), name: "Twice", publicKey: new Uint8Array(160) }),
      registry.addClient({ id: randomId(), name: "Twice", publicKey: new Uint8Array(160) }),
    ]);
    assert.deepEqual(results.sort(), [false, true]);
  } finally {
    await registry.close();
  }
});

Deno.test("registry: beginCommit counts a same-name file as replaced, refuses past a limit, and locks one name", async (t) => {
  const registry = await SqliteRegistry.open(":memory:");
  const id = randomId();
  await registry.addClient({ id, name: "Quota", publicKey: new Uint8Array(160) });
  const limits = { maxFiles: 2, maxBytes: 100 };
  const commit = async (name: string, size: number) => {
    const start = await registry.beginCommit(intent(id, name, size), limits);
    if ("id" in start) await registry.finishCommit(start.id);
    return "id" in start ? "stored" : start.refused;
  };
  try {
    await t.step("within the limits", async () => {
      assert.equal(await commit("a", 40), "stored");
      assert.equal(await commit("b", 40), "stored");
    });
    await t.step("a third file is over the file limit", async () => {
      assert.equal(await commit("c", 1), "files");
    });
    await t.step("replacing a file counts it once", async () => {
      assert.equal(await commit("a", 60), "stored");
      assert.deepEqual(await registry.usage(id), { files: 2, bytes: 100, partialBytes: 0 });
    });
    await t.step("over the byte limit", async () => {
      assert.equal(await commit("b", 41), "bytes");
      assert.equal((await registry.file(id, "b"))?.size, 40);
    });
    await t.step("a second commit of one name waits for the first to finish", async () => {
      const first = await registry.beginCommit(intent(id, "a", 10), limits);
      assert.ok("id" in first);
      let secondStarted = false;
      const second = registry.beginCommit(intent(id, "a", 20), limits).then((start) => {
        secondStarted = true;
        return start;
      });
      await delay(20);
      assert.equal(secondStarted, false);
      await registry.finishCommit(first.id);
      const started = await second;
      assert.ok("id" in started);
      assert.equal((await registry.pendingCommits()).length, 1);
      await registry.abandonCommit(started.id);
      assert.equal((await registry.file(id, "a"))?.size, 10);
      assert.deepEqual(await registry.pendingCommits(), []);
    });
  } finally {
    await registry.close();
  }
});

Deno.test("registry: operator views list clients with their usage and files; forgetting a client frees its name", async () => {
  const registry = await SqliteRegistry.open(":memory:");
  try {
    const alice = randomId();
    const bob = randomId();
    await registry.addClient({ id: alice, name: "Alice", publicKey: new Uint8Array(160) });
    await registry.addClient({ id: bob, name: "Bob", publicKey: new Uint8Array(160) });
    const limits = { maxFiles: 10, maxBytes: 1000 };
    for (
      const [id, name, size] of [[alice, "a.txt", 5], [alice, "b.txt", 7], [
        bob,
        "c.txt",
        1,
      ]] as const
    ) {
      const start = await registry.beginCommit(intent(id, name, size), limits);
      assert.ok("id" in start);
      await registry.finishCommit(start.id);
    }
    const clients = await registry.listClients();
    assert.deepEqual(clients.map((c) => [c.name, c.files, c.bytes]), [["Alice", 2, 12], [
      "Bob",
      1,
      1,
    ]]);
    assert.deepEqual((await registry.listFiles()).map((f) => [f.clientName, f.fileName]), [
      ["Alice", "a.txt"],
      ["Alice", "b.txt"],
      ["Bob", "c.txt"],
    ]);
    assert.deepEqual((await registry.listFiles("Bob")).map((f) => f.fileName), ["c.txt"]);
    const forgotten = await registry.forgetClient("Alice");
    assert.deepEqual(forgotten?.client.id, alice);
    assert.deepEqual(forgotten?.files.map((f) => f.fileName).sort(), ["a.txt", "b.txt"]);
    assert.equal(await registry.forgetClient("Alice"), undefined);
    assert.equal(await registry.clientById(alice), undefined);
    assert.equal(
      await registry.addClient({ id: randomId(), name: "Alice", publicKey: new Uint8Array(160) }),
      true,
    );
  } finally {
    await registry.close();
  }
});

Deno.test("registry: a server.db from before dialects gains the column, its clients family A", async () => {
  const dir = await Deno.makeTempDir({ prefix: "registry_dialect_" });
  try {
    const path = `${dir}/server.db`;
    const id = randomId();
    const old = new DatabaseSync(path);
    old.exec(SQLITE_VERSION_2);
    old.prepare("INSERT INTO clients VALUES (?, ?, ?, ?, ?)").run(
      id,
      "Before",
      new Uint8Array(160),
      1,
      2,
    );
    old.close();
    const registry = await SqliteRegistry.open(path);
    try {
      assert.equal((await registry.clientById(id))?.dialect, "A");
      const added = { id: randomId(), name: "After", publicKey: new Uint8Array(160) };
      assert.equal(await registry.addClient({ ...added, dialect: "C" }), true);
      assert.equal((await registry.clientByName("After"))?.dialect, "C");
    } finally {
      await registry.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
