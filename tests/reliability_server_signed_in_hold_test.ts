/**
 * Issue 17, §2 and the registrations: signing in was a way to hold a slot
 * forever. One throwaway name signed in on every slot; an upload awaiting
 * its verdict counted as busy for ever; a discovery request (850) every 20 s
 * beat the idle timeout; and registrations were free, hundreds a second.
 * Each attack is performed here and fails now.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DISCOVERY_REQUEST_CODE } from "../protocol/discovery.ts";
import { RequestCode, ResponseCode, ZERO_CLIENT_ID } from "../protocol/mod.ts";
import { generateRsaKeyPair } from "../protocol/rsa.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { delay, listFiles, waitUntil, within } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";
import { parseCommandLine } from "../server/cli/command_line.ts";

/** Resolves when the server closes `client` (or after `ms`, to `false`). */
async function closedWithin(client: RawClient, ms: number): Promise<boolean> {
  try {
    await within("the server to close the connection", drain(client), ms);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.TimedOut) return false;
    throw error;
  }
}

/** Reads (and drops) whatever arrives, the 1650 discovery answers included, until the end. */
async function drain(client: RawClient): Promise<void> {
  const buffer = new Uint8Array(4096);
  for (;;) {
    const n = await client.conn.read(buffer).catch(() => null);
    if (n === null) return;
  }
}

Deno.test("reliability: a discovery request (850) every 400 ms no longer keeps a signed-in connection from its idle timeout", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Nell");
    let closed = false;
    const ending = drain(client).then(() => closed = true);
    // Far more often than the idle timeout: before, each one renewed it.
    for (let sent = 0; sent < 50 && !closed; sent++) {
      await client.sendHeader(me.clientId, DISCOVERY_REQUEST_CODE, 0).catch(() => {});
      await delay(400);
    }
    await within("the idle timeout to close the connection", ending, 10_000);
    assert.ok(closed, "the connection stayed open while it only sent 850");
  }, { idleTimeoutMs: 2_000 });
});

Deno.test("reliability: an upload whose 1603 is never answered is discarded and its connection closed at the verdict deadline", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Vera");
    const data = crypto.getRandomValues(new Uint8Array(50_000));
    await client.upload(me.clientId, me.aesKey, "held.bin", data);
    const staged = async () =>
      (await listFiles(join(dir, "received_files"))).filter((path) => path.endsWith(".partial"));
    assert.equal((await staged()).length, 1, "the upload waits, staged, for its verdict");
    assert.ok(await closedWithin(client, 15_000), "the connection outlived its verdict deadline");
    await waitUntil("the staged upload to be discarded", async () => (await staged()).length === 0);
  }, { verdictTimeoutMs: 1_000 });
});

Deno.test("reliability: one identity cannot sign in on more connections than its cap", async () => {
  await withServer(async ({ port }) => {
    const first = await RawClient.connect(port);
    const others: RawClient[] = [];
    try {
      const me = await signUp(first, "Ida");
      for (let i = 0; i < 2; i++) {
        const client = await RawClient.connect(port);
        others.push(client);
        if (i === 0) {
          await client.reconnect(me.clientId, me.name, me.keys.privateKey);
          continue;
        }
        await client.request(me.clientId, { code: RequestCode.Reconnect, name: me.name });
        const text = await client.expectError();
        assert.match(text, /Cannot sign in: 2 connections are signed in as this client already/);
        assert.ok(await closedWithin(client, 10_000), "the refused connection stays open");
      }
    } finally {
      first.close();
      for (const client of others) client.close();
    }
  }, { maxConnectionsPerIdentity: 2 });
});

Deno.test("reliability: registrations from one address are capped per minute", async () => {
  await withServer(async ({ port }) => {
    const keys = await generateRsaKeyPair();
    for (let i = 0; i < 3; i++) {
      using client = await RawClient.connect(port);
      await signUp(client, `Reg ${i}`, keys);
    }
    using refused = await RawClient.connect(port);
    await refused.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Reg 3" });
    const frame = await refused.expect(ResponseCode.RegisterFailed);
    assert.match(
      (frame.response as { text: string }).text,
      /3 names were registered from your address in the last minute/,
    );
  }, { registrationsPerMinute: 3 });
});

Deno.test("server command line: the limits of issue 17 have their flags", () => {
  const command = parseCommandLine([
    "--max-per-identity",
    "2",
    "--verdict-timeout",
    "10",
    "--registrations-per-address",
    "5",
    "--forget-unused-after",
    "24",
  ]);
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") return;
  assert.equal(command.maxConnectionsPerIdentity, 2);
  assert.equal(command.verdictTimeoutMs, 10_000);
  assert.equal(command.registrationsPerMinute, 5);
  assert.equal(command.forgetUnusedAfterMs, 24 * 3_600_000);
  assert.throws(() => parseCommandLine(["--max-per-identity", "0"]), /at least 1/);
});

Deno.test("reliability: names unused for the configured time are freed while the server runs; names with files stay", async () => {
  await withServer(async ({ port }) => {
    const keys = await generateRsaKeyPair();
    {
      using client = await RawClient.connect(port);
      await signUp(client, "Fleeting", keys);
    }
    using keeper = await RawClient.connect(port);
    const me = await signUp(keeper, "Keeper", keys);
    const data = crypto.getRandomValues(new Uint8Array(100));
    await keeper.upload(me.clientId, me.aesKey, "kept.bin", data);
    await keeper.request(me.clientId, { code: RequestCode.CrcOk, fileName: "kept.bin" });
    await keeper.expect(ResponseCode.Ack);
    // The sweep runs every second with so short a limit: "Fleeting" may register again.
    await waitUntil(
      "the unused name to be freed",
      async () => {
        using again = await RawClient.connect(port);
        await again.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Fleeting" });
        return (await again.readResponse()).response.code === ResponseCode.Registered;
      },
      15_000,
      500,
    );
    using taken = await RawClient.connect(port);
    await taken.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Keeper" });
    await taken.expect(ResponseCode.RegisterFailed);
  }, { forgetUnusedAfterMs: 3_000, registrationsPerMinute: 1000 });
});
