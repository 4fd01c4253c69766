/**
 * The slot-debt lockout attack of issue 17, for the tests that perform it on
 * one server (`reliability_server_slot_debt_lockout_test.ts`) and behind
 * HAProxy (`scale_availability_test.ts`): holders that keep every slot with
 * uploads trickled below the floor rate or with a cheap working request
 * repeated every 500 ms, and the polite client that must still be served.
 *
 * | helper                    | what it does                                                        |
 * | ------------------------- | ------------------------------------------------------------------- |
 * | {@linkcode plainDoor}     | a plain port: 827 is the cheap request                              |
 * | {@linkcode secureDoor}    | a secure port (TLS, the key proven): a listing (860) is the cheap one |
 * | {@linkcode holdSlot}      | one attacker slot, taken again whenever the server closes it         |
 * | {@linkcode politeClient}  | signs up, uploads 1000 bytes, confirms                               |
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  cksum,
  encodeFileNameField,
  encodeListRequest,
  encodeRequest,
  encodeRequestHeader,
  maxRetrievalPayloadSize,
  RequestCode,
  ResponseCode,
  RetrievalResponse,
} from "../../protocol/mod.ts";
import type { RsaKeyPair } from "../../protocol/rsa.ts";
import {
  buildPackets,
  encryptContent,
  randomBytes,
  RawClient,
  signUp,
  type TestIdentity,
} from "../../harness/raw_client.ts";
import { delay, within } from "./reliability.ts";
import { proveKey } from "./secure_client.ts";

/** Between two packets of a slow upload: 8459 bytes every 300 ms, about 28 kB/s (the floor is 64 KiB/s, the request deadline asks 17.5 kB/s). */
export const SLOW_PACKET_MS = 300;
/** Between two cheap requests of a repeater. */
export const REPEAT_MS = 500;

/** How a test talks to one port of a server: plain, or secure (TLS, the key proven). */
export interface Door {
  /** `plain port` or `secure port`. */
  name: string;
  /** A new connection. */
  connect(): Promise<RawClient>;
  /** Registers and signs in `name` (the key proven on the secure port); returns its identity. */
  signUp(client: RawClient, name: string, keys: RsaKeyPair): Promise<TestIdentity>;
  /** Signs in again as `identity` on a new connection; returns the content key (`null` on the secure port, whose content is not encrypted). */
  signIn(client: RawClient, identity: TestIdentity): Promise<Uint8Array | null>;
  /** A cheap request that works. */
  cheap(identity: TestIdentity): Uint8Array;
  /** Reads the cheap request's answer. */
  cheapAnswer(client: RawClient): Promise<void>;
  /** The content key of a signed-up identity (`null` on the secure port). */
  contentKey(identity: TestIdentity): Uint8Array | null;
}

/** The plain port `port` on 127.0.0.1. */
export function plainDoor(port: number): Door {
  return {
    name: "plain port",
    connect: () => RawClient.connect(port),
    signUp: (client, name, keys) => signUp(client, name, keys),
    signIn: (client, identity) =>
      client.reconnect(identity.clientId, identity.name, identity.keys.privateKey),
    cheap: (identity) =>
      encodeRequest(identity.clientId, { code: RequestCode.Reconnect, name: identity.name }),
    cheapAnswer: async (client) => {
      await client.expect(ResponseCode.ReconnectApproved);
    },
    contentKey: (identity) => identity.aesKey,
  };
}

/** The secure port `port` on 127.0.0.1, trusting `certificate` (DER), whose SHA-256 is `fingerprint`. */
export function secureDoor(port: number, certificate: Uint8Array, fingerprint: Uint8Array): Door {
  return {
    name: "secure port",
    connect: () => RawClient.connectSecure(port, certificate),
    signUp: async (client, name, keys) => {
      const identity = await signUp(client, name, keys);
      await proveKey(client, identity.clientId, identity.aesKey, fingerprint);
      return identity;
    },
    signIn: async (client, me) => {
      const aesKey = await client.reconnect(me.clientId, me.name, me.keys.privateKey);
      await proveKey(client, me.clientId, aesKey, fingerprint);
      return null;
    },
    cheap: (me) => encodeListRequest(me.clientId, { cursor: "", limit: 1 }),
    cheapAnswer: async (client) => {
      const page = await client.readFrame(maxRetrievalPayloadSize);
      assert.equal(page?.code, RetrievalResponse.Page);
    },
    contentKey: () => null,
  };
}

/** The bytes of an 828 upload of `data` (`aesKey` null: the secure port's plaintext), its header first. */
export async function uploadPackets(
  me: TestIdentity,
  aesKey: Uint8Array | null,
  name: string,
  data: Uint8Array,
): Promise<Uint8Array[]> {
  const content = await encryptContent(aesKey, data);
  return [
    encodeRequestHeader(me.clientId, RequestCode.SendFile, 0),
    ...buildPackets(content, data.length, encodeFileNameField(name)),
  ];
}

/** What an attacker's holder does with a slot. */
export type Hold = "slow upload" | "repeat";

/**
 * One attacker slot: signs in as `identity` and holds the slot (`hold`),
 * in `held` while signed in; takes a slot again whenever the server closes
 * it, until `stop`.
 */
export async function holdSlot(
  door: Door,
  identity: TestIdentity,
  hold: Hold,
  stop: { stopped: boolean },
  held: Set<RawClient>,
): Promise<void> {
  const data = new Uint8Array(2 * 1024 * 1024).fill(3);
  for (let round = 0; round < 10_000 && !stop.stopped; round++) {
    let client: RawClient;
    try {
      client = await within("a holder's connection", door.connect(), 10_000);
    } catch {
      await delay(50);
      continue;
    }
    try {
      const key = await within("a holder's sign-in", door.signIn(client, identity), 10_000);
      held.add(client);
      if (hold === "slow upload") {
        const packets = await uploadPackets(identity, key, "held.bin", data);
        for (let i = 0; i < packets.length && !stop.stopped; i++) {
          await client.send(packets[i]!);
          await delay(SLOW_PACKET_MS);
        }
      } else {
        // The next request's first byte at once, the rest REPEAT_MS later.
        const frame = door.cheap(identity);
        for (let i = 0; i < 100_000 && !stop.stopped; i++) {
          await client.send(frame.subarray(0, 1));
          await delay(REPEAT_MS);
          await client.send(frame.subarray(1));
          await within("a cheap request's answer", door.cheapAnswer(client), 10_000);
        }
      }
    } catch {
      await delay(100); // closed by the server (evicted, or the identity's cap): again
    } finally {
      held.delete(client);
      client.close();
    }
  }
}

/** A polite client: sign up, upload a small file, confirm it (900, 1604). */
export async function politeClient(door: Door, name: string, keys: RsaKeyPair): Promise<void> {
  using client = await door.connect();
  const me = await door.signUp(client, name, keys);
  const data = randomBytes(1000);
  const received = await client.upload(me.clientId, door.contentKey(me), "polite.bin", data);
  assert.equal(received.cksum, cksum(data));
  await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "polite.bin" });
  await client.expect(ResponseCode.Ack);
}

/**
 * The attack and the promise: `slots` holders (half slow uploads, half
 * repeaters, over `identities`) take every slot behind `door`, and once
 * each is past the grace in slot debt, `tries` polite clients try one after
 * the other, each given 2 s. Returns how many were served, and why the
 * others were not; stops every holder and closes their connections.
 */
export async function lockoutServed(
  door: Door,
  identities: readonly TestIdentity[],
  keys: RsaKeyPair,
  options: { slots: number; tries: number; prefix: string },
): Promise<{ served: number; failures: string[] }> {
  const stop = { stopped: false };
  const held = new Set<RawClient>();
  const holders = Array.from({ length: options.slots }, (_, i) =>
    holdSlot(
      door,
      identities[i % identities.length]!,
      i % 2 === 0 ? "slow upload" : "repeat",
      stop,
      held,
    ));
  let served = 0;
  const failures: string[] = [];
  try {
    // Every slot taken, and each holder past the grace in slot debt.
    for (let i = 0; i < 100 && held.size < options.slots; i++) await delay(100);
    assert.equal(held.size, options.slots, "the holders took every slot");
    await delay(5_000);
    for (let i = 0; i < options.tries; i++) {
      try {
        await within(
          "a polite client to be served",
          politeClient(door, `${options.prefix} ${i}`, keys),
          2_000,
        );
        served++;
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  } finally {
    stop.stopped = true;
    for (const client of held) client.close();
    await within("the holders to stop", Promise.all(holders), 30_000);
  }
  return { served, failures };
}
