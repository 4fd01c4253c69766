/**
 * Issue 11 §1: the life of an upload and of a registration. A verified
 * upload waits as a staged file until the client's 900, which commits it;
 * 901, 902, a new 828, a new sign-in or a dropped connection discard it, and
 * never delete a stored file. A registration is recorded only with its key,
 * sent on the connection that registered the name.
 */

import assert from "node:assert/strict";
import {
  clientIdToHex,
  generateRsaKeyPair,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { RawClient, signUp, type TestIdentity } from "../harness/raw_client.ts";
import { listNames, temporaryFiles, waitUntil } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

const encode = (text: string) => new TextEncoder().encode(text);

function folderOf(dir: string, me: TestIdentity): string {
  return `${dir}/received_files/${clientIdToHex(me.clientId)}`;
}

/** Uploads and confirms `text` as `name`. */
async function store(client: RawClient, me: TestIdentity, name: string, text: string) {
  await client.upload(me.clientId, me.aesKey, name, encode(text));
  await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: name });
  await client.expect(ResponseCode.Ack);
}

Deno.test("registration race: an observer's 826 with the victim's name and id is refused; the victim's goes through", async () => {
  await withServer(async ({ port }) => {
    using victim = await RawClient.connect(port);
    const victimId = await victim.register("Raced");
    // The observer saw the 1600 (name and id travel in clear) and is faster.
    const observerKeys = await generateRsaKeyPair();
    using observer = await RawClient.connect(port);
    await observer.request(victimId, {
      code: RequestCode.PublicKey,
      name: "Raced",
      publicKey: observerKeys.publicKey,
    });
    assert.match(await observer.expectError(), /only on the connection that registered/);
    // Nor may it register the name now: 825 does not reserve it, but the
    // victim's 826 still finds it free, and then it is taken.
    const victimKeys = await generateRsaKeyPair();
    const aesKey = await victim.sendPublicKey(victimId, "Raced", victimKeys);
    assert.equal(aesKey.length, 32);
    await observer.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Raced" });
    await observer.expect(ResponseCode.RegisterFailed);
    // The observer's 827 is approved, but its key is wrapped for the victim's public key.
    using again = await RawClient.connect(port);
    assert.equal((await again.reconnect(victimId, "Raced", victimKeys.privateKey)).length, 32);
  });
});

Deno.test("registration: the second of two 825s for one free name wins only if it sends its key first", async () => {
  await withServer(async ({ port }) => {
    using first = await RawClient.connect(port);
    using second = await RawClient.connect(port);
    const firstId = await first.register("Both");
    const secondId = await second.register("Both"); // 825 reserves nothing: free still
    // One registration at a time on a connection.
    await first.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Other" });
    assert.match(await first.expectError(), /registering Both: send its key/);
    const keys = await generateRsaKeyPair();
    await second.sendPublicKey(secondId, "Both", keys);
    await first.request(firstId, {
      code: RequestCode.PublicKey,
      name: "Both",
      publicKey: keys.publicKey,
    });
    await first.expect(ResponseCode.RegisterFailed);
  });
});

Deno.test("901 and 902 never delete a stored file, neither the owner's nor an impostor's", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Keeps Files");
    await store(client, me, "a.txt", "the confirmed version");
    for (const code of [RequestCode.CrcRetry, RequestCode.CrcAbort] as const) {
      await client.upload(me.clientId, me.aesKey, "a.txt", encode("a newer, unconfirmed one"));
      await client.request(me.clientId, { code, fileName: "a.txt" });
      if (code === RequestCode.CrcAbort) await client.expect(ResponseCode.Ack);
      else await client.upload(me.clientId, me.aesKey, "b.txt", encode("after 901")); // no 900
      assert.equal(await Deno.readTextFile(`${folderOf(dir, me)}/a.txt`), "the confirmed version");
    }
    // An impostor with name and id: whatever it sends is not kept, and 902 deletes nothing.
    using impostor = await RawClient.connect(port);
    await impostor.request(me.clientId, { code: RequestCode.Reconnect, name: me.name });
    await impostor.expect(ResponseCode.ReconnectApproved);
    await impostor.upload(
      me.clientId,
      crypto.getRandomValues(new Uint8Array(32)),
      "a.txt",
      encode("x"),
    );
    await impostor.request(me.clientId, { code: RequestCode.CrcAbort, fileName: "a.txt" });
    await impostor.expect(ResponseCode.Ack);
    assert.equal(await Deno.readTextFile(`${folderOf(dir, me)}/a.txt`), "the confirmed version");
  });
});

Deno.test("a staged upload is discarded by a new 828, a new sign-in and a dropped connection", async (t) => {
  await withServer(async ({ port, dir }) => {
    const client = await RawClient.connect(port);
    const me = await signUp(client, "Discards");
    const folder = folderOf(dir, me);
    await t.step("a new 828: only the newer upload stays staged, and 900 stores it", async () => {
      await client.upload(me.clientId, me.aesKey, "s.txt", encode("first"));
      assert.equal((await temporaryFiles(folder)).length, 1);
      await client.upload(me.clientId, me.aesKey, "s.txt", encode("second"));
      assert.equal((await temporaryFiles(folder)).length, 1);
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "s.txt" });
      await client.expect(ResponseCode.Ack);
      assert.deepEqual(await listNames(folder), ["s.txt"]);
      assert.equal(await Deno.readTextFile(`${folder}/s.txt`), "second");
    });
    await t.step("a new sign-in on the connection", async () => {
      await client.upload(me.clientId, me.aesKey, "t.txt", encode("staged"));
      me.aesKey = await client.reconnect(me.clientId, me.name, me.keys.privateKey);
      assert.deepEqual(await listNames(folder), ["s.txt"]);
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "t.txt" });
      await client.expectError();
    });
    await t.step("a dropped connection", async () => {
      await client.upload(me.clientId, me.aesKey, "u.txt", encode("staged, then dropped"));
      assert.equal((await temporaryFiles(folder)).length, 1);
      client.close();
      await waitUntil(
        "the staged file is discarded",
        async () => (await listNames(folder)).length === 1,
      );
      assert.deepEqual(await listNames(folder), ["s.txt"]);
    });
  });
});
