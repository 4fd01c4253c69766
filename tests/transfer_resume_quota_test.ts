/**
 * Issue 17, staged bytes count, for a cut upload kept for a resume: its bytes
 * count once at every moment (stored + staged + partial, each once). Before,
 * the cut upload's reservation stayed until its connection ended, beside the
 * kept bytes: a client just under its quota that resumed while the cut
 * connection had not yet let go was refused (1607), and what was kept was
 * dropped. Here the cut connection's release is held back on purpose (the
 * moment between the cut and the connection's end, made long), and the
 * client resumes in it: the resume fits, sends only the rest, and the stored
 * file is whole.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type RunningServer, type ServerOptions, startServer } from "../server/server.ts";
import type { Registry, Reservation } from "../server/storage/registry.ts";
import { openLocalStorage, type Storage } from "../server/storage/storage.ts";
import { openStorage } from "../server/storage/storage_selection.ts";
import { countingRelay } from "../harness/counting_relay.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { waitUntil } from "./support/reliability.ts";
import {
  ignoreWithoutServices,
  type PostgresService,
  type S3Service,
  startCeph,
  startPostgres,
} from "./support/services.ts";

/** The file cut and resumed; on S3 what is kept is whole 5 MiB parts, so it spans several. */
const SIZE = 12 * 1024 * 1024 + 4321;
const NAME = "cut.bin";

/**
 * `storage` whose registry holds back the release of the first reservation
 * of {@linkcode NAME} until `letGo` is called: the cut connection's release.
 */
function holdingFirstRelease(storage: Storage): { storage: Storage; letGo: () => void } {
  const { promise: gate, resolve: letGo } = Promise.withResolvers<void>();
  let held: string | undefined;
  const registry = storage.registry;
  const wrapped: Registry = Object.create(registry);
  wrapped.reserve = (reservation: Reservation, limits) => {
    if (reservation.fileName === NAME) held ??= reservation.token;
    return registry.reserve(reservation, limits);
  };
  wrapped.release = async (token: string) => {
    if (token === held) await gate;
    await registry.release(token);
  };
  for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(registry))) {
    const value = (registry as unknown as Record<string, unknown>)[method];
    if (method === "constructor" || typeof value !== "function") continue;
    if (method === "reserve" || method === "release") continue;
    (wrapped as unknown as Record<string, unknown>)[method] = value.bind(registry);
  }
  return { storage: { ...storage, registry: wrapped }, letGo };
}

/**
 * A client just under its quota (the file plus 64 KB) cuts an upload at half,
 * then resumes it while the cut connection has not released its reservation.
 */
async function resumeJustUnderQuota(open: (dir: string) => Promise<Storage>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "transfer_resume_quota_" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  const { storage, letGo } = holdingFirstRelease(await open(serverDir));
  const options: ServerOptions = {
    host: "127.0.0.1",
    port: 0,
    dir: serverDir,
    storage,
    maxStoredBytes: SIZE + 64 * 1024,
  };
  let server: RunningServer | undefined;
  try {
    server = await startServer(options);
    const relay = countingRelay(server.securePort!);
    try {
      // First contact pins the server (a 10-byte file); the pin then points at the relay.
      await writeTransferInfo(clientDir, server.port, "Tight", "seed.bin", patternBytes(10));
      const first = await runClient(["--dir", clientDir]);
      assert.equal(first.code, 0, first.stderr);
      const pins = join(clientDir, "known_servers");
      const text = await Deno.readTextFile(pins);
      await Deno.writeTextFile(pins, text.replace(` ${server.securePort} `, ` ${relay.port} `));

      const contents = patternBytes(SIZE, 7);
      await Deno.writeFile(join(clientDir, NAME), contents);
      await Deno.writeTextFile(
        join(clientDir, "transfer.info"),
        `127.0.0.1:${server.port}\nTight\n${NAME}\n`,
      );
      relay.budget = Math.round(SIZE * 0.7);
      const cut = await runClient(["--dir", clientDir, "--retries", "0"]);
      assert.equal(cut.code, 3, cut.stderr);
      await waitUntil(
        "the server to keep what arrived of the cut upload",
        async () => (await storage.registry.listPartials()).some((p) => p.fileName === NAME),
      );
      const [row] = (await storage.registry.listClients()).filter((c) => c.name === "Tight");
      assert.deepEqual(
        row?.stagedBytes,
        0,
        "the kept bytes count as kept only, not also as the cut upload's reservation",
      );

      relay.budget = undefined;
      relay.reset();
      const rerun = await runClient(["--dir", clientDir, "--retries", "0"]);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.match(rerun.stdout, /resumed after the [\d.]+ MB it had kept/);
      assert.ok(relay.sent < SIZE * 0.8, `the rerun sent ${relay.sent} bytes of ${SIZE}`);
      const [client] = (await storage.registry.listClients()).filter((c) => c.name === "Tight");
      assert.deepEqual([client?.bytes, client?.partialBytes], [10 + SIZE, 0]);
    } finally {
      letGo();
      await relay.close();
    }
  } finally {
    letGo();
    if (server !== undefined) await server.close();
    else await storage.close();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a client just under its quota resumes a cut upload while the cut connection still holds on (SQLite and a folder)", async () => {
  await resumeJustUnderQuota((dir) => openLocalStorage(dir));
});

Deno.test({
  name:
    "a client just under its quota resumes a cut upload while the cut connection still holds on (PostgreSQL and S3)",
  ignore: ignoreWithoutServices("resume under the quota on PostgreSQL and S3", ["postgres", "s3"]),
  async fn() {
    let pg: PostgresService | undefined;
    let s3: S3Service | undefined;
    try {
      [pg, s3] = await Promise.all([startPostgres(), startCeph({ bucket: "quota" })]);
      const registryUrl = await pg.createDatabase("resume_quota");
      const { endpoint, region, accessKeyId, secretAccessKey } = s3;
      await resumeJustUnderQuota((dir) =>
        openStorage(dir, {
          registryUrl,
          s3: { endpoint, region, accessKeyId, secretAccessKey, bucket: "quota" },
        })
      );
    } finally {
      await s3?.stop();
      await pg?.stop();
    }
  },
});
