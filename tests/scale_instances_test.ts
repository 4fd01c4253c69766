/**
 * Several server instances behind HAProxy (TCP mode), sharing a PostgreSQL
 * registry and an S3 bucket (Ceph's gateway), all real processes on
 * 127.0.0.1:
 *
 * - a client registered through one instance reconnects and uploads through
 *   another;
 * - clients racing for one name through both instances: exactly one gets it;
 * - the operator commands list and forget through the shared registry and bucket;
 * - one client's limits hold across instances (in-process servers, to set the limit);
 * - an instance killed mid-upload leaves nothing visible; the client's retry
 *   lands on the other instance and succeeds; the killed instance, restarted,
 *   removes what its dead upload left in staging.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cksum,
  type ClientId,
  clientIdToHex,
  encodeFileNameField,
  generateRsaKeyPair,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import type { ClientRow, FileRow } from "../server/cli/operator.ts";
import { S3FileStore } from "../server/storage/file_store_s3.ts";
import { soleInstance } from "../server/storage/instance_liveness.ts";
import { PostgresRegistry } from "../server/storage/registry_postgres.ts";
import { startServer } from "../server/server.ts";
import { openStorage } from "../server/storage/storage_selection.ts";
import {
  fillPattern,
  RawClient,
  signUp,
  uploadBytes,
  uploadStream,
} from "../harness/raw_client.ts";
import { DIALECT_PROFILES, DialectClient } from "../harness/dialect_client.ts";
import { waitUntil } from "./support/reliability.ts";
import { runServerCommand } from "./support/server_command.ts";
import { ignoreWithoutServices, startHaproxy } from "./support/services.ts";
import { s3Settings, ScaleDeployment, type ScaleInstance } from "./support/scale_deployment.ts";

const BUCKET = "instances";

/**
 * An instance's arguments besides `--host` and the storage: on `port`. Behind the balancer every
 * registration comes from its address: lifted, as the README's Deployment section tells
 * operators, or the name-race rounds would meet the rate limit.
 */
function instanceArgs(port = 0): string[] {
  return ["--port", String(port), "--registrations-per-address", "1000000"];
}

/** How often `text` appears in an instance's log so far. */
function mentions(instance: ScaleInstance, text: string): number {
  return instance.process.stderr.split(text).length - 1;
}

/**
 * The instance whose log mentions `text` more than `before` says (its log
 * line may come a little after its answer).
 */
async function servedBy(
  instances: ScaleInstance[],
  text: string,
  before: number[],
): Promise<ScaleInstance> {
  const find = () => instances.find((instance, i) => mentions(instance, text) > before[i]!);
  await waitUntil(`an instance to log ${JSON.stringify(text)}`, () => find() !== undefined);
  return find()!;
}

/** Uploads `data` as `fileName` on `client` and confirms it (900, expecting 1604). */
async function uploadAndConfirm(
  client: RawClient,
  clientId: ClientId,
  aesKey: Uint8Array,
  fileName: string,
  data: Uint8Array,
): Promise<void> {
  const received = await client.upload(clientId, aesKey, fileName, data);
  assert.equal(received.cksum, cksum(data));
  await client.request(clientId, { code: RequestCode.CrcOk, fileName });
  await client.expect(ResponseCode.Ack);
}

/** Runs an operator command (`server clients ...`) on the shared engines; returns its JSON. */
async function operator<T>(deployment: ScaleDeployment, ...args: string[]): Promise<T> {
  const cwd = await Deno.makeTempDir({ prefix: "scale_operator_" });
  try {
    const run = await runServerCommand([...args, "--dir", ".data", ...deployment.storageArgs], {
      cwd,
      env: deployment.env,
    });
    assert.equal(run.code, 0, run.stderr);
    return (args.includes("--json") ? JSON.parse(run.stdout) : undefined) as T;
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

Deno.test({
  name: "instances behind HAProxy share one PostgreSQL registry and one S3 bucket",
  ignore: ignoreWithoutServices("instances behind HAProxy", ["postgres", "s3", "haproxy"]),
  async fn(t) {
    await using deployment = await ScaleDeployment.start({
      prefix: "scale_instances_",
      bucket: BUCKET,
      database: "instances",
    });
    const { root, registryUrl, instances } = deployment;
    await deployment.startInstances(["a", "b"], () => instanceArgs());
    // Plain sessions here: a shared registry without --public-secure-port is a warning.
    for (const instance of instances) {
      await waitUntil(
        "the secure port warning",
        () => /no --public-secure-port/.test(instance.process.stderr),
      );
    }
    const lbPort = (await deployment.balance()).port;
    const registry = await PostgresRegistry.open(registryUrl);

    try {
      await t.step(
        "a client registered through one instance uploads through another",
        async () => {
          const name = "Roamer";
          let before = instances.map((i) => mentions(i, `Registered ${name}`));
          const first = await RawClient.connect(lbPort);
          const identity = await signUp(first, name);
          first.close();
          const home = await servedBy(instances, `Registered ${name}`, before);
          let elsewhere = false;
          for (let attempt = 0; attempt < 6 && !elsewhere; attempt++) {
            before = instances.map((i) => mentions(i, `Reconnected ${name}`));
            const client = await RawClient.connect(lbPort);
            try {
              const aesKey = await client.reconnect(
                identity.clientId,
                name,
                identity.keys.privateKey,
              );
              const data = new TextEncoder().encode(`attempt ${attempt}`);
              await uploadAndConfirm(client, identity.clientId, aesKey, "roam.txt", data);
              assert.deepEqual(
                await deployment.readObject(`${clientIdToHex(identity.clientId)}/roam.txt`),
                data,
              );
            } finally {
              client.close();
            }
            elsewhere = await servedBy(instances, `Reconnected ${name}`, before) !== home;
          }
          assert.ok(elsewhere, "every reconnect landed on the instance that registered it");
        },
      );

      await t.step(
        "every family of dialects signs up, reconnects and uploads through the balancer",
        async () => {
          for (const profile of DIALECT_PROFILES) {
            const name = `Dialect ${profile.label}`;
            const keys = await generateRsaKeyPair();
            const field = encodeFileNameField("dialect.bin");
            let id: Uint8Array | undefined;
            for (const round of [0, 1]) {
              using client = await DialectClient.connect(lbPort, profile);
              let aesKey: Uint8Array;
              if (id === undefined) {
                id = await client.register(name);
                aesKey = await client.sendPublicKey(id, name, keys);
              } else {
                aesKey = await client.reconnect(id, name, keys);
              }
              const data = new TextEncoder().encode(`${profile.label}, round ${round}`);
              await client.upload(id, aesKey, field, data);
              assert.equal((await client.verdict(id, "crcOk", field))?.response.meaning, "ack");
              assert.deepEqual(
                await deployment.readObject(`${clientIdToHex(id)}/dialect.bin`),
                data,
              );
            }
            assert.equal((await registry.clientByName(name))?.dialect, profile.family);
          }
        },
      );

      await t.step(
        "clients racing for one name through both instances: one gets it",
        async () => {
          for (let round = 0; round < 8; round++) {
            const name = `Racer${round}`;
            const outcomes = await Promise.all([0, 1, 2, 3].map(async () => {
              const client = await RawClient.connect(lbPort);
              try {
                return (await signUp(client, name)).clientId;
              } catch {
                return undefined;
              } finally {
                client.close();
              }
            }));
            const winners = outcomes.filter((id) => id !== undefined);
            assert.equal(
              winners.length,
              1,
              `round ${round}: ${winners.length} clients got ${name}`,
            );
            assert.deepEqual((await registry.clientByName(name))?.id, winners[0]);
          }
          for (const instance of instances) {
            assert.ok(mentions(instance, "Registered Racer") > 0, `${instance.name} got no race`);
          }
        },
      );

      await t.step("operator commands list and forget through the shared engines", async () => {
        const clients = await operator<ClientRow[]>(deployment, "clients", "--json");
        const roamer = clients.find((client) => client.name === "Roamer");
        assert.equal(roamer?.files, 1);
        const files = await operator<FileRow[]>(
          deployment,
          "files",
          "Roamer",
          "--json",
        );
        const key = `${roamer!.id}/roam.txt`;
        assert.deepEqual(files.map((file) => file.path), [`s3://${BUCKET}/${key}`]);
        assert.ok(await deployment.readObject(key) !== undefined);
        await operator(deployment, "forget", "Roamer", "--delete-files");
        assert.equal(await deployment.readObject(key), undefined);
        assert.equal(await registry.clientByName("Roamer"), undefined);
        // The name is free again, for any instance.
        const client = await RawClient.connect(lbPort);
        try {
          await signUp(client, "Roamer");
        } finally {
          client.close();
        }
      });

      await t.step("one client's limits hold across instances", async () => {
        const quotaUrl = await deployment.pg.createDatabase("quotas");
        const servers = [];
        for (const name of ["q1", "q2"]) {
          const dir = join(root, name);
          const storage = await openStorage(dir, {
            registryUrl: quotaUrl,
            s3: s3Settings(deployment.s3, BUCKET),
          });
          servers.push(
            await startServer({ dir, host: "127.0.0.1", port: 0, storage, maxStoredFiles: 3 }),
          );
        }
        const quotaLb = await startHaproxy(servers.map((server) => server.port));
        const quotaRegistry = await PostgresRegistry.open(quotaUrl);
        try {
          const signup = await RawClient.connect(quotaLb.port);
          const identity = await signUp(signup, "Quota");
          signup.close();
          const codes = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => {
            const client = await RawClient.connect(quotaLb.port);
            try {
              const aesKey = await client.reconnect(
                identity.clientId,
                "Quota",
                identity.keys.privateKey,
              );
              const fileName = `file${i}.txt`;
              // Refused at its first packet when the uploads in progress (reserved, on
              // either instance) already fill the limit, else at most at commit.
              await client.send(
                await uploadBytes(
                  { clientId: identity.clientId, aesKey },
                  fileName,
                  new Uint8Array([i]),
                ),
              );
              const received = await client.readResponse();
              if (received.code !== ResponseCode.FileReceived) return received.code;
              await client.request(identity.clientId, { code: RequestCode.CrcOk, fileName });
              return (await client.readResponse()).code;
            } finally {
              client.close();
            }
          }));
          assert.equal(codes.filter((code) => code === ResponseCode.Ack).length, 3);
          assert.equal(codes.filter((code) => code === ResponseCode.GeneralError).length, 3);
          assert.deepEqual(await quotaRegistry.usage(identity.clientId), {
            files: 3,
            bytes: 3,
            partialBytes: 0,
          });
          const check = await S3FileStore.open({
            ...s3Settings(deployment.s3, BUCKET),
            liveness: soleInstance(),
          });
          try {
            assert.equal((await check.list(identity.clientId)).length, 3);
          } finally {
            await check.close();
          }
        } finally {
          await quotaRegistry.close();
          await quotaLb.stop();
          for (const server of servers) await server.close();
        }
      });

      await t.step(
        "an instance killed mid-upload leaves nothing; the retry succeeds",
        async () => {
          const name = "Survivor";
          const fileName = "big.bin";
          const size = 24 * 1024 * 1024;
          const signup = await RawClient.connect(lbPort);
          const identity = await signUp(signup, name);
          signup.close();
          const key = `${clientIdToHex(identity.clientId)}/${fileName}`;

          // Start an upload, and kill the instance serving it half-way through.
          const before = instances.map((i) => mentions(i, `Reconnected ${name}`));
          const doomed = await RawClient.connect(lbPort);
          const aesKey = await doomed.reconnect(
            identity.clientId,
            name,
            identity.keys.privateKey,
          );
          const victim = await servedBy(instances, `Reconnected ${name}`, before);
          const { frames } = uploadStream(identity.clientId, aesKey, fileName, size);
          let sent = 0;
          for await (const frame of frames) {
            await doomed.send(frame);
            sent += frame.length;
            if (sent > size / 2) break;
          }
          await waitUntil(
            "a multipart upload",
            () => deployment.stagedUploads().then((n) => n > 0),
          );
          victim.process.child.kill("SIGKILL");
          await victim.process.wait();
          doomed.close();

          assert.equal(await deployment.readObject(key), undefined, "a partial file is visible");
          assert.equal(await registry.file(identity.clientId, fileName), undefined);

          // The client tries again through the load balancer: the other instance serves it.
          const retry = await RawClient.connect(lbPort);
          try {
            const key2 = await retry.reconnect(identity.clientId, name, identity.keys.privateKey);
            const upload = uploadStream(identity.clientId, key2, fileName, size);
            for await (const frame of upload.frames) await retry.send(frame);
            const received = (await retry.expect(ResponseCode.FileReceived)).response as {
              cksum: number;
            };
            assert.equal(received.cksum, await upload.cksum);
            await retry.request(identity.clientId, { code: RequestCode.CrcOk, fileName });
            await retry.expect(ResponseCode.Ack);
          } finally {
            retry.close();
          }
          const stored = await deployment.readObject(key);
          assert.equal(stored?.length, size);
          const expected = new Uint8Array(size);
          fillPattern(expected, 0);
          assert.deepEqual(stored, expected);
          assert.equal((await registry.file(identity.clientId, fileName))?.size, size);

          // The killed instance comes back on its port and clears its dead upload.
          await deployment.startInstance(victim.name, instanceArgs(victim.port));
          assert.equal(await deployment.stagedUploads(), 0);
          const check = await S3FileStore.open({
            ...s3Settings(deployment.s3, BUCKET),
            liveness: soleInstance(),
          });
          try {
            assert.deepEqual(await check.list(identity.clientId), [fileName]);
          } finally {
            await check.close();
          }
        },
      );
    } finally {
      await registry.close();
    }
  },
});
