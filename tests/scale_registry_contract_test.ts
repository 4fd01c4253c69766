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
import { DatabaseSync } from "node:sqlite";
import { type ClientId, clientIdToHex, sha256Hex } from "../protocol/mod.ts";
import type { CommitIntent, Registry } from "../server/storage/registry.ts";
import { PostgresRegistry } from "../server/storage/registry_postgres.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { delay, waitUntil } from "./support/reliability.ts";
import { ignoreWithoutServices, type PostgresService, startPostgres } from "./support/services.ts";
import { SQLITE_VERSION_2 } from "./support/old_schemas.ts";

/** Opens a fresh registry; `reopen` opens another over the same data (a restart). */
interface Engine {
  name: string;
  open(): Promise<{ registry: Registry; reopen(): Promise<Registry> }>;
  /**
   * Opens a registry over a database an older version wrote (before
   * SHA-256s were recorded), holding the client `Old` with the file `old.txt`.
   */
  openOlder(): Promise<Registry>;
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
    sha256: sha256Of(fileName, size),
    instanceId: "test-instance",
  };
}

/** A stand-in SHA-256 for a commit of `fileName` of `size` bytes (distinct per commit). */
function sha256Of(fileName: string, size: number): string {
  return sha256Hex(new TextEncoder().encode(`${fileName}:${size}`));
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
  ["a client's dialect is recorded with it, family A by default, and kept across a reopen", async (
    registry,
    reopen,
  ) => {
    const ids = { A: newId(), B: newId(), C: newId(), D: newId() };
    assert.equal(await registry.addClient({ id: ids.A, name: "Ref", publicKey: newKey() }), true);
    for (const dialect of ["B", "C", "D"] as const) {
      const client = { id: ids[dialect], name: `Fam ${dialect}`, publicKey: newKey(), dialect };
      assert.equal(await registry.addClient(client), true);
    }
    const check = async (r: Registry) => {
      assert.equal((await r.clientByName("Ref"))?.dialect, "A");
      assert.equal((await r.clientById(ids.B))?.dialect, "B");
      assert.equal((await r.clientByName("Fam C"))?.dialect, "C");
      const listed = (await r.listClients()).map((c) => [c.name, c.dialect]);
      assert.deepEqual(listed, [["Fam B", "B"], ["Fam C", "C"], ["Fam D", "D"], ["Ref", "A"]]);
    };
    await check(registry);
    await registry.close(); // a restart: the column is there already
    const restarted = await reopen();
    try {
      await check(restarted);
    } finally {
      await restarted.close();
    }
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
    assert.deepEqual(await registry.usage(id), { files: 2, bytes: 30, partialBytes: 0 });
    assert.deepEqual(await registry.pendingCommits(), []);
  }],
  ["a same-name commit replaces the row and counts as a replacement", async (registry) => {
    const id = await addClient(registry, "Erin");
    const limits = { maxFiles: 1, maxBytes: 100 };
    assert.equal(await commit(registry, id, "a.txt", 60, limits), "stored");
    assert.equal(await commit(registry, id, "a.txt", 90, limits), "stored");
    assert.equal((await registry.file(id, "a.txt"))?.size, 90);
    assert.deepEqual(await registry.usage(id), { files: 1, bytes: 90, partialBytes: 0 });
  }],
  ["over a limit, a commit is refused and nothing is recorded", async (registry) => {
    const id = await addClient(registry, "Frank");
    const limits = { maxFiles: 2, maxBytes: 100 };
    assert.equal(await commit(registry, id, "a.txt", 50, limits), "stored");
    assert.equal(await commit(registry, id, "b.txt", 51, limits), "bytes");
    assert.equal(await commit(registry, id, "b.txt", 50, limits), "stored");
    assert.equal(await commit(registry, id, "c.txt", 0, limits), "files");
    assert.deepEqual(await registry.usage(id), { files: 2, bytes: 100, partialBytes: 0 });
    assert.equal(await registry.file(id, "c.txt"), undefined);
    assert.deepEqual(await registry.pendingCommits(), []);
  }],
  [
    "reservations count with stored and kept bytes, one per token, and go when released",
    async (registry) => {
      const id = await addClient(registry, "Reserver");
      const limits = { maxFiles: 3, maxBytes: 100 };
      assert.equal(await commit(registry, id, "a.txt", 30, limits), "stored");
      const reserve = (token: string, fileName: string, size: number) =>
        registry.reserve({ token, clientId: id, fileName, size, instanceId: "i1" }, limits);
      assert.equal(await reserve("t1", "b.txt", 50), undefined);
      assert.equal(await reserve("t2", "c.txt", 21), "bytes", "30 stored + 50 reserved + 21");
      assert.equal(
        await reserve("t2", "a.txt", 50),
        undefined,
        "a same-name file counts as replaced",
      );
      assert.equal(await reserve("t3", "d.txt", 0), "files", "1 stored + 2 reserved + 1");
      assert.equal(
        await reserve("t1", "b.txt", 20),
        undefined,
        "a token's new reservation replaces",
      );
      const row = (await registry.listClients()).find((c) => c.name === "Reserver");
      assert.deepEqual([row?.bytes, row?.stagedBytes], [30, 70]);
      await registry.release("t1");
      await registry.release("t2");
      await registry.release("t2");
      assert.equal(await reserve("t3", "d.txt", 70), undefined);
      assert.equal(
        (await registry.listClients()).find((c) => c.name === "Reserver")?.stagedBytes,
        70,
      );
    },
  ],
  [
    "a cut upload's kept bytes are recorded once per path, counted, taken once, and survive a reopen",
    async (
      registry,
      reopen,
    ) => {
      const id = await addClient(registry, "Kept");
      const partial = {
        clientId: id,
        fileName: "photos/a.bin",
        stagingRef: "ref-1",
        size: 100,
        received: 40,
        prefixSha256: "ab".repeat(32),
        prefixCrc: 4_000_000_000,
        instanceId: "i1",
        keptAt: 1000,
      };
      assert.equal(await registry.keepPartial(partial), undefined);
      assert.equal(
        await registry.keepPartial({ ...partial, stagingRef: "ref-2", received: 60 }),
        "ref-1",
      );
      assert.deepEqual(await registry.usage(id), { files: 0, bytes: 0, partialBytes: 60 });
      assert.deepEqual(
        (await registry.listClients()).find((c) => c.name === "Kept")?.partialBytes,
        60,
      );
      // Kept bytes count against the limits of other paths' commits.
      assert.equal(
        await commit(registry, id, "b.txt", 41, { maxFiles: 10, maxBytes: 100 }),
        "bytes",
      );
      const reopened = await reopen();
      const kept = { ...partial, stagingRef: "ref-2", received: 60 };
      assert.deepEqual(await reopened.partial(id, "photos/a.bin"), kept);
      assert.deepEqual(await reopened.listPartials(), [kept]);
      assert.deepEqual(await reopened.takePartial(id, "photos/a.bin"), kept);
      assert.equal(await reopened.takePartial(id, "photos/a.bin"), undefined, "taken once");
      assert.deepEqual(await reopened.usage(id), { files: 0, bytes: 0, partialBytes: 0 });
    },
  ],
  [
    "a cut upload kept for a resume counts once: as its reservation, then as its kept bytes",
    async (registry) => {
      const id = await addClient(registry, "Once");
      const limits = { maxFiles: 10, maxBytes: 1000 };
      const reserve = (token: string, fileName: string, size: number, takesPartial = false) =>
        registry.reserve(
          { token, clientId: id, fileName, size, instanceId: "i1", takesPartial },
          limits,
        );
      const partial = {
        clientId: id,
        fileName: "cut.bin",
        stagingRef: "ref-cut",
        size: 600,
        received: 500,
        prefixSha256: null,
        prefixCrc: null,
        instanceId: "i1",
        keptAt: 1000,
      };
      assert.equal(await reserve("upload", "cut.bin", 600), undefined);
      // The cut: its kept bytes are recorded and its reservation goes, in one step.
      assert.equal(await registry.keepPartial(partial, "upload"), undefined);
      const row = async () => (await registry.listClients()).find((c) => c.name === "Once");
      assert.deepEqual([(await row())?.partialBytes, (await row())?.stagedBytes], [500, 0]);
      assert.equal(await reserve("other", "other.bin", 500), undefined, "500 kept + 500");
      await registry.release("other");
      assert.equal(await reserve("other", "other.bin", 501), "bytes", "500 kept + 501");
      // An upload of the path that does not stand for the kept bytes: both count.
      assert.equal(await reserve("plain", "cut.bin", 501), "bytes", "500 kept + 501");
      // One that stands for them (an 828 superseding them), smaller: it stands for 100 of them.
      assert.equal(await reserve("small", "cut.bin", 100, true), undefined, "100 + 400 left");
      assert.equal(await reserve("other", "other.bin", 501), "bytes", "100 + 400 + 501");
      assert.equal(await reserve("other", "other.bin", 500), undefined, "100 + 400 + 500");
      await registry.release("other");
      await registry.release("small");
      // The resume reserves the whole file: its reservation stands for the kept bytes.
      assert.equal(await reserve("resume", "cut.bin", 600, true), undefined, "600, not 500 + 600");
      assert.equal(await reserve("other", "other.bin", 400), undefined, "600 + 400");
      assert.equal(await reserve("third", "third.bin", 1), "bytes", "600 + 400 + 1");
      await registry.release("other");
      assert.equal(await reserve("third", "third.bin", 400), undefined);
      await registry.release("third");
      // The resume is cut again before it took the kept bytes: they count by themselves again.
      await registry.release("resume");
      assert.equal(await reserve("third", "third.bin", 501), "bytes", "500 kept + 501");
      // A resume that took them: only its reservation counts.
      assert.equal(await reserve("resume", "cut.bin", 600, true), undefined);
      assert.equal((await registry.takePartial(id, "cut.bin"))?.received, 500);
      assert.equal(await reserve("third", "third.bin", 400), undefined, "600 + 400");
    },
  ],
  [
    "forgetting a client releases everything it held: files, kept partial uploads, reservations",
    async (registry) => {
      const id = await addClient(registry, "Gone");
      const other = await addClient(registry, "Stays");
      assert.equal(await commit(registry, id, "a.txt", 5), "stored");
      const reservation = { clientId: id, fileName: "b.txt", size: 70, instanceId: "i1" };
      assert.equal(await registry.reserve({ token: "t-gone", ...reservation }, LIMITS), undefined);
      assert.equal(
        await registry.reserve({ ...reservation, token: "t-stays", clientId: other }, LIMITS),
        undefined,
      );
      const kept = {
        clientId: id,
        fileName: "c.bin",
        stagingRef: "ref-gone",
        size: 100,
        received: 40,
        prefixSha256: null,
        prefixCrc: null,
        instanceId: "i1",
        keptAt: 1000,
      };
      await registry.keepPartial(kept);
      const forgotten = await registry.forgetClient("Gone");
      assert.deepEqual(forgotten?.files.map((f) => f.fileName), ["a.txt"]);
      assert.deepEqual(forgotten?.partials, [kept]);
      assert.deepEqual(await registry.listPartials(), []);
      assert.deepEqual(
        (await registry.listClients()).map((c) => [c.name, c.stagedBytes]),
        [["Stays", 70]],
        "its reservation is gone, another client's stays",
      );
      // The same id signing up again (improbable, but nothing of the old one may count).
      assert.equal(await registry.addClient({ id, name: "Gone", publicKey: newKey() }), true);
      const tight = { maxFiles: 1, maxBytes: 100 };
      assert.equal(
        await registry.reserve({ token: "t-new", ...reservation, size: 100 }, tight),
        undefined,
        "nothing of what the forgotten client held counts",
      );
    },
  ],
  [
    "freeing an unused name drops its kept partial uploads; a client uploading is not unused",
    async (registry) => {
      const idle = await addClient(registry, "IdleKept");
      const uploading = await addClient(registry, "Uploading");
      await registry.keepPartial({
        clientId: idle,
        fileName: "c.bin",
        stagingRef: "ref-idle",
        size: 100,
        received: 40,
        prefixSha256: null,
        prefixCrc: null,
        instanceId: "i1",
        keptAt: 1000,
      });
      assert.equal(
        await registry.reserve(
          { token: "t-up", clientId: uploading, fileName: "u.bin", size: 1, instanceId: "i1" },
          LIMITS,
        ),
        undefined,
      );
      assert.deepEqual(await registry.forgetUnusedClients(Date.now() + 1), ["IdleKept"]);
      assert.deepEqual(await registry.listPartials(), []);
      assert.equal((await registry.clientByName("Uploading"))?.name, "Uploading");
      await registry.release("t-up");
      assert.deepEqual(await registry.forgetUnusedClients(Date.now() + 1), ["Uploading"]);
    },
  ],
  [
    "reservations left by a crash are dropped at start-up; none is left counting",
    async (registry, reopen) => {
      const id = await addClient(registry, "Crashed");
      const limits = { maxFiles: 10, maxBytes: 100 };
      for (const token of ["t1", "t2"]) {
        const reservation = { token, clientId: id, fileName: `${token}.bin`, size: 50 };
        assert.equal(
          await registry.reserve({ ...reservation, instanceId: "i1" }, limits),
          undefined,
        );
      }
      await registry.close(); // the process is gone; its reservations stay
      const restarted = await reopen();
      try {
        const row = async () => (await restarted.listClients()).find((c) => c.name === "Crashed");
        assert.equal((await row())?.stagedBytes, 100, "before the clean-up they count");
        assert.equal(await restarted.dropDeadReservations(), 2);
        assert.equal((await row())?.stagedBytes, 0);
        const again = {
          token: "t3",
          clientId: id,
          fileName: "new.bin",
          size: 100,
          instanceId: "i2",
        };
        assert.equal(await restarted.reserve(again, limits), undefined, "the whole limit is free");
      } finally {
        await restarted.close();
      }
    },
  ],
  [
    "the running sweep drops this instance's old reservations no connection holds, only those",
    async (registry) => {
      const id = await addClient(registry, "Swept");
      for (const token of ["held", "orphan"]) {
        const reservation = { token, clientId: id, fileName: `${token}.bin`, size: 10 };
        assert.equal(
          await registry.reserve({ ...reservation, instanceId: "me" }, LIMITS),
          undefined,
        );
      }
      const held = (token: string) => token === "held";
      assert.equal(
        await registry.dropStaleReservations("me", held, Date.now() - 60_000),
        0,
        "none is old enough",
      );
      assert.equal(await registry.dropStaleReservations("me", held, Date.now() + 1), 1);
      const row = (await registry.listClients()).find((c) => c.name === "Swept");
      assert.equal(row?.stagedBytes, 10, "the held one stays");
    },
  ],
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
  ["a commit records the file's SHA-256; a same-name commit replaces it", async (registry) => {
    const id = await addClient(registry, "Hash");
    assert.equal(await commit(registry, id, "a.txt", 10), "stored");
    assert.equal((await registry.file(id, "a.txt"))?.sha256, sha256Of("a.txt", 10));
    assert.equal(await commit(registry, id, "a.txt", 11), "stored");
    assert.equal((await registry.file(id, "a.txt"))?.sha256, sha256Of("a.txt", 11));
    assert.deepEqual(
      (await registry.listFiles("Hash")).map((f) => f.sha256),
      [sha256Of("a.txt", 11)],
    );
  }],
  ["an intent left by a crash keeps its SHA-256 into the file row", async (registry, reopen) => {
    const id = await addClient(registry, "Crash");
    const start = await registry.beginCommit(intentFor(id, "sub/a.txt", 3), LIMITS);
    assert.ok("id" in start);
    await registry.close();
    const restarted = await reopen();
    try {
      const [pending] = await restarted.pendingCommits();
      assert.equal(pending?.sha256, sha256Of("sub/a.txt", 3));
      await restarted.finishCommit(pending!.id);
      assert.equal((await restarted.file(id, "sub/a.txt"))?.sha256, sha256Of("sub/a.txt", 3));
    } finally {
      await restarted.close();
    }
  }],
  ["a client's files come in pages, in byte order, and only its own", async (registry) => {
    const mine = await addClient(registry, "Pages");
    const other = await addClient(registry, "Other");
    const names = ["é.txt", "a.txt", "Z.txt", "z/x.txt", "B.txt", "ä", "a/b/c.txt", "a-b"];
    for (const name of names) assert.equal(await commit(registry, mine, name, 1), "stored");
    assert.equal(await commit(registry, other, "a.txt", 1), "stored");
    // The order of the UTF-8 bytes: uppercase before lowercase, "-" (0x2d) < "." (0x2e) <
    // "/" (0x2f), and every ASCII byte before "ä" (0xc3 0xa4) and "é" (0xc3 0xa9).
    const expected = ["B.txt", "Z.txt", "a-b", "a.txt", "a/b/c.txt", "z/x.txt", "ä", "é.txt"];
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const rows = await registry.clientFiles(
        mine,
        after === undefined ? { limit: 3 } : {
          after,
          limit: 3,
        },
      );
      assert.ok(rows.length <= 3);
      for (const row of rows) assert.deepEqual(row.clientId, mine);
      seen.push(...rows.map((r) => r.fileName));
      if (rows.length < 3) break;
      after = rows.at(-1)!.fileName;
    }
    assert.deepEqual(seen, expected);
    assert.deepEqual(await registry.clientFiles(newId(), { limit: 10 }), []);
    assert.deepEqual(await registry.clientFiles(mine, { after: "é.txt", limit: 10 }), []);
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
  [
    "unused names are freed; a client with a file or a commit in progress never is",
    async (registry) => {
      const idle = await addClient(registry, "Idle");
      const keeper = await addClient(registry, "Keeper");
      const committing = await addClient(registry, "Committing");
      assert.equal(await commit(registry, keeper, "kept.txt", 3), "stored");
      const start = await registry.beginCommit(intentFor(committing, "c.txt", 1), LIMITS);
      assert.ok("id" in start);
      assert.deepEqual(await registry.forgetUnusedClients(Date.now() - 60_000), [], "all seen now");
      const freed = await registry.forgetUnusedClients(Date.now() + 1);
      assert.deepEqual(freed, ["Idle"]);
      assert.equal(await registry.clientById(idle), undefined);
      assert.equal((await registry.clientByName("Keeper"))?.name, "Keeper");
      assert.equal((await registry.clientByName("Committing"))?.name, "Committing");
      await registry.abandonCommit(start.id);
      assert.equal(
        await registry.addClient({ id: newId(), name: "Idle", publicKey: newKey() }),
        true,
      );
    },
  ],
];

/** The client and file rows an older version left, for {@linkcode Engine.openOlder}. */
const OLDER_CLIENT = { id: new Uint8Array(16).fill(7), name: "Old", key: new Uint8Array(160) };

async function olderDatabaseCase(engine: Engine): Promise<void> {
  const registry = await engine.openOlder();
  try {
    const file = await registry.file(OLDER_CLIENT.id, "old.txt");
    assert.equal(file?.size, 3);
    assert.equal(file?.sha256, null);
    const [listed] = await registry.clientFiles(OLDER_CLIENT.id, { limit: 10 });
    assert.equal(listed?.sha256, null);
    // A new commit of that name records its SHA-256.
    assert.equal(await commit(registry, OLDER_CLIENT.id, "old.txt", 4), "stored");
    assert.equal((await registry.file(OLDER_CLIENT.id, "old.txt"))?.sha256, sha256Of("old.txt", 4));
  } finally {
    await registry.close();
  }
}

async function runCases(t: Deno.TestContext, engine: Engine): Promise<void> {
  await t.step(
    `${engine.name}: a database of an older version gains the SHA-256 column; older rows have none`,
    () => olderDatabaseCase(engine),
  );
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
      async openOlder() {
        const path = join(dir, `r${n++}.db`);
        const db = new DatabaseSync(path);
        db.exec(SQLITE_VERSION_2);
        db.prepare("INSERT INTO clients VALUES (?, ?, ?, 1, 1)")
          .run(OLDER_CLIENT.id, OLDER_CLIENT.name, OLDER_CLIENT.key);
        db.prepare("INSERT INTO files VALUES (?, 'old.txt', ?, 3, 42, 1, 5)")
          .run(OLDER_CLIENT.id, `${clientIdToHex(OLDER_CLIENT.id)}/old.txt`);
        db.close();
        return await SqliteRegistry.open(path);
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The PostgreSQL schema of version 1 as first released, before SHA-256s were recorded. */
const POSTGRES_VERSION_1 = `
CREATE TABLE ft_schema (version integer NOT NULL);
INSERT INTO ft_schema (version) VALUES (1);
CREATE TABLE clients (id bytea PRIMARY KEY, name text NOT NULL UNIQUE,
  public_key bytea NOT NULL, registered_at bigint NOT NULL, last_seen bigint NOT NULL);
CREATE TABLE files (client_id bytea NOT NULL REFERENCES clients(id), file_name text NOT NULL,
  location text NOT NULL, size bigint NOT NULL, cksum bigint NOT NULL, verified boolean NOT NULL,
  time bigint NOT NULL, PRIMARY KEY (client_id, file_name));
CREATE TABLE intents (id bigserial PRIMARY KEY, client_id bytea NOT NULL, file_name text NOT NULL,
  location text NOT NULL, staging_ref text NOT NULL, size bigint NOT NULL, cksum bigint NOT NULL,
  instance_id text NOT NULL, holder text NOT NULL, created_at bigint NOT NULL);
CREATE TABLE commit_locks (key text PRIMARY KEY, holder text NOT NULL, acquired_at bigint NOT NULL);
`;

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
        async openOlder() {
          const url = await freshDatabase(pg);
          const admin = postgres(url, { max: 1, onnotice: () => {} });
          try {
            await admin.unsafe(POSTGRES_VERSION_1);
            await admin`INSERT INTO clients VALUES
              (${OLDER_CLIENT.id}, ${OLDER_CLIENT.name}, ${OLDER_CLIENT.key}, 1, 1)`;
            await admin`INSERT INTO files VALUES (${OLDER_CLIENT.id}, 'old.txt',
              ${`${clientIdToHex(OLDER_CLIENT.id)}/old.txt`}, 3, 42, true, 5)`;
          } finally {
            await admin.end();
          }
          return await PostgresRegistry.open(url);
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
          assert.deepEqual(await instances[1]!.usage(id), { files: 5, bytes: 5, partialBytes: 0 });
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

      await t.step(
        "the reservations of instances that are gone are dropped, at start-up and by the sweep; a live one's stay",
        async () => {
          const url = await freshDatabase(pg);
          const live = await PostgresRegistry.open(url);
          const doomed = await PostgresRegistry.open(url);
          const sweeper = await PostgresRegistry.open(url);
          try {
            const id = await addClient(live, "Shared");
            const reserve = (r: Registry, token: string, instanceId: string) =>
              r.reserve(
                { token, clientId: id, fileName: `${token}.bin`, size: 10, instanceId },
                LIMITS,
              );
            assert.equal(await reserve(live, "live-1", "live"), undefined);
            assert.equal(await reserve(doomed, "dead-1", "doomed"), undefined);
            assert.equal(await sweeper.dropDeadReservations(), 0, "both instances are alive");
            const never = () => false;
            assert.equal(
              await sweeper.dropStaleReservations("sweeper", never, Date.now() + 1),
              0,
              "another live instance's reservations are its own to sweep",
            );
            await doomed.close(); // its session ends: as after a kill
            assert.equal(await sweeper.dropStaleReservations("sweeper", never, Date.now() + 1), 1);
            assert.equal(await reserve(live, "live-2", "live"), undefined);
            // A start-up after another crash drops only the dead instance's.
            const crashed = await PostgresRegistry.open(url);
            assert.equal(await reserve(crashed, "dead-2", "crashed"), undefined);
            await crashed.close();
            const starting = await PostgresRegistry.open(url);
            try {
              assert.equal(await starting.dropDeadReservations(), 1);
            } finally {
              await starting.close();
            }
            const row = (await live.listClients()).find((c) => c.name === "Shared");
            assert.equal(row?.stagedBytes, 20, "the live instance's two reservations stay");
          } finally {
            await live.close();
            await sweeper.close();
          }
        },
      );

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
