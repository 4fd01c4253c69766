/**
 * Issue 17's availability promises behind a balancer: server instances
 * (real processes) on one PostgreSQL registry and one S3 bucket (Ceph's
 * gateway), HAProxy in front forwarding the plain port and the secure port
 * (TLS passed through, the deployment's one identity), the attacks made
 * through HAProxy, so that every connection an instance sees comes from the
 * balancer's one address (the per-address caps lifted, as the README's
 * deployment section tells operators):
 *
 * - the slot-debt lockout: every slot of both instances held by uploads
 *   trickled below the floor rate and by connections repeating a cheap
 *   working request; a polite client is still served within 2 s in 95 % of
 *   tries, on each port;
 * - the quota across instances: an upload reserved on one instance counts on
 *   the other, which refuses the upload that passes `--max-stored` (or
 *   `--max-files`) with 1607 at its first packet, drains the rest and serves
 *   the next request, on each port;
 * - the running sweep across instances: an instance killed (SIGKILL)
 *   mid-upload leaves a staged S3 upload and a reservation; the other
 *   instances' sweep removes both once old enough, while a live instance's
 *   upload in progress is left alone, and the killed client's quota is free
 *   again.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  cksum,
  clientIdToHex,
  generateRsaKeyPair,
  REQUEST_HEADER_SIZE,
  RequestCode,
  ResponseCode,
  type RsaKeyPair,
} from "../protocol/mod.ts";
import { PACKET_HEADER_SIZE } from "../protocol/constants.ts";
import { certificateFingerprint } from "../protocol/fingerprint.ts";
import { decodePem } from "../protocol/pem.ts";
import { PostgresIdentityRecord } from "../server/storage/identity_record_postgres.ts";
import { PostgresRegistry } from "../server/storage/registry_postgres.ts";
import {
  randomBytes,
  type RawClient,
  type TestIdentity,
  uploadBytes,
} from "../harness/raw_client.ts";
import { freePort } from "../scripts/services/daemon.ts";
import { waitUntil, within } from "./support/reliability.ts";
import { ScaleDeployment, type ScaleInstance } from "./support/scale_deployment.ts";
import { ignoreWithoutServices } from "./support/services.ts";
import {
  type Door,
  lockoutServed,
  plainDoor,
  secureDoor,
  uploadPackets,
} from "./support/slot_holders.ts";

const SERVICES = ["postgres", "s3", "haproxy"] as const;

/**
 * Starts the instances `names` at once on `deployment` with `extra` arguments, each with a health
 * listener, its plain and secure ports, advertising the balancer's secure port, and behind the
 * balancer (every connection from its address) the per-address caps lifted; then HAProxy over
 * them. Returns the balancer's plain and secure doors, trusting the deployment's one identity.
 */
async function balanced(
  deployment: ScaleDeployment,
  names: readonly string[],
  extra: readonly string[],
): Promise<{ plain: Door; secure: Door }> {
  const publicSecurePort = freePort();
  await deployment.startInstances(names, () => [
    "--http",
    "127.0.0.1:0",
    "--port",
    "0",
    "--secure-port",
    "0",
    "--public-secure-port",
    String(publicSecurePort),
    "--registrations-per-address",
    "1000000",
    ...extra,
  ], { together: true });
  const lb = await deployment.balance({ securePort: publicSecurePort });
  const record = await PostgresIdentityRecord.open(deployment.registryUrl);
  let certificatePem: string | undefined;
  try {
    certificatePem = (await record.read())?.certificatePem;
  } finally {
    await record.close();
  }
  assert.ok(certificatePem !== undefined, "the instances recorded no identity");
  const certificate = decodePem(certificatePem, "CERTIFICATE");
  const fingerprint = await certificateFingerprint(certificate);
  return {
    plain: plainDoor(lb.port),
    secure: secureDoor(lb.securePort!, certificate, fingerprint),
  };
}

/** How often `text` appears in an instance's log so far. */
function mentions(instance: ScaleInstance, text: string): number {
  return instance.process.stderr.split(text).length - 1;
}

/** A connection through the balancer, signed in as `me`, and the instance that serves it. */
interface Landed {
  client: RawClient;
  /** The content key (`null` on the secure port). */
  key: Uint8Array | null;
  instance: ScaleInstance;
}

/**
 * Signs in as `me` on a new connection through `door`, and finds the instance that logged it;
 * with `avoid`, tries again (at most 6 times) until another instance serves it. Connections on
 * `avoid` are closed again.
 */
async function landOn(
  door: Door,
  me: TestIdentity,
  instances: readonly ScaleInstance[],
  avoid?: ScaleInstance,
): Promise<Landed> {
  const text = `Reconnected ${me.name} `;
  for (let attempt = 0; attempt < 6; attempt++) {
    const before = instances.map((instance) => mentions(instance, text));
    const client = await within("a connection through HAProxy", door.connect(), 10_000);
    try {
      const key = await within("a sign-in", door.signIn(client, me), 10_000);
      const find = () => instances.find((instance, i) => mentions(instance, text) > before[i]!);
      await waitUntil("an instance to log the sign-in", () => find() !== undefined);
      const instance = find()!;
      if (instance !== avoid) return { client, key, instance };
    } catch (error) {
      client.close();
      throw error;
    }
    client.close();
  }
  assert.fail(`every connection of ${me.name} landed on ${avoid?.name}`);
}

/** Registers `name` through `door` on a connection of its own, closed again. */
async function registered(door: Door, name: string, keys: RsaKeyPair): Promise<TestIdentity> {
  const client = await within("a connection through HAProxy", door.connect(), 10_000);
  try {
    return await within("a sign-up", door.signUp(client, name, keys), 10_000);
  } finally {
    client.close();
  }
}

/** The bytes `name`'s uploads in progress reserve, on every instance (PostgreSQL). */
async function stagedBytesOf(registry: PostgresRegistry, name: string): Promise<number> {
  const row = (await registry.listClients()).find((client) => client.name === name);
  assert.ok(row !== undefined, `${name} is not registered`);
  return row.stagedBytes;
}

/** Uploads `data` as `fileName` on a signed-in connection, and confirms it (1603, 900, 1604). */
async function store(landed: Landed, me: TestIdentity, fileName: string, data: Uint8Array) {
  const received = await within(
    `the 1603 of ${fileName}`,
    landed.client.upload(me.clientId, landed.key, fileName, data),
    30_000,
  );
  assert.equal(received.cksum, cksum(data));
  await landed.client.request(me.clientId, { code: RequestCode.CrcOk, fileName });
  await within(`the 1604 of ${fileName}`, landed.client.expect(ResponseCode.Ack), 10_000);
}

/** Each instance's slots. */
const SLOTS_EACH = 8;
/** Polite clients tried on each port while the slots are held. */
const TRIES = 20;

Deno.test({
  name:
    "behind HAProxy (PostgreSQL + S3, two instances): while slow uploads and cheap requests every 500 ms hold every slot, a polite client is served within 2 s in 95 % of tries, on each port",
  ignore: ignoreWithoutServices("the slot-debt lockout behind HAProxy", SERVICES),
  async fn(t) {
    await using deployment = await ScaleDeployment.start({
      prefix: "scale_availability_slots_",
      bucket: "availability-slots",
      database: "availability_slots",
    });
    const doors = await balanced(deployment, ["a", "b"], [
      "--max-connections",
      String(SLOTS_EACH),
      "--max-per-address",
      String(SLOTS_EACH),
      "--verdict-timeout",
      "60",
    ]);
    const slots = SLOTS_EACH * deployment.instances.length;
    const keys = await generateRsaKeyPair();
    for (const door of [doors.plain, doors.secure]) {
      await t.step(door.name, async () => {
        // The per-identity cap is 4 connections on each instance.
        const identities: TestIdentity[] = [];
        for (let i = 0; i < slots / 4; i++) {
          identities.push(await registered(door, `Holder ${door.name} ${i}`, keys));
        }
        const { served, failures } = await lockoutServed(door, identities, keys, {
          slots,
          tries: TRIES,
          prefix: `Polite ${door.name}`,
        });
        console.log(
          `behind HAProxy, ${door.name}: served ${served} of ${TRIES} polite clients while the slots were held`,
        );
        assert.ok(served >= Math.ceil(TRIES * 0.95), `served ${served} of ${TRIES}: ${failures}`);
      });
    }
  },
});

/** Each client's `--max-stored` in the quota test. */
const MAX_STORED = 1_000_000;
/** The upload held on one instance, and the one refused on the other: together past the limit. */
const HELD = 600_000;

Deno.test({
  name:
    "behind HAProxy (PostgreSQL + S3, two instances): an upload reserved on one instance counts on the other, which refuses the upload past --max-stored or --max-files at its first packet (1607), drains the rest and serves the next request, on each port",
  ignore: ignoreWithoutServices("the quota across instances", SERVICES),
  async fn(t) {
    await using deployment = await ScaleDeployment.start({
      prefix: "scale_availability_quota_",
      bucket: "availability-quota",
      database: "availability_quota",
    });
    const { instances } = deployment;
    const doors = await balanced(deployment, ["a", "b"], [
      "--max-stored",
      String(MAX_STORED),
      "--max-files",
      "2",
    ]);
    const registry = await PostgresRegistry.open(deployment.registryUrl);
    const keys = await generateRsaKeyPair();
    try {
      for (const door of [doors.plain, doors.secure]) {
        await t.step(door.name, async () => {
          const me = await registered(door, `Quota ${door.name}`, keys);
          const holder = await landOn(door, me, instances);
          let other: Landed | undefined;
          try {
            // One instance: an upload's first packet, the rest withheld: it reserves HELD bytes.
            const held = await uploadBytes(
              { clientId: me.clientId, aesKey: holder.key },
              "held.bin",
              randomBytes(HELD),
            );
            const firstPart = REQUEST_HEADER_SIZE + PACKET_HEADER_SIZE + 100;
            await holder.client.send(held.subarray(0, firstPart));
            await waitUntil(
              "the held upload's reservation in PostgreSQL",
              async () => await stagedBytesOf(registry, me.name) === HELD,
            );

            // The other instance: HELD more would pass --max-stored: 1607 at its first packet.
            other = await landOn(door, me, instances, holder.instance);
            const big = await uploadBytes(
              { clientId: me.clientId, aesKey: other.key },
              "big.bin",
              randomBytes(HELD),
            );
            await other.client.send(big.subarray(0, firstPart));
            const text = await within("the early 1607", other.client.expectError(), 5_000);
            assert.match(text, /Cannot store big\.bin: it would take you past the /);
            await within(
              "the rest to be taken",
              other.client.send(big.subarray(firstPart)),
              30_000,
            );
            // The next request is served: an upload that fits beside the reservation.
            await store(other, me, "next.bin", randomBytes(100_000));

            // One file stored and one reserved on the first instance: --max-files 2 is reached.
            const tiny = await uploadBytes(
              { clientId: me.clientId, aesKey: other.key },
              "tiny.bin",
              randomBytes(10),
            );
            await other.client.send(tiny);
            assert.match(
              await within("the files' 1607", other.client.expectError(), 5_000),
              /Cannot store tiny\.bin: you already store the most files allowed \(2\)/,
            );
            // The first instance lets go of its upload (its connection ends): the same one fits.
            holder.client.close();
            await waitUntil(
              "the held upload's reservation to be released",
              async () => await stagedBytesOf(registry, me.name) === 0,
            );
            await store(other, me, "tiny.bin", randomBytes(10));
          } finally {
            holder.client.close();
            other?.client.close();
          }
        });
      }
    } finally {
      await registry.close();
    }
  },
});

/** The sweep test's verdict deadline, in seconds: staged uploads nobody holds go once 10 s old. */
const VERDICT_S = 5;
/** The uploads cut by the kill and held by the live instance. */
const STAGED = 600_000;

Deno.test({
  name:
    "behind HAProxy (PostgreSQL + S3, three instances): an instance killed mid-upload leaves a staged S3 upload and a reservation; the others' running sweep removes both, leaves a live instance's upload alone, and the killed client's quota is free again",
  ignore: ignoreWithoutServices("the staged sweep across instances", SERVICES),
  async fn() {
    await using deployment = await ScaleDeployment.start({
      prefix: "scale_availability_sweep_",
      bucket: "availability-sweep",
      database: "availability_sweep",
    });
    const { instances } = deployment;
    const { plain: door } = await balanced(deployment, ["a", "b", "c"], [
      "--max-stored",
      String(MAX_STORED),
      "--verdict-timeout",
      String(VERDICT_S),
    ]);
    const registry = await PostgresRegistry.open(deployment.registryUrl);
    const keys = await generateRsaKeyPair();
    const liveMe = await registered(door, "Live", keys);
    const killedMe = await registered(door, "Killed", keys);
    const live = await landOn(door, liveMe, instances);
    let doomed: Landed | undefined;
    let after: Landed | undefined;
    try {
      // A live instance's upload: its first packets now, one more every second, the rest later.
      const liveData = randomBytes(STAGED);
      const livePackets = await uploadPackets(liveMe, live.key, "live.bin", liveData);
      let sent = 30;
      for (const packet of livePackets.slice(0, sent)) await live.client.send(packet);

      // Another instance takes an upload of the killed client, half of it sent, and is killed.
      doomed = await landOn(door, killedMe, instances, live.instance);
      const doomedPackets = await uploadPackets(
        killedMe,
        doomed.key,
        "doomed.bin",
        randomBytes(STAGED),
      );
      for (const packet of doomedPackets.slice(0, 36)) await doomed.client.send(packet);
      await waitUntil(
        "both uploads staged in S3 and reserved in PostgreSQL",
        async () =>
          await deployment.stagedUploads() === 2 &&
          await stagedBytesOf(registry, "Killed") === STAGED &&
          await stagedBytesOf(registry, "Live") === STAGED,
        10_000,
        100,
      );
      const victim = doomed.instance;
      victim.process.child.kill("SIGKILL");
      await within("the killed instance to exit", victim.process.wait(), 10_000);
      doomed.client.close();
      assert.equal(
        await stagedBytesOf(registry, "Killed"),
        STAGED,
        "the kill left its reservation",
      );

      // The others' sweep, once the killed upload is twice the verdict deadline old.
      await waitUntil(
        "the killed instance's staged upload and reservation to be swept",
        async () => {
          if (sent < livePackets.length - 1) await live.client.send(livePackets[sent++]!);
          return await deployment.stagedUploads() < 2 &&
            await stagedBytesOf(registry, "Killed") === 0;
        },
        60_000,
        1_000,
      );
      assert.equal(await deployment.stagedUploads(), 1, "the live instance's upload was swept");
      assert.equal(await stagedBytesOf(registry, "Live"), STAGED, "the live upload was released");

      // The killed client's quota is free again: an upload that the stale reservation would
      // have taken past --max-stored is stored.
      after = await landOn(door, killedMe, instances, victim);
      await store(after, killedMe, "again.bin", randomBytes(MAX_STORED - 100_000));

      // The live upload, left alone, completes.
      for (const packet of livePackets.slice(sent)) await live.client.send(packet);
      const received = await within(
        "the live upload's 1603",
        live.client.expect(ResponseCode.FileReceived),
        30_000,
      );
      assert.equal((received.response as { cksum: number }).cksum, cksum(liveData));
      await live.client.request(liveMe.clientId, { code: RequestCode.CrcOk, fileName: "live.bin" });
      await within("the live upload's 1604", live.client.expect(ResponseCode.Ack), 10_000);
      assert.equal(
        await deployment.objectSize(`${clientIdToHex(liveMe.clientId)}/live.bin`),
        STAGED,
      );
      assert.equal(
        await deployment.objectSize(`${clientIdToHex(killedMe.clientId)}/doomed.bin`),
        undefined,
      );
      assert.equal(await deployment.stagedUploads(), 0);
    } finally {
      live.client.close();
      doomed?.client.close();
      after?.client.close();
      await registry.close();
    }
  },
});
