/**
 * The registry contract, one table of cases run against both engines:
 * SQLite (the default) and PostgreSQL (a throwaway cluster). Then what only
 * a shared registry must also do: several instances at once never give one
 * name to two clients, hold the limits together, and recover only the
 * commits of instances that are gone.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import type { ClientId } from "../protocol/mod.ts";
import type { CommitIntent, Registry } from "../server/storage/registry.ts";
import { PostgresRegistry } from "../server/storage/registry_postgres.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { delay, waitUntil } from "./support/reliability.ts";
import { ignoreWithoutServices, type PostgresService, startPostgres } from "./support/services.ts";

/** Opens a fresh registry; `reopen` opens another over the same data (a restart). */
interface Engine {
  name: string;
  open(): Promise<{ registry: Registry; reopen(): Promise<Registry> }>;
}

function newId(): ClientId {
  return crypto.getRandomValues(new Uint8Array(16));
}

function newKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(160));
}

function intentFor(clientId: ClientId, fileName: string, size: number): CommitIntent {
  return {
    clientId,
    fileName,
    location: `${[...clientId].map((b) => b.toString(16).padStart(2, "0")).join("")}/${fileName}`,
    stagingRef: `staging-${fileName}-${crypto.randomUUID()}`,
    size,
    cksum: 1234,
    instanceId: "test-instance",
  };
}

const LIMITS = { maxFiles: 100, maxBytes: 1_000_000 };

async function addClient(registry: Registry, name: string): Promise<ClientId> {
  const id = newId();
  assert.equal(await registry.addClient({ id, name, publicKey: newKey() }), true);
  return id;
}

async function commit(
  registry: Registry,
  clientId: ClientId,
  fileName: string,
  size: number,
  limits = LIMITS,
): Promise<"stored" | "files" | "bytes"> {
  const start = await registry.beginCommit(intentFor(clientId, fileName, size), limits);
  if ("refused" in start) return start.refused;
  await registry.finishCommit(start.id);
  return "stored";
}

/** Resolves to "pending" if `promise` has not settled within a few event-loop turns. */
async function stillPending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol("pending");
  const result = await Promise.race([
    promise.then(() => "settled"),
    delay(200).then(() => marker),
  ]);
  return result === marker;
}

type Case = [string, (registry: Registry, reopen: () => Promise<Registry>) => Promise<void>];

const CASES: Case[] = [
  ["a client is stored with its key and found by name and id", async (registry) => {
    const id = newId();
    const publicKey = newKey();
    assert.equal(await registry.addClient({ id, name: "Alice", publicKey }), true);
    const byName = await registry.clientByName("Alice");
    assert.deepEqual(byName?.id, id);
    assert.deepEqual(byName?.publicKey, publicKey);
    assert.deepEqual((await registry.clientById(id))?.name, "Alice");
    assert.equal(await registry.clientByName("alice"), undefined);
    assert.equal(await registry.clientById(newId()), undefined);
  }],
  ["a taken name is refused and changes nothing", async (registry) => {
    const first = await addClient(registry, "Bob");
    assert.equal(
      await registry.addClient({ id: newId(), name: "Bob", publicKey: newKey() }),
      false,
    );
    assert.deepEqual((await registry.clientByName("Bob"))?.id, first);
    assert.equal((await registry.listClients()).length, 1);
  }],
  ["touching a client moves its last-seen time", async (registry) => {
    const id = await addClient(registry, "Carol");
    const before = (await registry.clientById(id))!.lastSeen;
    await delay(5);
    await registry.touchClient(id);
    assert.ok((await registry.clientById(id))!.lastSeen > before);
  }],
  ["a finished commit is a verified file row, counted in the usage", async (registry) => {
    const id = await addClient(registry, "Dave");
    assert.equal(await commit(registry, id, "a.txt", 10), "stored");
    assert.equal(await commit(registry, id, "b.txt", 20), "stored");
    const file = await registry.file(id, "a.txt");
    assert.equal(file?.size, 10);
    assert.equal(file?.verified, true);
    assert.equal(file?.cksum, 1234);
    assert.deepEqual(await registry.usage(id), { files: 2, bytes: 30 });
    assert.deepEqual(await registry.pendingCommits(), []);
  }],
  ["a same-name commit replaces the row and counts as a replacement", async (registry) => {
    const id = await addClient(registry, "Erin");
    const limits = { maxFiles: 1, maxBytes: 100 };
    assert.equal(await commit(registry, id, "a.txt", 60, limits), "stored");
    assert.equal(await commit(registry, id, "a.txt", 90, limits), "stored");
    assert.equal((await registry.file(id, "a.txt"))?.size, 90);
    assert.deepEqual(await registry.usage(id), { files: 1, bytes: 90 });
  }],
  ["over a limit, a commit is refused and nothing is recorded", async (registry) => {
    const id = await addClient(registry, "Frank");
    const limits = { maxFiles: 2, maxBytes: 100 };
    assert.equal(await commit(registry, id, "a.txt", 50, limits), "stored");
    assert.equal(await commit(registry, id, "b.txt", 51, limits), "bytes");
    assert.equal(await commit(registry, id, "b.txt", 50, limits), "stored");
    assert.equal(await commit(registry, id, "c.txt", 0, limits), "files");
    assert.deepEqual(await registry.usage(id), { files: 2, bytes: 100 });
    assert.equal(await registry.file(id, "c.txt"), undefined);
    assert.deepEqual(await registry.pendingCommits(), []);
  }],
  ["pending intents count against the limits", async (registry) => {
    const id = await addClient(registry, "Grace");
    const limits = { maxFiles: 1, maxBytes: 100 };
    const first = await registry.beginCommit(intentFor(id, "a.txt", 10), limits);
    assert.ok("id" in first);
    assert.deepEqual(
      await registry.beginCommit(intentFor(id, "b.txt", 10), limits),
      { refused: "files" },
    );
    await registry.abandonCommit(first.id);
    assert.equal(await commit(registry, id, "b.txt", 10, limits), "stored");
  }],
  ["an abandoned commit leaves no row and frees its lock", async (registry) => {
    const id = await addClient(registry, "Heidi");
    const start = await registry.beginCommit(intentFor(id, "a.txt", 10), LIMITS);
    assert.ok("id" in start);
    await registry.abandonCommit(start.id);
    assert.equal(await registry.file(id, "a.txt"), undefined);
    assert.equal(await commit(registry, id, "a.txt", 10), "stored");
  }],
  ["a second commit of one name waits for the first to finish", async (registry) => {
    const id = await addClient(registry, "Ivan");
    const first = await registry.beginCommit(intentFor(id, "a.txt", 10), LIMITS);
    assert.ok("id" in first);
    const second = registry.beginCommit(intentFor(id, "a.txt", 20), LIMITS);
    assert.equal(await stillPending(second), true, "the second commit did not wait");
    // Another name of the same client is not held up.
    assert.equal(await commit(registry, id, "other.txt", 1), "stored");
    await registry.finishCommit(first.id);
    const started = await second;
    assert.ok("id" in started);
    await registry.finishCommit(started.id);
    assert.equal((await registry.file(id, "a.txt"))?.size, 20);
  }],
  ["intents left by a crash are pending after a restart", async (registry, reopen) => {
    const id = await addClient(registry, "Judy");
    const intent = intentFor(id, "a.txt", 10);
    const start = await registry.beginCommit(intent, LIMITS);
    assert.ok("id" in start);
    await registry.close(); // the process is gone; its intent stays
    const restarted = await reopen();
    try {
      const pending = await restarted.pendingCommits();
      assert.equal(pending.length, 1);
      assert.equal(pending[0]?.stagingRef, intent.stagingRef);
      assert.equal(pending[0]?.location, intent.location);
      await restarted.finishCommit(pending[0]!.id);
      assert.equal((await restarted.file(id, "a.txt"))?.size, 10);
      assert.deepEqual(await restarted.pendingCommits(), []);
    } finally {
      await restarted.close();
    }
  }],
  ["operators list clients with usage and files, and forget a client", async (registry) => {
    const alice = await addClient(registry, "Alice");
    const bob = await addClient(registry, "Bob");
    assert.equal(await commit(registry, alice, "a.txt", 5), "stored");
    assert.equal(await commit(registry, alice, "b.txt", 7), "stored");
    assert.equal(await commit(registry, bob, "c.txt", 1), "stored");
    const clients = await registry.listClients();
    assert.deepEqual(clients.map((c) => [c.name, c.files, c.bytes]), [
      ["Alice", 2, 12],
      ["Bob", 1, 1],
    ]);
    assert.deepEqual((await registry.listFiles("Alice")).map((f) => f.fileName), [
      "a.txt",
      "b.txt",
    ]);
    assert.deepEqual((await registry.listFiles()).map((f) => f.clientName), [
      "Alice",
      "Alice",
      "Bob",
    ]);
    const forgotten = await registry.forgetClient("Alice");
    assert.deepEqual(forgotten?.client.id, alice);
    assert.deepEqual(forgotten?.files.map((f) => f.fileName).sort(), ["a.txt", "b.txt"]);
    assert.equal(await registry.clientByName("Alice"), undefined);
    assert.equal(await registry.forgetClient("Alice"), undefined);
    assert.equal(
      await registry.addClient({ id: newId(), name: "Alice", publicKey: newKey() }),
      true,
    );
  }],
];

async function runCases(t: Deno.TestContext, engine: Engine): Promise<void> {
  for (const [name, fn] of CASES) {
    await t.step(`${engine.name}: ${name}`, async () => {
      const { registry, reopen } = await engine.open();
      let closed = false;
      const originalClose = registry.close.bind(registry);
      registry.close = () => {
        closed = true;
        return originalClose();
      };
      try {
        await fn(registry, reopen);
      } finally {
        if (!closed) await originalClose();
      }
    });
  }
}

Deno.test("registry contract: SQLite", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "registry_contract_" });
  let n = 0;
  try {
    await runCases(t, {
      name: "SQLite",
      async open() {
        const path = join(dir, `r${n++}.db`);
        return {
          registry: await SqliteRegistry.open(path),
          reopen: () => SqliteRegistry.open(path),
        };
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

let databases = 0;
async function freshDatabase(pg: PostgresService): Promise<string> {
  return await pg.createDatabase(`contract_${databases++}`);
}

Deno.test({
  name: "registry contract: PostgreSQL, and several instances sharing it",
  ignore: ignoreWithoutServices("registry contract: PostgreSQL", ["postgres"]),
  async fn(t) {
    const pg = await startPostgres();
    try {
      await runCases(t, {
        name: "PostgreSQL",
        async open() {
          const url = await freshDatabase(pg);
          return {
            registry: await PostgresRegistry.open(url),
            reopen: () => PostgresRegistry.open(url),
          };
        },
      });

      await t.step("instances racing for one name: exactly one gets it", async () => {
        const url = await freshDatabase(pg);
        const instances = await Promise.all([1, 2, 3, 4].map(() => PostgresRegistry.open(url)));
        try {
          for (let round = 0; round < 20; round++) {
            const name = `racer-${round}`;
            const results = await Promise.all(
              instances.map((r) => r.addClient({ id: newId(), name, publicKey: newKey() })),
            );
            assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
          }
          assert.equal((await instances[0]!.listClients()).length, 20);
        } finally {
          await Promise.all(instances.map((r) => r.close()));
        }
      });

      await t.step("instances committing at once hold one client's limits together", async () => {
        const url = await freshDatabase(pg);
        const instances = await Promise.all([1, 2, 3].map(() => PostgresRegistry.open(url)));
        try {
          const id = await addClient(instances[0]!, "Quota");
          const limits = { maxFiles: 5, maxBytes: 1_000_000 };
          const outcomes = await Promise.all(
            Array.from(
              { length: 15 },
              (_, i) => commit(instances[i % 3]!, id, `f${i}.txt`, 1, limits),
            ),
          );
          assert.equal(outcomes.filter((o) => o === "stored").length, 5);
          assert.equal(outcomes.filter((o) => o === "files").length, 10);
          assert.deepEqual(await instances[1]!.usage(id), { files: 5, bytes: 5 });
        } finally {
          await Promise.all(instances.map((r) => r.close()));
        }
      });

      await t.step("one name's commits are serialised across instances", async () => {
        const url = await freshDatabase(pg);
        const a = await PostgresRegistry.open(url);
        const b = await PostgresRegistry.open(url);
        try {
          const id = await addClient(a, "Serial");
          const first = await a.beginCommit(intentFor(id, "x.txt", 1), LIMITS);
          assert.ok("id" in first);
          const second = b.beginCommit(intentFor(id, "x.txt", 2), LIMITS);
          assert.equal(await stillPending(second), true, "instance b did not wait for a");
          await a.finishCommit(first.id);
          const started = await second;
          assert.ok("id" in started);
          await b.finishCommit(started.id);
          assert.equal((await a.file(id, "x.txt"))?.size, 2);
        } finally {
          await a.close();
          await b.close();
        }
      });

      await t.step("an instance whose session is cut shows itself alive again", async () => {
        const url = await freshDatabase(pg);
        const cut = await PostgresRegistry.open(url, { livenessCheckMs: 100 });
        const other = await PostgresRegistry.open(url);
        const admin = postgres(url, { max: 1, onnotice: () => {} });
        try {
          assert.equal(await other.isAlive(cut.holder), true);
          await admin`
            SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND classid = ${0x4654}
              AND objid::int = hashtext(${cut.holder})`;
          await waitUntil("the lock to be taken again", async () => {
            const [row] = await admin`
              SELECT count(*) AS n FROM pg_locks
              WHERE locktype = 'advisory' AND granted AND classid = ${0x4654}
                AND objid::int = hashtext(${cut.holder})`;
            return Number(row?.n) === 1;
          });
          assert.equal(await other.isAlive(cut.holder), true);
        } finally {
          await admin.end();
          await cut.close();
          await other.close();
        }
      });

      await t.step("only the intents of instances that are gone are pending", async () => {
        const url = await freshDatabase(pg);
        const live = await PostgresRegistry.open(url);
        const doomed = await PostgresRegistry.open(url);
        const starting = await PostgresRegistry.open(url);
        try {
          const id = await addClient(live, "Pending");
          const mine = await live.beginCommit(intentFor(id, "live.txt", 1), LIMITS);
          const theirs = await doomed.beginCommit(intentFor(id, "dead.txt", 1), LIMITS);
          assert.ok("id" in mine && "id" in theirs);
          assert.deepEqual(await starting.pendingCommits(), []);
          assert.equal(await starting.isAlive(doomed.holder), true);
          await doomed.close(); // its session ends: as after a kill
          assert.equal(await starting.isAlive(doomed.holder), false);
          const pending = await starting.pendingCommits();
          assert.deepEqual(pending.map((p) => p.fileName), ["dead.txt"]);
          await starting.abandonCommit(pending[0]!.id);
          await live.finishCommit(mine.id);
          assert.equal((await starting.file(id, "live.txt"))?.size, 1);
        } finally {
          await live.close();
          await starting.close();
        }
      });
    } finally {
      await pg.stop();
    }
  },
});
