/**
 * Issue 3, points 1 (clean shutdown) and 6: many clients at once, slow and
 * silent clients that must not stall others, the idle timeout, the cap on
 * open connections.
 */

import assert from "node:assert/strict";
import {
  cksum,
  clientIdToHex,
  generateRsaKeyPair,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { startServer } from "../server/server.ts";
import { randomBytes, RawClient, signUp, uploadBytes } from "../harness/raw_client.ts";
import { withServer } from "./support/test_server.ts";
import { delay } from "./support/reliability.ts";

async function hasTemporaryFile(folder: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.name.endsWith(".partial")) return true;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return false;
}

/** Waits until the server has started an upload: its temporary file exists. */
async function waitForTemporaryFile(folder: string): Promise<void> {
  for (let i = 0; i < 500 && !(await hasTemporaryFile(folder)); i++) {
    await delay(10);
  }
  assert.ok(await hasTemporaryFile(folder), "the upload did not start");
}

Deno.test("server: 20 clients upload at once, each gets its own file", async () => {
  await withServer(async ({ port, dir }) => {
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      using client = await RawClient.connect(port);
      const me = await signUp(client, `Parallel ${i}`);
      const data = randomBytes(50_000 + i);
      const received = await client.upload(me.clientId, me.aesKey, "same-name.bin", data);
      assert.equal(received.cksum, cksum(data));
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "same-name.bin" });
      await client.expect(ResponseCode.Ack);
      const hex = [...me.clientId].map((b) => b.toString(16).padStart(2, "0")).join("");
      assert.deepEqual(await Deno.readFile(`${dir}/received_files/${hex}/same-name.bin`), data);
    }));
  });
});

Deno.test("server: a stalled upload and a silent client do not stall another client", async () => {
  await withServer(async ({ port }) => {
    using silent = await RawClient.connect(port);
    using staller = await RawClient.connect(port);
    const stalledMe = await signUp(staller, "Staller");
    const stalled = await uploadBytes(stalledMe, "stalled.bin", randomBytes(100_000));
    await staller.send(stalled.subarray(0, 30_000)); // then nothing

    using other = await RawClient.connect(port);
    const me = await signUp(other, "Other");
    const data = randomBytes(100_000);
    assert.equal((await other.upload(me.clientId, me.aesKey, "o.bin", data)).cksum, cksum(data));
    void silent;
  });
});

Deno.test("server: the idle timeout closes a silent client, one that stops mid-header, and one that stops mid-upload", async () => {
  await withServer(async ({ port }) => {
    using silent = await RawClient.connect(port);
    using midHeader = await RawClient.connect(port);
    await midHeader.send(new Uint8Array(5));
    const keys = await generateRsaKeyPair(); // before connecting: the idle timeout is short
    using midUpload = await RawClient.connect(port);
    const me = await signUp(midUpload, "Sleeper", keys);
    const bytes = await uploadBytes(me, "s.bin", randomBytes(20_000));
    await midUpload.send(bytes.subarray(0, 10_000));
    await Promise.all([silent.readEnd(), midHeader.readEnd(), midUpload.readEnd()]);
  }, { idleTimeoutMs: 150 });
});

Deno.test("server: over the connection cap with no idle connection, a new one is closed at once", async () => {
  await withServer(async ({ port, dir }) => {
    using a = await RawClient.connect(port);
    using b = await RawClient.connect(port);
    // Both are served, and both are mid-upload (not idle).
    for (const [client, name] of [[a, "Cap A"], [b, "Cap B"]] as const) {
      const me = await signUp(client, name);
      const bytes = await uploadBytes(me, "cap.bin", randomBytes(100_000));
      await client.send(bytes.subarray(0, 50_000));
      await waitForTemporaryFile(`${dir}/received_files/${clientIdToHex(me.clientId)}`);
    }
    using c = await RawClient.connect(port);
    await c.readEnd(); // closed without a word
    a.close();
    // Once a's session has ended there is room again.
    let accepted = false;
    for (let attempt = 0; attempt < 200 && !accepted; attempt++) {
      using d = await RawClient.connect(port);
      await d.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: `Cap D${attempt}` });
      accepted = (await d.readResponseOrEnd()) !== null;
      if (!accepted) await delay(10);
    }
    assert.ok(accepted, "no connection accepted after one closed");
  }, { maxConnections: 2 });
});

Deno.test("server: close() ends idle connections at once and lets a running upload finish", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_grace_" });
  try {
    const server = await startServer({ dir, port: 0, host: "127.0.0.1", shutdownGraceMs: 10_000 });
    using idle = await RawClient.connect(server.port);
    await idle.register("Idle");
    using uploader = await RawClient.connect(server.port);
    const me = await signUp(uploader, "Uploader");
    const data = randomBytes(100_000);
    const bytes = await uploadBytes(me, "u.bin", data);
    await uploader.send(bytes.subarray(0, 50_000));
    await waitForTemporaryFile(`${dir}/received_files/${clientIdToHex(me.clientId)}`);

    const closing = server.close();
    await idle.readEnd();
    await uploader.send(bytes.subarray(50_000));
    const received = await uploader.expect(ResponseCode.FileReceived);
    assert.equal((received.response as { cksum: number }).cksum, cksum(data));
    await uploader.request(me.clientId, { code: RequestCode.CrcOk, fileName: "u.bin" });
    await uploader.expect(ResponseCode.Ack);
    await uploader.readEnd();
    await closing;
    await server.finished;
    // New connections are refused once closed.
    await assert.rejects(RawClient.connect(server.port));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: close() cuts a stalled upload once the grace period is over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_grace_" });
  try {
    const server = await startServer({ dir, port: 0, host: "127.0.0.1", shutdownGraceMs: 100 });
    using uploader = await RawClient.connect(server.port);
    const me = await signUp(uploader, "Stuck");
    const bytes = await uploadBytes(me, "stuck.bin", randomBytes(100_000));
    await uploader.send(bytes.subarray(0, 50_000));
    await server.close();
    await uploader.readEnd();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: a port in use is one clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_port_" });
  try {
    using blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (blocker.addr as Deno.NetAddr).port;
    await assert.rejects(
      startServer({ dir, port, host: "127.0.0.1" }),
      (error: Error) => {
        assert.equal(error.message, `Cannot listen on 127.0.0.1:${port}: the port is in use`);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
