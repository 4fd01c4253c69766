/**
 * Issue 17, staged files older than the verdict deadline are removed, while
 * the server runs (not only at its next start): a staged file no live upload
 * holds (an orphan: a discard that failed, an instance that crashed beside
 * this one on shared storage) goes within a few sweeps, with the reservation
 * that counted it; a live upload's staged file, a cut upload kept for a
 * resume, and another live instance's upload stay, however old.
 *
 * On SQLite and a folder the orphan is planted; on PostgreSQL and S3 another
 * instance stages, reserves and crashes (its registry session ends) while a
 * third one goes on uploading.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { clientIdToHex, encodeFileNameField, RequestCode } from "../protocol/mod.ts";
import { buildPackets, encryptContent, RawClient, signUp } from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { type RunningServer, startServer } from "../server/server.ts";
import type { Registry } from "../server/storage/registry.ts";
import { openLocalStorage } from "../server/storage/storage.ts";
import { openStorage } from "../server/storage/storage_selection.ts";
import { PostgresRegistry } from "../server/storage/registry_postgres.ts";
import { S3FileStore } from "../server/storage/file_store_s3.ts";
import { captureServerLogs } from "./support/log_capture.ts";
import { waitUntil } from "./support/reliability.ts";
import {
  ignoreWithoutServices,
  type PostgresService,
  type S3Service,
  startCeph,
  startPostgres,
} from "./support/services.ts";

/** The verdict deadline of these servers: staged files nobody holds go once 2 s old. */
const VERDICT_MS = 1000;
const AN_HOUR_AGO = new Date(Date.now() - 3_600_000);

async function stagedBytesOf(registry: Registry, name: string): Promise<number | undefined> {
  return (await registry.listClients()).find((client) => client.name === name)?.stagedBytes;
}

Deno.test("staged sweep: while the server runs, an orphaned staged file and a crashed instance's reservation go, each sweep that removed something logging one line; a held upload and a kept one stay (SQLite and a folder)", async () => {
  await using logs = await captureServerLogs("info");
  const dir = await Deno.makeTempDir({ prefix: "staged_sweep_" });
  const storage = await openLocalStorage(dir);
  let server: RunningServer | undefined;
  try {
    server = await startServer({
      dir,
      host: "127.0.0.1",
      port: 0,
      storage,
      verdictTimeoutMs: VERDICT_MS,
    });
    using client = await RawClient.connect(server.port);
    const me = await signUp(client, "Sweeper");
    const folder = join(dir, "received_files", clientIdToHex(me.clientId));

    // A live upload, held after its first packet: its staged file, made an hour old, stays.
    const data = new Uint8Array(300_000).fill(0x61);
    const packets = buildPackets(
      await encryptContent(me.aesKey, data),
      data.length,
      encodeFileNameField("held.bin"),
    );
    await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
    await client.send(concat(packets.slice(0, 1)));
    let held: string | undefined;
    await waitUntil("the held upload to be staged", async () => {
      try {
        for await (const entry of Deno.readDir(folder)) {
          if (entry.name.endsWith(".partial")) held = entry.name;
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error; // not made yet
      }
      return held !== undefined;
    });
    await Deno.utime(join(folder, held!), AN_HOUR_AGO, AN_HOUR_AGO);

    // What a cut upload kept for a resume, an hour old: it stays.
    const keptName = "~upload-00000000000000aa.partial";
    await Deno.writeFile(join(folder, keptName), new Uint8Array(10));
    await Deno.utime(join(folder, keptName), AN_HOUR_AGO, AN_HOUR_AGO);
    await storage.registry.keepPartial({
      clientId: me.clientId,
      fileName: "kept.bin",
      stagingRef: `${clientIdToHex(me.clientId)}/${keptName}`,
      size: 100,
      received: 10,
      prefixSha256: null,
      prefixCrc: null,
      instanceId: "earlier",
      keptAt: Date.now(),
    });

    // An orphan (its discard failed), an hour old, and a reservation of an instance long gone.
    const orphanName = "~upload-00000000000000bb.partial";
    await Deno.writeFile(join(folder, orphanName), new Uint8Array(20));
    await Deno.utime(join(folder, orphanName), AN_HOUR_AGO, AN_HOUR_AGO);
    const stale = { token: "stale", clientId: me.clientId, fileName: "x.bin", size: 5_000 };
    const limits = { maxFiles: 100, maxBytes: 1e9 };
    assert.equal(
      await storage.registry.reserve({ ...stale, instanceId: "gone" }, limits),
      undefined,
    );
    assert.equal(await stagedBytesOf(storage.registry, "Sweeper"), data.length + 5_000);

    await waitUntil("the sweep to remove the orphan", async () => {
      try {
        await Deno.stat(join(folder, orphanName));
        return false;
      } catch {
        return true;
      }
    }, 20_000);
    await waitUntil(
      "the sweep to drop the gone instance's reservation",
      async () => await stagedBytesOf(storage.registry, "Sweeper") === data.length,
      20_000,
    );
    const left = [];
    for await (const entry of Deno.readDir(folder)) left.push(entry.name);
    assert.deepEqual(left.sort(), [held!, keptName].sort());
    assert.equal((await storage.registry.listPartials()).length, 1);
    // The operator's view: one line per sweep that removed something, nothing for the others.
    const swept = logs.records.filter((record) =>
      String(record.rawMessage).startsWith("Removed {count} staged files no upload holds")
    );
    assert.ok(swept.length >= 1 && swept.length <= 2, `${swept.length} lines`);
    const total = (key: string) => swept.reduce((sum, r) => sum + Number(r.properties[key]), 0);
    assert.deepEqual([total("count"), total("reservations")], [1, 1]);
    assert.ok(swept.some((record) => String(record.properties.which).includes(orphanName)));
  } finally {
    if (server !== undefined) await server.close();
    else await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "staged sweep: a crashed instance's staged upload and reservation go while the others run; a live instance's and a kept one stay (PostgreSQL and S3)",
  ignore: ignoreWithoutServices("the staged sweep on PostgreSQL and S3", ["postgres", "s3"]),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "staged_sweep_s3_" });
    const bucket = "sweep";
    let pg: PostgresService | undefined;
    let s3: S3Service | undefined;
    let server: RunningServer | undefined;
    const open: Array<{ close(): Promise<void> }> = [];
    try {
      [pg, s3] = await Promise.all([startPostgres(), startCeph({ bucket })]);
      const url = await pg.createDatabase("staged_sweep");
      const settings = {
        endpoint: s3.endpoint,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        bucket,
      };
      const instance = async () => {
        const registry = await PostgresRegistry.open(url);
        const store = await S3FileStore.open({ ...settings, liveness: registry });
        return { registry, store };
      };
      const storage = await openStorage(dir, { registryUrl: url, s3: settings });
      server = await startServer({
        dir,
        host: "127.0.0.1",
        port: 0,
        storage,
        verdictTimeoutMs: VERDICT_MS,
      });

      const id = crypto.getRandomValues(new Uint8Array(16));
      assert.equal(
        await storage.registry.addClient({ id, name: "Shared", publicKey: new Uint8Array(160) }),
        true,
      );
      const limits = { maxFiles: 100, maxBytes: 1e9 };
      const reserve = (registry: Registry, token: string, instanceId: string) =>
        registry.reserve(
          { token, clientId: id, fileName: `${token}.bin`, size: 1000, instanceId },
          limits,
        );

      // Another instance that goes on: an upload in progress and its reservation stay.
      const live = await instance();
      open.push(live.store, live.registry);
      const liveUpload = await live.store.begin(id, "live.bin");
      await liveUpload.write(new Uint8Array(1000));
      assert.equal(await reserve(live.registry, "live", "live-instance"), undefined);

      // An instance that crashes: its upload in progress and reservation go; what it kept of a
      // cut upload, recorded as a partial upload, stays for a resume.
      const crashed = await instance();
      const orphan = await crashed.store.begin(id, "orphan.bin");
      await orphan.write(new Uint8Array(1000));
      assert.equal(await reserve(crashed.registry, "crashed", "crashed-instance"), undefined);
      const cut = await crashed.store.begin(id, "kept.bin");
      await cut.write(new Uint8Array(5 * 1024 * 1024 + 1));
      const kept = await cut.suspend();
      await crashed.registry.keepPartial({
        clientId: id,
        fileName: "kept.bin",
        stagingRef: cut.stagingRef,
        size: 6 * 1024 * 1024,
        received: kept.length,
        prefixSha256: kept.digests?.sha256 ?? null,
        prefixCrc: kept.digests?.crc ?? null,
        instanceId: "crashed-instance",
        keptAt: Date.now(),
      });
      await crashed.store.close();
      await crashed.registry.close(); // its session ends: as after a kill

      const s3Client = s3.client();
      const uploads = async () =>
        ((await s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [])
          .map((upload) => upload.Key!.slice(33)).sort();
      try {
        assert.deepEqual(await uploads(), ["kept.bin", "live.bin", "orphan.bin"]);
        await waitUntil(
          "the sweep to abort the crashed instance's upload",
          async () => !(await uploads()).includes("orphan.bin"),
          30_000,
          200,
        );
        await waitUntil(
          "the sweep to drop the crashed instance's reservation",
          async () => await stagedBytesOf(storage.registry, "Shared") === 1000,
          30_000,
          200,
        );
        assert.deepEqual(await uploads(), ["kept.bin", "live.bin"]);
        assert.equal((await storage.registry.listPartials()).length, 1);
        await liveUpload.seal();
        await liveUpload.commit();
        assert.deepEqual(await storage.store.list(id), ["live.bin"]);
      } finally {
        s3Client.destroy();
      }
    } finally {
      if (server !== undefined) await server.close();
      for (const resource of open) await resource.close().catch(() => {});
      await s3?.stop();
      await pg?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
