/**
 * Issue 17, §2 and the polite newcomer's promise: every slot was held by
 * signed-in connections, each with an upload awaiting its verdict (busy, so
 * never evicted) and a discovery request (850) every few seconds; a polite
 * client was refused 7 times out of 7. Now 850 does no work, and the wait
 * for the 900 that never comes runs up slot debt (`server/net/timed_conn.ts`):
 * the newcomer takes the slot of the one most in debt, and is served.
 */

import assert from "node:assert/strict";
import { DISCOVERY_REQUEST_CODE } from "../protocol/discovery.ts";
import { cksum, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { generateRsaKeyPair, type RsaKeyPair } from "../protocol/rsa.ts";
import { RawClient, signUp, type TestIdentity } from "../harness/raw_client.ts";
import { delay, within } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

/** The server's slots, all taken by the attacker. */
const SLOTS = 32;
/** Identities the attacker uses (the per-identity cap is 4). */
const IDENTITIES = SLOTS / 4;
/** Polite clients tried during the lockout. */
const TRIES = 20;

/**
 * One attacker slot: signs in as `identity`, uploads a file and never
 * answers its 1603, sends 850 every second; takes its slot again whenever
 * the server closes it, until `stop`.
 */
async function holdBusySlot(
  port: number,
  identity: TestIdentity,
  stop: { stopped: boolean },
): Promise<void> {
  const data = new Uint8Array(10_000).fill(1);
  while (!stop.stopped) {
    let client: RawClient;
    try {
      client = await RawClient.connect(port);
    } catch {
      await delay(50);
      continue;
    }
    try {
      const aesKey = await client.reconnect(
        identity.clientId,
        identity.name,
        identity.keys.privateKey,
      );
      await client.upload(identity.clientId, aesKey, "held.bin", data);
      let closed = false;
      const ending = drain(client).then(() => closed = true);
      while (!closed && !stop.stopped) {
        await client.sendHeader(identity.clientId, DISCOVERY_REQUEST_CODE, 0).catch(() => {});
        await Promise.race([ending, delay(1000)]);
      }
    } catch {
      await delay(200); // refused (the identity's cap) or closed: try again
    } finally {
      client.close();
    }
  }
}

/** Reads and drops everything until the end of the connection. */
async function drain(client: RawClient): Promise<void> {
  const buffer = new Uint8Array(4096);
  while ((await client.conn.read(buffer).catch(() => null)) !== null);
}

/** A polite client: sign up, upload a small file, confirm it (900, 1604). */
async function politeClient(port: number, name: string, keys: RsaKeyPair): Promise<void> {
  using client = await RawClient.connect(port);
  const me = await signUp(client, name, keys);
  const data = crypto.getRandomValues(new Uint8Array(1000));
  const received = await client.upload(me.clientId, me.aesKey, "polite.bin", data);
  assert.equal(received.cksum, cksum(data));
  await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "polite.bin" });
  await client.expect(ResponseCode.Ack);
}

Deno.test("reliability: while signed-in connections with unanswered uploads and 850 keepalives hold every slot, a polite client is served within 2 s in 95 % of tries", async () => {
  await withServer(async ({ port }) => {
    const keys = await generateRsaKeyPair();
    const identities: TestIdentity[] = [];
    for (let i = 0; i < IDENTITIES; i++) {
      using client = await RawClient.connect(port);
      identities.push(await signUp(client, `Holder ${i}`, keys));
    }
    const stop = { stopped: false };
    const holders = Array.from(
      { length: SLOTS },
      (_, i) => holdBusySlot(port, identities[i % IDENTITIES]!, stop),
    );
    let served = 0;
    const failures: string[] = [];
    try {
      await delay(4_000); // every slot taken, every upload unanswered past the grace
      for (let i = 0; i < TRIES; i++) {
        try {
          await within(
            "a polite client to be served",
            politeClient(port, `Polite ${i}`, keys),
            2_000,
          );
          served++;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    } finally {
      stop.stopped = true;
      await within("the holders to stop", Promise.all(holders), 30_000);
    }
    console.log(`served ${served} of ${TRIES} polite clients during the lockout`);
    assert.ok(served >= Math.ceil(TRIES * 0.95), `served ${served} of ${TRIES}: ${failures}`);
  }, {
    maxConnections: SLOTS,
    maxConnectionsPerAddress: SLOTS * 2,
    verdictTimeoutMs: 120_000, // the verdict deadline is not what serves the newcomer here
  });
});
