/**
 * The local folder file store: staging, commit, discard, recovery after a
 * crash, removal of abandoned staged files (at start-up and by the running
 * sweep, which spares a live upload and a cut one about to be recorded), and
 * locations that cannot leave a client's folder.
 */

import assert from "node:assert/strict";
import { clientIdToHex } from "../protocol/mod.ts";
import { LocalFileStore } from "../server/storage/file_store_local.ts";
import type { CommitIntent } from "../server/storage/registry.ts";
import { listNames } from "./support/reliability.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("local file store", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "file_store_" });
  const id = crypto.getRandomValues(new Uint8Array(16));
  const folder = `${root}/${clientIdToHex(id)}`;
  const store = await LocalFileStore.open(root);
  const intentOf = (staged: { location: string; stagingRef: string }): CommitIntent => ({
    clientId: id,
    fileName: "a.txt",
    location: staged.location,
    stagingRef: staged.stagingRef,
    size: 3,
    cksum: 0,
    sha256: null,
    instanceId: "test",
  });
  try {
    await t.step("nothing is visible under the final name before commit", async () => {
      const staged = await store.begin(id, "a.txt");
      await staged.write(text("one"));
      await staged.seal();
      assert.deepEqual(await store.list(id), []);
      await staged.commit();
      assert.deepEqual(await store.list(id), ["a.txt"]);
      assert.equal(staged.location, `${clientIdToHex(id)}/a.txt`);
    });
    await t.step("discard is idempotent and never touches the stored file", async () => {
      const staged = await store.begin(id, "a.txt");
      await staged.write(text("two"));
      await staged.discard();
      await staged.discard();
      assert.deepEqual(await listNames(folder), ["a.txt"]);
      assert.equal(await Deno.readTextFile(`${folder}/a.txt`), "one");
    });
    await t.step("recover: a staged file still there is moved in place", async () => {
      const staged = await store.begin(id, "a.txt");
      await staged.write(text("new"));
      await staged.seal();
      assert.equal(await store.recover(intentOf(staged)), "committed");
      assert.equal(await Deno.readTextFile(`${folder}/a.txt`), "new");
      assert.equal(await store.recover(intentOf(staged)), "committed"); // renamed already
    });
    await t.step("recover: a final name taken by a folder discards the staged file", async () => {
      await Deno.mkdir(`${folder}/blocked.txt/inside`, { recursive: true });
      const staged = await store.begin(id, "blocked.txt");
      await staged.seal();
      assert.equal(
        await store.recover({ ...intentOf(staged), fileName: "blocked.txt" }),
        "discarded",
      );
      assert.deepEqual(await listNames(folder), ["a.txt", "blocked.txt"]);
    });
    await t.step("removeAbandoned removes staged files that are not live, only them", async () => {
      const live = await store.begin(id, "live.txt");
      const dead = await store.begin(id, "dead.txt");
      const removed = await store.removeAbandoned((ref) => ref === live.stagingRef);
      assert.deepEqual(removed, [`${root}/${dead.stagingRef}`]);
      await live.discard();
    });
    await t.step("locations cannot leave a client's folder", async () => {
      for (const location of ["../x", `${clientIdToHex(id)}/../../x`, "a/b", "/etc/passwd"]) {
        await assert.rejects(store.delete(location), RangeError, location);
      }
      await store.delete(`${clientIdToHex(id)}/missing.txt`); // missing: not an error
    });
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local file store: the running sweep takes a staged file only once nobody holds it (a live upload, a resume taking it) and the sweep's age passed, even if unwritten for an hour", async () => {
  const root = await Deno.makeTempDir({ prefix: "file_store_sweep_" });
  const id = crypto.getRandomValues(new Uint8Array(16));
  const store = await LocalFileStore.open(root);
  const hourAgo = new Date(Date.now() - 3_600_000);
  const rule = { olderThanMs: 1000, isKept: () => false };
  try {
    // A live upload that wrote nothing for an hour (a stalled client): held, never taken.
    const live = await store.begin(id, "live.txt");
    await live.write(text("live"));
    await Deno.utime(`${root}/${live.stagingRef}`, hourAgo, hourAgo);
    // A cut upload, just suspended and not yet recorded as kept: left for the sweep's age.
    const cut = await store.begin(id, "cut.txt");
    await cut.write(text("cut"));
    await Deno.utime(`${root}/${cut.stagingRef}`, hourAgo, hourAgo);
    await cut.suspend();
    // A kept one whose record a resume is taking: held from before the take.
    const taken = await store.begin(id, "taken.txt");
    await taken.write(text("taken"));
    await taken.suspend();
    await Deno.utime(`${root}/${taken.stagingRef}`, hourAgo, hourAgo);
    const release = store.holdStaged(taken.stagingRef);
    assert.deepEqual(await store.sweepStaged(rule), []);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // The cut one's record never came: it is an orphan now. The live and the held ones stay.
    assert.deepEqual(await store.sweepStaged(rule), [`${root}/${cut.stagingRef}`]);
    assert.deepEqual(await store.sweepStaged(rule), []);
    const resumed = await store.resume(id, "taken.txt", taken.stagingRef, 5);
    release(); // the resumed staged file holds it now
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(await store.sweepStaged(rule), []);
    await resumed.discard();
    await live.seal();
    await live.commit();
    assert.deepEqual(await store.list(id), ["live.txt"]);
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
});
