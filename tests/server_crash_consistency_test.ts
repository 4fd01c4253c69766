/**
 * Issue 11 §3: the registry and the disk agree after a crash at any point of
 * a commit. A server process (this file, run as a script) kills itself with
 * SIGKILL at one step of the commit of a confirmed upload that replaces an
 * older version; a restart settles what the crash left, and then the file
 * row always matches the file on disk, no staged file or intent is left,
 * and the version stored is the one the step implies.
 *
 * Fault injection stays in this test: it wraps the registry and the staged
 * files of the default storage (the seams), never the server's own code.
 */

import assert from "node:assert/strict";
import { cksum, clientIdToHex, RequestCode } from "../protocol/mod.ts";
import type { FileStore, StagedFile } from "../server/storage/file_store.ts";
import type { Registry } from "../server/storage/registry.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { startServer } from "../server/server.ts";
import { openLocalStorage, storageOf } from "../server/storage/storage.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { listNames } from "./support/reliability.ts";

/** Where the server kills itself, during the second commit. */
type Step = "before-begin" | "after-begin" | "after-commit" | "after-finish";

const STEPS: Array<[Step, "old" | "new"]> = [
  ["before-begin", "old"],
  ["after-begin", "new"], // the client confirmed it: recovery completes the commit
  ["after-commit", "new"],
  ["after-finish", "new"],
];

/** `target` with some methods replaced (a proxy: private fields stay reachable). */
function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (property in overrides) return overrides[property as keyof T];
      const value = Reflect.get(object, property, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

/** The server process: kills itself at `step` of its second commit. */
async function runCrashingServer(dir: string, step: Step): Promise<void> {
  const storage = await openLocalStorage(dir);
  let commits = 0;
  const crashIf = (at: Step) => {
    if (at === step && commits === 2) Deno.kill(Deno.pid, "SIGKILL");
  };
  const registry = withOverrides<Registry>(storage.registry, {
    async beginCommit(intent, limits) {
      commits++;
      crashIf("before-begin");
      const start = await storage.registry.beginCommit(intent, limits);
      crashIf("after-begin");
      return start;
    },
    async finishCommit(id) {
      await storage.registry.finishCommit(id);
      crashIf("after-finish");
    },
  });
  const store = withOverrides<FileStore>(storage.store, {
    async begin(clientId, fileName) {
      const staged = await storage.store.begin(clientId, fileName);
      return withOverrides<StagedFile>(staged, {
        async commit() {
          await staged.commit();
          crashIf("after-commit");
        },
      });
    },
  });
  const server = await startServer({
    dir,
    host: "127.0.0.1",
    port: 0,
    storage: storageOf(registry, store),
  });
  console.log(`PORT ${server.port}`);
  await server.finished;
}

if (import.meta.main) {
  await runCrashingServer(Deno.args[0]!, Deno.args[1] as Step);
}

/** Spawns the crashing server and returns its process and port. */
async function spawnCrashing(dir: string, step: Step) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read`,
      `--allow-write=${dir}`,
      new URL(import.meta.url).pathname,
      dir,
      step,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    const port = /^PORT (\d+)$/m.exec(text)?.[1];
    if (port !== undefined) return { child, port: Number(port) };
  }
  throw new Error("Cannot start the crashing server: it printed no port");
}

Deno.test("crash consistency: killed at each step of a commit, a restart leaves the row matching the file", async (t) => {
  for (const [step, expected] of STEPS) {
    await t.step(step, async () => {
      const dir = await Deno.makeTempDir({ prefix: `crash_${step}_` });
      try {
        const { child, port } = await spawnCrashing(dir, step);
        const oldVersion = new TextEncoder().encode("the old, confirmed version");
        const newVersion = new TextEncoder().encode("the new version, longer than the old one");
        let clientId: Uint8Array;
        {
          using client = await RawClient.connect(port);
          const me = await signUp(client, "Crash Victim");
          clientId = me.clientId;
          for (const data of [oldVersion, newVersion]) {
            await client.upload(me.clientId, me.aesKey, "f.txt", data);
            await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "f.txt" });
            await client.readResponseOrEnd(); // 1604, or the end when the server died
          }
        }
        const status = await child.status;
        assert.equal(status.signal, "SIGKILL", "the server did not crash at the step");

        const restarted = await startServer({ dir, host: "127.0.0.1", port: 0 });
        await restarted.close();
        const folder = `${dir}/received_files/${clientIdToHex(clientId)}`;
        assert.deepEqual(await listNames(folder), ["f.txt"], "a staged file was left");
        const onDisk = await Deno.readFile(`${folder}/f.txt`);
        assert.deepEqual(onDisk, expected === "old" ? oldVersion : newVersion);
        const registry = await SqliteRegistry.open(`${dir}/server.db`);
        try {
          const row = await registry.file(clientId, "f.txt");
          assert.equal(row?.size, onDisk.length);
          assert.equal(row?.cksum, cksum(onDisk));
          assert.equal(row?.verified, true);
          assert.deepEqual(await registry.pendingCommits(), []);
        } finally {
          await registry.close();
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});
