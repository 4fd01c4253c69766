/**
 * Issue 3, point 2: every request code, in and out of order, against a real
 * server on port 0.
 */

import assert from "node:assert/strict";
import { exists } from "../common/exists.ts";
import {
  cksum,
  clientIdToHex,
  generateRsaKeyPair,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { SqliteRegistry } from "../server/storage/registry_sqlite.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { withServer } from "./support/test_server.ts";

function receivedPath(dir: string, clientId: Uint8Array, name: string): string {
  return `${dir}/received_files/${clientIdToHex(clientId)}/${name}`;
}

/** Reads a file's record from the registry of a running server (WAL allows a second reader). */
async function fileRecord(dir: string, clientId: Uint8Array, name: string) {
  const db = await SqliteRegistry.open(`${dir}/server.db`);
  try {
    return await db.file(clientId, name);
  } finally {
    await db.close();
  }
}

Deno.test("server: 825 gives a new name 1600 with a random id, a taken name 1601", async () => {
  await withServer(async ({ port }) => {
    using a = await RawClient.connect(port);
    // A name is taken once its key came (issue 11: 825 alone reserves nothing).
    const idA = (await signUp(a, "Bob")).clientId;
    using b = await RawClient.connect(port);
    const idB = await b.register("Carol");
    assert.equal(idA.length, 16);
    assert.notDeepEqual(idA, idB);
    assert.notDeepEqual(idA, ZERO_CLIENT_ID);
    using c = await RawClient.connect(port);
    await c.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Bob" });
    await c.expect(ResponseCode.RegisterFailed);
  });
});

Deno.test("server: 826 after registering, 828, 900: 1602, 1603 with our cksum, 1604, file stored and verified only then", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Alice");
    const data = crypto.getRandomValues(new Uint8Array(20000));
    const received = await client.upload(me.clientId, me.aesKey, "hello.bin", data);
    assert.equal(received.cksum, cksum(data));
    assert.equal(received.contentSize, 20020);
    assert.deepEqual(received.clientId, me.clientId);
    assert.equal(new TextDecoder().decode(received.fileNameField).replace(/\0+$/, ""), "hello.bin");
    // Until the client confirms, nothing is stored under the name nor recorded.
    assert.equal(await fileRecord(dir, me.clientId, "hello.bin"), undefined);
    assert.equal(await exists(receivedPath(dir, me.clientId, "hello.bin")), false);
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "/tmp/hello.bin" });
    const ack = await client.expect(ResponseCode.Ack);
    assert.deepEqual((ack.response as { clientId: Uint8Array }).clientId, me.clientId);
    assert.deepEqual(await Deno.readFile(receivedPath(dir, me.clientId, "hello.bin")), data);
    const record = await fileRecord(dir, me.clientId, "hello.bin");
    assert.equal(record?.verified, true);
    assert.equal(record?.size, 20000);
    assert.equal(record?.cksum, cksum(data));
  });
});

Deno.test("server: 826 is accepted only on the connection that sent the 825; a name without its key reserves nothing", async () => {
  await withServer(async ({ port }) => {
    // Issue 11: name and id travel in clear, so an 826 on another connection
    // (which used to finish a registration whose key never came) is refused.
    using first = await RawClient.connect(port);
    const clientId = await first.register("Dave");
    const keys = await generateRsaKeyPair();
    using other = await RawClient.connect(port);
    await other.request(clientId, {
      code: RequestCode.PublicKey,
      name: "Dave",
      publicKey: keys.publicKey,
    });
    assert.match(await other.expectError(), /only on the connection that registered/);
    // On the right connection: a public key that is not an RSA key is
    // refused and the connection goes on; a wrong name is refused.
    await first.request(clientId, {
      code: RequestCode.PublicKey,
      name: "Dave",
      publicKey: new Uint8Array(160).fill(7),
    });
    await first.expectError();
    await first.request(clientId, {
      code: RequestCode.PublicKey,
      name: "Nobody",
      publicKey: keys.publicKey,
    });
    await first.expectError();
    first.close();

    // Dave's key never came: the name is free for the next one to register.
    using next = await RawClient.connect(port);
    const dave = await signUp(next, "Dave");
    assert.notDeepEqual(dave.clientId, clientId);
    // Now a key is on record: name and id (both sent in clear) cannot replace it.
    const impostorKeys = await generateRsaKeyPair();
    using impostor = await RawClient.connect(port);
    await impostor.request(dave.clientId, {
      code: RequestCode.PublicKey,
      name: "Dave",
      publicKey: impostorKeys.publicKey,
    });
    await impostor.expectError();
    // The real key still signs in.
    using again = await RawClient.connect(port);
    assert.equal((await again.reconnect(dave.clientId, "Dave", dave.keys.privateKey)).length, 32);
  });
});

Deno.test("server: 827 with a known id and name gets a fresh key (1605); else 1606, then 825 works", async () => {
  await withServer(async ({ port }) => {
    using first = await RawClient.connect(port);
    const me = await signUp(first, "Erin");
    first.close();

    using again = await RawClient.connect(port);
    const key1 = await again.reconnect(me.clientId, "Erin", me.keys.privateKey);
    const key2 = await again.reconnect(me.clientId, "Erin", me.keys.privateKey);
    assert.notDeepEqual(key1, me.aesKey);
    assert.notDeepEqual(key1, key2);
    const data = new TextEncoder().encode("reconnected upload");
    const received = await again.upload(me.clientId, key2, "r.txt", data);
    assert.equal(received.cksum, cksum(data));

    using stranger = await RawClient.connect(port);
    // Known name, wrong id.
    await stranger.request(crypto.getRandomValues(new Uint8Array(16)), {
      code: RequestCode.Reconnect,
      name: "Erin",
    });
    await stranger.expect(ResponseCode.ReconnectDenied);
    // Registered but never sent a key.
    using half = await RawClient.connect(port);
    const halfId = await half.register("Half");
    await half.request(halfId, { code: RequestCode.Reconnect, name: "Half" });
    await half.expect(ResponseCode.ReconnectDenied);
    // Unknown name: 1606 (reference text), then registering on the same connection works.
    await stranger.request(me.clientId, { code: RequestCode.Reconnect, name: "Frank" });
    const denied = await stranger.expect(ResponseCode.ReconnectDenied);
    assert.match((denied.response as { text: string }).text, /Frank/);
    const frank = await signUp(stranger, "Frank");
    assert.equal(frank.aesKey.length, 32);
  });
});

Deno.test("server: 828 before any key exchange gets 1607 and the connection closes", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    const clientId = await client.register("Gina");
    await client.sendHeader(clientId, RequestCode.SendFile, 0);
    await client.expectError();
    await client.readEnd();
  });
});

Deno.test("server: the AES key belongs to the connection: 828 on a new connection needs 827 first", async () => {
  await withServer(async ({ port }) => {
    using first = await RawClient.connect(port);
    const me = await signUp(first, "Hank");
    first.close();
    using second = await RawClient.connect(port);
    await second.sendHeader(me.clientId, RequestCode.SendFile, 0);
    await second.expectError();
    await second.readEnd();
  });
});

Deno.test("server: 828 with another client's id gets 1607 and the connection closes", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    await signUp(client, "Ivy");
    await client.sendHeader(crypto.getRandomValues(new Uint8Array(16)), RequestCode.SendFile, 0);
    await client.expectError();
    await client.readEnd();
  });
});

Deno.test("server: a cksum mismatch is answered with the trailer's complement, 901 gets no answer, the resend is kept", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Jack");
    const data = crypto.getRandomValues(new Uint8Array(9000));
    const path = receivedPath(dir, me.clientId, "j.bin");
    // The content was damaged on the way: the trailer is right, the bytes are not.
    const damaged = data.slice();
    damaged[4321]! ^= 0x20;
    const bad = await client.upload(me.clientId, me.aesKey, "j.bin", damaged, {
      trailer: cksum(data),
    });
    // Issue 11: a 1603 for an upload not kept reveals nothing about what the
    // server decrypted (it used to carry our cksum, a decryption oracle).
    assert.equal(bad.cksum, (~cksum(data)) >>> 0);
    assert.equal(await exists(path), false, "a mismatch must not be kept");
    await client.request(me.clientId, { code: RequestCode.CrcRetry, fileName: "j.bin" });
    // No answer to 901: the next frame is the answer to the resend.
    const good = await client.upload(me.clientId, me.aesKey, "j.bin", data);
    assert.equal(good.cksum, cksum(data));
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "j.bin" });
    await client.expect(ResponseCode.Ack);
    assert.deepEqual(await Deno.readFile(path), data);
  });
});

Deno.test("server: 902 gets 1604 and the given-up upload is neither kept nor recorded", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Kim");
    const data = crypto.getRandomValues(new Uint8Array(5000));
    // Kept (cksum == trailer) but the client still gives up: the staged
    // file goes, and the name was never stored.
    await client.upload(me.clientId, me.aesKey, "k.bin", data);
    assert.equal(await exists(receivedPath(dir, me.clientId, "k.bin")), false);
    await client.request(me.clientId, { code: RequestCode.CrcAbort, fileName: "k.bin" });
    await client.expect(ResponseCode.Ack);
    assert.equal(await exists(receivedPath(dir, me.clientId, "k.bin")), false);
    assert.equal(await fileRecord(dir, me.clientId, "k.bin"), undefined);
    // Not kept at all (mismatch), then 902: 1604 and still nothing.
    await client.upload(me.clientId, me.aesKey, "k2.bin", data, { trailer: 1 });
    await client.request(me.clientId, { code: RequestCode.CrcAbort, fileName: "k2.bin" });
    await client.expect(ResponseCode.Ack);
    assert.equal(await exists(receivedPath(dir, me.clientId, "k2.bin")), false);
  });
});

Deno.test("server: 900/901/902 without a received file get 1607 and the connection goes on", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Liam");
    for (const code of [RequestCode.CrcOk, RequestCode.CrcRetry, RequestCode.CrcAbort] as const) {
      await client.request(me.clientId, { code, fileName: "x" });
      await client.expectError();
    }
    // 900 for an upload that was not kept (mismatch) is refused too.
    const data = new Uint8Array(100);
    await client.upload(me.clientId, me.aesKey, "m.bin", data, { trailer: 5 });
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "m.bin" });
    await client.expectError();
    // And the connection still works.
    const ok = await client.upload(me.clientId, me.aesKey, "m.bin", data);
    assert.equal(ok.cksum, cksum(data));
  });
});

Deno.test("server: after 901 anything but 828 gets 1607", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Mona");
    await client.upload(me.clientId, me.aesKey, "n.bin", new Uint8Array(10), { trailer: 5 });
    await client.request(me.clientId, { code: RequestCode.CrcRetry, fileName: "n.bin" });
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "n.bin" });
    await client.expectError();
  });
});

Deno.test("server: an unknown code gets 1607, a small payload is skipped and the connection goes on", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    await client.sendHeader(ZERO_CLIENT_ID, 999, 10);
    await client.send(new Uint8Array(10));
    assert.match(await client.expectError(), /unknown request code 999/);
    await client.register("Nina");
  });
});

Deno.test("server: 825 on a connection where a client is signed in gets 1607", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    await signUp(client, "Omar");
    await client.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Omar2" });
    await client.expectError();
  });
});

Deno.test("server: a second upload of the same name replaces the first", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Pia");
    for (const text of ["first version, longer", "second"]) {
      const data = new TextEncoder().encode(text);
      await client.upload(me.clientId, me.aesKey, "same.txt", data);
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "same.txt" });
      await client.expect(ResponseCode.Ack);
    }
    assert.equal(await Deno.readTextFile(receivedPath(dir, me.clientId, "same.txt")), "second");
    assert.equal((await fileRecord(dir, me.clientId, "same.txt"))?.size, 6);
  });
});
