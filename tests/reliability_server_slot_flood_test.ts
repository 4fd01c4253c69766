/**
 * Issue 11, §2 "Connection slots": 256 connections that never sign in, each
 * keeping a request half-sent and completing it slowly, used to hold every
 * slot; a normal client was refused 26 times out of 26. Now the oldest of
 * them makes room, and a normal client is served.
 */

import { errorMessage } from "../common/error_message.ts";
import assert from "node:assert/strict";
import { cksum, encodeRequestHeader, RequestCode, ZERO_CLIENT_ID } from "../protocol/mod.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../server/server.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { delay, within } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

/** Normal clients tried during the flood. */
const TRIES = 20;

/**
 * One attacker slot: connects, sends half a request header, then a byte
 * every second; reconnects whenever the server closes it, until `stop`.
 */
async function holdSlot(port: number, stop: { stopped: boolean }): Promise<void> {
  const header = encodeRequestHeader(ZERO_CLIENT_ID, RequestCode.Register, 255);
  while (!stop.stopped) {
    let client: RawClient;
    try {
      client = await RawClient.connect(port);
    } catch {
      await delay(50);
      continue;
    }
    try {
      let closed = false;
      const ending = client.readResponseOrEnd().then(() => closed = true, () => closed = true);
      await client.send(header.subarray(0, 12));
      for (let sent = 12; !closed && !stop.stopped; sent = (sent + 1) % header.length) {
        await Promise.race([ending, delay(1000)]);
        if (!closed) await client.send(header.subarray(sent, sent + 1)).catch(() => {});
      }
    } catch {
      // Closed under us: take the slot again.
    } finally {
      client.close();
    }
  }
}

/** A normal client: sign up, upload a small file. */
async function normalClient(port: number, name: string): Promise<void> {
  using client = await RawClient.connect(port);
  const me = await signUp(client, name);
  const data = crypto.getRandomValues(new Uint8Array(1000));
  const received = await client.upload(me.clientId, me.aesKey, "normal.bin", data);
  assert.equal(received.cksum, cksum(data));
}

Deno.test("reliability: while connections that never sign in hold every slot, a normal client is served within 2 s in 95 % of tries", async () => {
  await withServer(async ({ port }) => {
    const stop = { stopped: false };
    const flood = Array.from({ length: DEFAULT_MAX_CONNECTIONS }, () => holdSlot(port, stop));
    let served = 0;
    const failures: string[] = [];
    try {
      await delay(1000); // every slot taken, every one mid-header
      for (let i = 0; i < TRIES; i++) {
        try {
          await within("a normal client to be served", normalClient(port, `Normal ${i}`), 2_000);
          served++;
        } catch (error) {
          failures.push(errorMessage(error));
        }
      }
    } finally {
      stop.stopped = true;
      await Promise.all(flood);
    }
    console.log(`served ${served} of ${TRIES} normal clients during the flood`);
    assert.ok(served >= Math.ceil(TRIES * 0.95), `served ${served} of ${TRIES}: ${failures}`);
  }, { maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS });
});
