/**
 * Issue 3, points 3 and 4: what survives a restart (clients, keys, files in
 * SQLite, WAL mode) and what does not (temporary files of interrupted
 * uploads, even after a crash).
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  cksum,
  clientIdToHex,
  generateRsaKeyPair,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { startServer } from "../server/server.ts";
import { RawClient, signUp, uploadStream } from "../harness/raw_client.ts";
import { ServerProcess } from "./support/server_process.ts";
import { withServer } from "./support/test_server.ts";
import { delay, listNames } from "./support/reliability.ts";

Deno.test("server: after a restart a client reconnects with 827 and gets 1605; its files are on record", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_restart_" });
  try {
    const data = crypto.getRandomValues(new Uint8Array(3000));
    let me: Awaited<ReturnType<typeof signUp>> | undefined;
    await withServer(async ({ port }) => {
      using client = await RawClient.connect(port);
      me = await signUp(client, "Restart User");
      await client.upload(me.clientId, me.aesKey, "kept.bin", data);
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "kept.bin" });
      await client.expect(ResponseCode.Ack);
    }, { dir });
    assert.ok(me !== undefined);
    const identity = me;

    await withServer(async ({ port }) => {
      using client = await RawClient.connect(port);
      const key = await client.reconnect(
        identity.clientId,
        identity.name,
        identity.keys.privateKey,
      );
      const more = new TextEncoder().encode("after the restart");
      const received = await client.upload(identity.clientId, key, "more.txt", more);
      assert.equal(received.cksum, cksum(more));
      // Never confirmed (no 900): never stored.
      // The name is still taken.
      using other = await RawClient.connect(port);
      await other.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Restart User" });
      await other.expect(ResponseCode.RegisterFailed);
    }, { dir });

    const db = await SqliteRegistry.open(`${dir}/server.db`);
    try {
      const client = await db.clientByName("Restart User");
      assert.deepEqual(client?.id, identity.clientId);
      assert.deepEqual(client?.publicKey, identity.keys.publicKey);
      const file = await db.file(identity.clientId, "kept.bin");
      assert.equal(file?.verified, true);
      assert.equal(file?.size, data.length);
      assert.equal(file?.cksum, cksum(data));
      assert.equal(await db.file(identity.clientId, "more.txt"), undefined);
    } finally {
      await db.close();
    }
    const raw = new DatabaseSync(`${dir}/server.db`);
    try {
      assert.deepEqual({ ...raw.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
    } finally {
      raw.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: start-up removes stale temporary files and nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_stale_" });
  try {
    const folder = `${dir}/received_files/${"ab".repeat(16)}`;
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeTextFile(`${folder}/~upload-0123456789abcdef.partial`, "half an upload");
    await Deno.writeTextFile(`${folder}/kept.txt`, "a kept file");
    await Deno.writeTextFile(`${folder}/~upload-notatemp.partial`, "a kept file too");
    await withServer(async () => {
      assert.deepEqual(await listNames(folder), ["kept.txt", "~upload-notatemp.partial"]);
    }, { dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: a crash mid-upload leaves no file under the final name; restart cleans up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_crash_" });
  try {
    const server = await ServerProcess.start(dir, ["--port", "0", "--host", "127.0.0.1"]);
    let clientId: Uint8Array;
    try {
      using client = await RawClient.connect(server.port);
      const me = await signUp(client, "Crash User");
      clientId = me.clientId;
      const { frames } = uploadStream(me.clientId, me.aesKey, "crash.bin", 20_000_000);
      let sent = 0;
      for await (const piece of frames) {
        await client.send(piece);
        sent += piece.length;
        if (sent > 8_000_000) break;
      }
      // Wait until the server has written part of the file, then kill it.
      const folder = `${dir}/received_files/${clientIdToHex(clientId)}`;
      for (let i = 0; i < 500; i++) {
        const names = await listNames(folder);
        if (names.some((n) => n.endsWith(".partial"))) break;
        await delay(10);
      }
      assert.ok((await listNames(folder)).some((n) => n.endsWith(".partial")));
    } finally {
      const status = await server.stop("SIGKILL");
      assert.equal(status.success, false);
    }
    const folder = `${dir}/received_files/${clientIdToHex(clientId)}`;
    const restarted = await startServer({ dir, port: 0, host: "127.0.0.1" });
    await restarted.close();
    assert.ok((await Deno.stat(folder)).isDirectory, "the client's folder stays");
    assert.deepEqual(await listNames(folder), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: a corrupt database is one clear start-up error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_corrupt_" });
  try {
    await Deno.writeTextFile(`${dir}/server.db`, "this is not a database ".repeat(100));
    await assert.rejects(
      startServer({ dir, port: 0, host: "127.0.0.1" }),
      /^RegistryError: Cannot open database .*server\.db: /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: the AES key is never written to disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_nokey_" });
  try {
    let aesKey: Uint8Array | undefined;
    await withServer(async ({ port }) => {
      using client = await RawClient.connect(port);
      const keys = await generateRsaKeyPair();
      const id = await client.register("Key User");
      aesKey = await client.sendPublicKey(id, "Key User", keys);
    }, { dir });
    assert.ok(aesKey !== undefined);
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const bytes = await Deno.readFile(`${dir}/${entry.name}`);
      for (let i = 0; i + aesKey.length <= bytes.length; i++) {
        assert.ok(
          !aesKey.every((b, j) => bytes[i + j] === b),
          `the AES key is in ${entry.name}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
