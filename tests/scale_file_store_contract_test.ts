/**
 * The file store contract, one table of cases run against both stores: the
 * local folder (the default) and S3 (a throwaway Ceph gateway). Then what
 * only a shared store must also do: leave the uploads of live instances
 * alone at start-up, and keep every key `<client id hex>/<path>`, where a path
 * may hold folders (`sub/dir/cat.jpg`) but never leaves its client's folder.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from "@aws-sdk/client-s3";
import { type ClientId, clientIdToHex } from "../protocol/mod.ts";
import type { FileStore, StagedFile, StoredFileReader } from "../server/storage/file_store.ts";
import { isTemporaryName, LocalFileStore } from "../server/storage/file_store_local.ts";
import { MARKER_PREFIX, S3FileStore } from "../server/storage/file_store_s3.ts";
import { type InstanceLiveness, soleInstance } from "../server/storage/instance_liveness.ts";
import type { CommitIntent } from "../server/storage/registry.ts";
import { ignoreWithoutServices, type S3Service, startCeph } from "./support/services.ts";
import { delay } from "./support/reliability.ts";

/** A store and what the test needs to look behind it. */
interface Opened {
  store: FileStore;
  /** The stored bytes at `location`, or undefined. */
  read(location: string): Promise<Uint8Array | undefined>;
  /** The bytes at the place `store.describe` names (a path, an `s3://` URL), or undefined. */
  readDescribed(description: string): Promise<Uint8Array | undefined>;
  /** Every visible stored object, as `<hex>/<name>`. */
  visible(): Promise<string[]>;
  /** How many staged uploads exist. */
  staged(): Promise<number>;
  cleanup(): Promise<void>;
}

interface Engine {
  name: string;
  open(): Promise<Opened>;
}

const encoder = new TextEncoder();

function newId(): ClientId {
  return crypto.getRandomValues(new Uint8Array(16));
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

async function stage(store: FileStore, id: ClientId, name: string, content: Uint8Array) {
  const staged = await store.begin(id, name);
  for (let offset = 0; offset < content.length; offset += 1 << 20) {
    await staged.write(content.subarray(offset, Math.min(content.length, offset + (1 << 20))));
  }
  await staged.seal();
  return staged;
}

/** Everything a reader has left, read 64 KiB at a time. */
async function readAll(reader: StoredFileReader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  for (let n = await reader.read(buffer); n !== null; n = await reader.read(buffer)) {
    parts.push(buffer.slice(0, n));
  }
  const all = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

async function store(s: FileStore, id: ClientId, name: string, content: Uint8Array) {
  const staged = await stage(s, id, name, content);
  await staged.commit();
  return staged;
}

function intentOf(staged: StagedFile, id: ClientId, name: string, size: number): CommitIntent {
  return {
    clientId: id,
    fileName: name,
    location: staged.location,
    stagingRef: staged.stagingRef,
    size,
    cksum: 0,
    sha256: null,
    instanceId: "test",
  };
}

type Case = [string, (opened: Opened) => Promise<void>];

const CASES: Case[] = [
  ["nothing is visible before commit; the file is, whole, after", async (o) => {
    const id = newId();
    const content = encoder.encode("hello, world");
    const staged = await stage(o.store, id, "a.txt", content);
    assert.equal(staged.location, `${clientIdToHex(id)}/a.txt`);
    assert.deepEqual(await o.store.list(id), []);
    assert.equal(await o.read(staged.location), undefined);
    await staged.commit();
    assert.deepEqual(await o.store.list(id), ["a.txt"]);
    assert.deepEqual(await o.read(staged.location), content);
    assert.equal(await o.staged(), 0);
  }],
  ["a discarded upload leaves nothing; discarding twice is fine", async (o) => {
    const id = newId();
    const staged = await o.store.begin(id, "a.txt");
    await staged.write(encoder.encode("partial"));
    await staged.discard();
    await staged.discard();
    assert.deepEqual(await o.store.list(id), []);
    assert.equal(await o.staged(), 0);
    assert.deepEqual(await o.visible(), []);
  }],
  ["a commit replaces an older file, which stays whole until then", async (o) => {
    const id = newId();
    const old = encoder.encode("old content");
    await store(o.store, id, "a.txt", old);
    const staged = await stage(o.store, id, "a.txt", encoder.encode("new content!"));
    assert.deepEqual(await o.read(staged.location), old);
    await staged.commit();
    assert.deepEqual(await o.read(staged.location), encoder.encode("new content!"));
  }],
  ["discarding an upload never touches the stored file of that name", async (o) => {
    const id = newId();
    const old = encoder.encode("keep me");
    await store(o.store, id, "a.txt", old);
    const staged = await stage(o.store, id, "a.txt", encoder.encode("drop me"));
    await staged.discard();
    assert.deepEqual(await o.read(staged.location), old);
  }],
  ["a file of many parts and an empty file round-trip", async (o) => {
    const id = newId();
    const big = randomBytes(12 * 1024 * 1024 + 12345);
    const staged = await store(o.store, id, "big.bin", big);
    assert.deepEqual(await o.read(staged.location), big);
    const empty = await store(o.store, id, "empty.bin", new Uint8Array(0));
    assert.deepEqual(await o.read(empty.location), new Uint8Array(0));
    assert.deepEqual(await o.store.list(id), ["big.bin", "empty.bin"]);
  }],
  ["recover finishes a sealed upload, and knows one already in place", async (o) => {
    const id = newId();
    const content = encoder.encode("sealed, then a crash");
    const sealed = await stage(o.store, id, "a.txt", content);
    assert.equal(await o.store.recover(intentOf(sealed, id, "a.txt", content.length)), "committed");
    assert.deepEqual(await o.read(sealed.location), content);
    const done = await store(o.store, id, "b.txt", content);
    assert.equal(await o.store.recover(intentOf(done, id, "b.txt", content.length)), "committed");
    assert.equal(await o.staged(), 0);
  }],
  ["start-up cleanup removes staged uploads nobody owns, keeps live ones", async (o) => {
    const id = newId();
    const kept = await stage(o.store, id, "live.txt", encoder.encode("live"));
    const dropped = await stage(o.store, id, "dead.txt", encoder.encode("dead"));
    const removed = await o.store.removeAbandoned((ref) => ref === kept.stagingRef);
    assert.equal(removed.length, 1);
    assert.equal(await o.staged(), 1);
    await kept.commit();
    await dropped.discard();
    assert.deepEqual(await o.store.list(id), ["live.txt"]);
  }],
  [
    "the running sweep removes a staged file nobody holds once old enough; a live or kept one stays",
    async (o) => {
      const id = newId();
      const live = await stage(o.store, id, "live.txt", encoder.encode("live"));
      // Cut uploads, suspended: one recorded as kept for a resume, one whose record never came.
      const cut = async (name: string) => {
        const staged = await o.store.begin(id, name);
        await staged.write(randomBytes(5 * 1024 * 1024 + 10)); // S3 keeps whole 5 MiB parts
        assert.ok((await staged.suspend()).length > 0);
        return staged;
      };
      const kept = await cut("kept.bin");
      const orphan = await cut("orphan.bin");
      const isKept = (ref: string) => ref === kept.stagingRef;
      assert.deepEqual(await o.store.sweepStaged({ olderThanMs: 60_000, isKept }), [], "all new");
      assert.equal(await o.staged(), 3);
      await delay(1100); // older than 1 s, whatever the clock's resolution
      const removed = await o.store.sweepStaged({ olderThanMs: 1000, isKept });
      assert.equal(removed.length, 1, removed.join(", "));
      assert.equal(await o.staged(), 2, "the live upload and the kept one stay");
      await o.store.discardStaged(id, "orphan.bin", orphan.stagingRef); // already gone: no error
      const resumed = await o.store.resume(id, "kept.bin", kept.stagingRef, 5 * 1024 * 1024, {
        sha256: "00".repeat(32),
        crc: 0,
      });
      await resumed.discard();
      await live.commit();
      assert.deepEqual(await o.store.sweepStaged({ olderThanMs: 0, isKept }), []);
      assert.deepEqual(await o.store.list(id), ["live.txt"]);
      assert.equal(await o.staged(), 0);
    },
  ],
  ["delete removes a stored file; a missing one is no error", async (o) => {
    const id = newId();
    const staged = await store(o.store, id, "a.txt", encoder.encode("x"));
    await o.store.delete(staged.location);
    await o.store.delete(staged.location);
    assert.deepEqual(await o.store.list(id), []);
  }],
  ["odd but valid names are stored under exactly <id hex>/<name>", async (o) => {
    const id = newId();
    const names = [
      "..%2f",
      "%2e%2e",
      "a=b;c",
      "#frag",
      " spaced",
      "ünïcödé",
      "x+y&z",
      "...a",
      ".a",
    ];
    for (const name of names) await store(o.store, id, name, encoder.encode(name));
    const hex = clientIdToHex(id);
    assert.deepEqual((await o.visible()).sort(), names.map((n) => `${hex}/${n}`).sort());
    for (const name of names) {
      assert.deepEqual(await o.read(`${hex}/${name}`), encoder.encode(name));
    }
  }],
  ["describe names the place where an operator finds the stored file", async (o) => {
    const id = newId();
    const content = encoder.encode("find me");
    const staged = await store(o.store, id, "a file.txt", content);
    const description = o.store.describe(staged.location);
    assert.ok(description.endsWith(`${clientIdToHex(id)}/a file.txt`), description);
    assert.deepEqual(await o.readDescribed(description), content);
  }],
  ["names that could make another key are refused, and nothing is created", async (o) => {
    const id = newId();
    const refused = [
      "",
      ".",
      "..",
      "../x",
      "a\\b",
      "/abs",
      "a/../b",
      "a/./b",
      "a//b",
      "a/",
      "sub/..",
      `../${clientIdToHex(newId())}/x`,
      "sub/con.txt",
      "sub/~upload-0123456789abcdef.partial",
      "cafe\u0301/x", // not NFC: the server stores names composed
      "a/b\u0000c",
      Array.from({ length: 33 }, () => "d").join("/"),
      `${"x".repeat(200)}/${"y".repeat(200)}/${"z".repeat(200)}/${"w".repeat(200)}/${
        "v".repeat(200)
      }/${"u".repeat(200)}`,
    ];
    for (const name of refused) {
      await assert.rejects(() => o.store.begin(id, name), RangeError, JSON.stringify(name));
    }
    assert.deepEqual(await o.visible(), []);
    assert.equal(await o.staged(), 0);
  }],
  ["folder paths are stored under <id hex>/<path>, listed, read and deleted", async (o) => {
    const id = newId();
    const hex = clientIdToHex(id);
    const paths = ["sub/dir/cat.jpg", "sub/dir/dog.jpg", "sub/top.txt", "ünï/çödé.txt", "cat.jpg"];
    for (const path of paths) await store(o.store, id, path, encoder.encode(path));
    assert.deepEqual((await o.visible()).sort(), paths.map((p) => `${hex}/${p}`).sort());
    assert.deepEqual(await o.store.list(id), [...paths].sort());
    for (const path of paths) {
      assert.deepEqual(await o.read(`${hex}/${path}`), encoder.encode(path));
    }
    // A deeper upload replaces only its own path.
    await store(o.store, id, "sub/dir/cat.jpg", encoder.encode("new cat"));
    assert.deepEqual(await o.read(`${hex}/sub/dir/cat.jpg`), encoder.encode("new cat"));
    assert.deepEqual(await o.read(`${hex}/cat.jpg`), encoder.encode("cat.jpg"));
    await o.store.delete(`${hex}/sub/dir/cat.jpg`);
    await o.store.delete(`${hex}/sub/dir/dog.jpg`);
    assert.deepEqual(await o.store.list(id), ["cat.jpg", "sub/top.txt", "ünï/çödé.txt"]);
    assert.equal(await o.staged(), 0);
  }],
  ["recover puts a sealed upload with folders in place", async (o) => {
    const id = newId();
    const content = encoder.encode("deep, then a crash");
    const sealed = await stage(o.store, id, "a/b/c.txt", content);
    assert.equal(
      await o.store.recover(intentOf(sealed, id, "a/b/c.txt", content.length)),
      "committed",
    );
    assert.deepEqual(await o.read(`${clientIdToHex(id)}/a/b/c.txt`), content);
    assert.equal(await o.staged(), 0);
  }],
  ["a stored file reads back whole and from any offset, in the caller's buffer", async (o) => {
    const id = newId();
    const hex = clientIdToHex(id);
    const big = randomBytes(7 * 1024 * 1024 + 321);
    await store(o.store, id, "sub/big.bin", big);
    await store(o.store, id, "empty.bin", new Uint8Array(0));
    for (const offset of [0, 1, 5 * 1024 * 1024 + 17, big.length - 1, big.length, big.length + 9]) {
      const reader = await o.store.openRead(`${hex}/sub/big.bin`, offset);
      assert.ok(reader !== undefined);
      try {
        assert.equal(reader.size, big.length);
        assert.deepEqual(await readAll(reader), big.subarray(Math.min(offset, big.length)));
      } finally {
        await reader.close();
      }
    }
    const empty = await o.store.openRead(`${hex}/empty.bin`, 0);
    assert.ok(empty !== undefined);
    assert.equal(empty.size, 0);
    assert.deepEqual(await readAll(empty), new Uint8Array(0));
    await empty.close();
    assert.equal(await o.store.openRead(`${hex}/missing.bin`, 0), undefined);
    // Closed early: what is left is not read.
    const early = await o.store.openRead(`${hex}/sub/big.bin`, 0);
    assert.ok(early !== undefined);
    assert.notEqual(await early.read(new Uint8Array(10)), null);
    await early.close();
    await early.close();
  }],
  ["reading refuses a location that leaves the client's folder", async (o) => {
    const id = newId();
    const hex = clientIdToHex(id);
    await store(o.store, id, "a.txt", encoder.encode("kept"));
    for (const location of [`${hex}/../${hex}/a.txt`, `${hex}/sub/../a.txt`, "a.txt", `${hex}/`]) {
      await assert.rejects(() => o.store.openRead(location, 0), RangeError, location);
    }
  }],
  ["delete refuses a location that leaves the client's folder", async (o) => {
    const id = newId();
    const hex = clientIdToHex(id);
    await store(o.store, id, "a.txt", encoder.encode("kept"));
    for (const location of [`${hex}/../${hex}/a.txt`, `${hex}/sub/../a.txt`, `${hex}//a.txt`]) {
      await assert.rejects(() => o.store.delete(location), RangeError, location);
    }
    assert.deepEqual(await o.read(`${hex}/a.txt`), encoder.encode("kept"));
  }],
];

async function runCases(t: Deno.TestContext, engine: Engine): Promise<void> {
  for (const [name, fn] of CASES) {
    await t.step(`${engine.name}: ${name}`, async () => {
      const opened = await engine.open();
      try {
        await fn(opened);
      } finally {
        await opened.store.close();
        await opened.cleanup();
      }
    });
  }
}

/** Every file below `root`, as paths relative to it (folders are not listed). */
async function walk(root: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(join(root, prefix))) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) found.push(...await walk(root, path));
    else found.push(path);
  }
  return found;
}

/** Every folder below `root` (the client folders and theirs), as paths relative to it. */
async function folders(root: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(join(root, prefix))) {
    if (!entry.isDirectory) continue;
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    found.push(path, ...await folders(root, path));
  }
  return found;
}

Deno.test("file store contract: local folder", async (t) => {
  await runCases(t, {
    name: "local",
    async open() {
      const root = await Deno.makeTempDir({ prefix: "store_contract_" });
      const store = await LocalFileStore.open(root);
      return {
        store,
        read: (location) => Deno.readFile(join(root, location)).catch(() => undefined),
        readDescribed: (path) => Deno.readFile(path).catch(() => undefined),
        visible: async () =>
          (await walk(root)).filter((p) => !isTemporaryName(p.slice(p.lastIndexOf("/") + 1))),
        staged: async () =>
          (await walk(root)).filter((p) => isTemporaryName(p.slice(p.lastIndexOf("/") + 1)))
            .length,
        cleanup: () => Deno.remove(root, { recursive: true }),
      };
    },
  });

  await t.step({
    name: "local: a path's folders are 0700 and its file 0600; emptied folders go",
    ignore: Deno.build.os === "windows",
    async fn() {
      const root = await Deno.makeTempDir({ prefix: "store_contract_" });
      try {
        const local = await LocalFileStore.open(root);
        const id = newId();
        const hex = clientIdToHex(id);
        await store(local, id, "sub/dir/cat.jpg", encoder.encode("cat"));
        for (const folder of [hex, `${hex}/sub`, `${hex}/sub/dir`]) {
          assert.equal((await Deno.stat(join(root, folder))).mode! & 0o777, 0o700, folder);
        }
        const file = join(root, hex, "sub/dir/cat.jpg");
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
        await local.delete(`${hex}/sub/dir/cat.jpg`);
        assert.deepEqual(await folders(root), [hex]);
        await local.close();
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  });
});

let buckets = 0;

/** A fresh bucket on `s3` and the ways to look into it. */
async function openS3(s3: S3Service, liveness: InstanceLiveness = soleInstance()) {
  const bucket = `contract-${buckets++}`;
  await s3.createBucket(bucket);
  return { bucket, ...await openS3Bucket(s3, bucket, liveness) };
}

async function openS3Bucket(s3: S3Service, bucket: string, liveness: InstanceLiveness) {
  const client = s3.client();
  const store = await S3FileStore.open({
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    bucket,
    liveness,
  });
  const keys = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [])
      .map((object) => object.Key!);
  const read = async (location: string) => {
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: location }));
      return await got.Body!.transformToByteArray();
    } catch {
      return undefined;
    }
  };
  const opened: Opened = {
    store,
    read,
    readDescribed(url) {
      const prefix = `s3://${bucket}/`;
      return url.startsWith(prefix) ? read(url.slice(prefix.length)) : Promise.resolve(undefined);
    },
    visible: async () => (await keys()).filter((key) => !key.startsWith(MARKER_PREFIX)),
    staged: async () =>
      ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [])
        .length,
    cleanup: () => Promise.resolve(client.destroy()),
  };
  return opened;
}

Deno.test({
  name: "file store contract: S3, and instances sharing a bucket",
  ignore: ignoreWithoutServices("file store contract: S3", ["s3"]),
  async fn(t) {
    const s3 = await startCeph();
    try {
      await runCases(t, { name: "S3", open: () => openS3(s3) });

      await t.step(
        "S3: recover of a discarded upload says so and keeps the older file",
        async () => {
          // The local store cannot tell (the commit protocol never asks it to);
          // S3 can, from the token in the object's metadata.
          const o = await openS3(s3);
          try {
            const id = newId();
            const old = encoder.encode("older");
            await store(o.store, id, "a.txt", old);
            const staged = await stage(o.store, id, "a.txt", encoder.encode("newer"));
            await staged.discard();
            assert.equal(await o.store.recover(intentOf(staged, id, "a.txt", 5)), "discarded");
            assert.deepEqual(await o.read(staged.location), old);
          } finally {
            await o.store.close();
            await o.cleanup();
          }
        },
      );

      await t.step("S3: control characters in a name are refused", async () => {
        const o = await openS3(s3);
        try {
          for (const name of ["a\u0000b", "new\nline", "bell\u0007", "c1\u0085"]) {
            await assert.rejects(() => o.store.begin(newId(), name), RangeError);
          }
          assert.equal(await o.staged(), 0);
        } finally {
          await o.store.close();
          await o.cleanup();
        }
      });

      await t.step(
        "S3: the running sweep aborts a dead instance's upload, leaves a live one's and a kept one alone",
        async () => {
          const alive = new Set<string>(["a", "b", "c"]);
          const liveness = (holder: string): InstanceLiveness => ({
            holder,
            isAlive: (other) => Promise.resolve(alive.has(other)),
          });
          const a = await openS3(s3, liveness("a"));
          const b = await openS3Bucket(s3, a.bucket, liveness("b"));
          const c = await openS3Bucket(s3, a.bucket, liveness("c"));
          try {
            const id = newId();
            await stage(b.store, id, "b.txt", encoder.encode("from b"));
            await stage(c.store, id, "c.txt", encoder.encode("from c"));
            const keptOfC = await c.store.begin(id, "kept.bin");
            await keptOfC.write(randomBytes(5 * 1024 * 1024 + 1));
            await keptOfC.suspend();
            const isKept = (ref: string) => ref === keptOfC.stagingRef;
            await delay(1100);
            assert.deepEqual(await a.store.sweepStaged({ olderThanMs: 1000, isKept }), []);
            alive.delete("c"); // c crashes; b goes on
            const removed = await a.store.sweepStaged({ olderThanMs: 1000, isKept });
            assert.equal(removed.length, 1, removed.join(", "));
            assert.match(removed[0]!, /c\.txt/);
            assert.equal(await a.staged(), 2, "b's live upload and c's kept one stay");
          } finally {
            for (const o of [a, b, c]) {
              await o.store.close();
              await o.cleanup();
            }
          }
        },
      );

      await t.step("S3: start-up cleanup leaves live instances' uploads alone", async () => {
        const alive = new Set<string>();
        const liveness = (holder: string): InstanceLiveness => ({
          holder,
          isAlive: (other) => Promise.resolve(alive.has(other)),
        });
        alive.add("a").add("b").add("c");
        const a = await openS3(s3, liveness("a"));
        const b = await openS3Bucket(s3, a.bucket, liveness("b"));
        const c = await openS3Bucket(s3, a.bucket, liveness("c"));
        try {
          const id = newId();
          const ofB = await stage(b.store, id, "b.txt", encoder.encode("from b"));
          const ofC = await stage(c.store, id, "c.txt", encoder.encode("from c"));
          // a starts up while b and c are alive: nothing of theirs goes.
          assert.deepEqual(await a.store.removeAbandoned(() => false), []);
          assert.equal(await a.staged(), 2);
          alive.delete("c"); // c is killed
          const removed = await a.store.removeAbandoned(() => false);
          assert.equal(removed.length, 1);
          assert.match(removed[0]!, /c\.txt/);
          assert.equal(await a.staged(), 1);
          await ofB.commit();
          assert.deepEqual(await a.store.list(id), ["b.txt"]);
          await ofC.discard(); // what is left of c's upload is already gone
          assert.deepEqual(
            (await a.visible()).filter((key) => !key.startsWith(MARKER_PREFIX)),
            [`${clientIdToHex(id)}/b.txt`],
          );
        } finally {
          for (const o of [a, b, c]) {
            await o.store.close();
            await o.cleanup();
          }
        }
      });
    } finally {
      await s3.stop();
    }
  },
});
