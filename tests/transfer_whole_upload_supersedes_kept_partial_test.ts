/**
 * A whole upload (828) of a path whose cut upload was kept for a resume
 * supersedes what was kept when it commits, on the plain port as on the
 * secure one (docs/protocol.md §13.4), and counts once meanwhile: its
 * reservation stands for the kept bytes. Before, the ports differed: the
 * secure port's 828 dropped the kept bytes at its start (an 828 then given
 * up, 902, lost them), and the plain port's 828 left them and counted both
 * (a client whose kept bytes and new upload passed its limit was refused,
 * though the upload replaces them).
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeFileNameField, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { randomBytes, RawClient, signUp } from "../harness/raw_client.ts";
import { A_AYALA, DialectClient } from "../harness/dialect_client.ts";
import { generateRsaKeyPair } from "../protocol/mod.ts";
import { openLocalStorage, type Storage } from "../server/storage/storage.ts";
import type { ClientId } from "../protocol/mod.ts";
import { type TestServer, withServer } from "./support/test_server.ts";
import { within } from "./support/reliability.ts";
import { signUpSecurely } from "./support/secure_client.ts";

/** The client's limit: the kept bytes fit, and so does the new upload, not both. */
const LIMIT = 10_000;
const KEPT = 6_000;
const NEW = 5_000;
const PATH = "p.bin";

/** What a cut upload of `PATH` kept for a resume: KEPT bytes of a larger file. */
async function keepPartial(storage: Storage, clientId: ClientId): Promise<void> {
  const staged = await storage.store.begin(clientId, PATH);
  await staged.write(randomBytes(KEPT));
  const kept = await staged.suspend();
  await storage.registry.keepPartial({
    clientId,
    fileName: PATH,
    stagingRef: staged.stagingRef,
    size: 2 * KEPT,
    received: kept.length,
    prefixSha256: kept.digests?.sha256 ?? null,
    prefixCrc: kept.digests?.crc ?? null,
    instanceId: "earlier",
    keptAt: Date.now(),
  });
}

/** A signed-in client on the plain port, or a proven one on the secure port. */
async function signedIn(test: TestServer, secure: boolean, name: string) {
  if (secure) {
    const { client, identity } = await signUpSecurely(test, name);
    return { client, clientId: identity.clientId, aesKey: null };
  }
  const client = await RawClient.connect(test.port);
  const identity = await signUp(client, name);
  return { client, clientId: identity.clientId, aesKey: identity.aesKey };
}

async function usage(storage: Storage, name: string) {
  const [row] = (await storage.registry.listClients()).filter((c) => c.name === name);
  const partials = (await storage.registry.listPartials()).filter((p) =>
    p.fileName === PATH && row !== undefined && p.clientId.every((b, i) => b === row.id[i])
  );
  return { bytes: row?.bytes, partialBytes: row?.partialBytes, partials: partials.length };
}

Deno.test("an 828 of a path with kept bytes fits beside them, leaves them when given up (902), and drops them when it commits, on both ports and in a dialect", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "supersedes_partial_" });
  const storage = await openLocalStorage(dir);
  try {
    await withServer(async (test) => {
      for (const secure of [false, true]) {
        await t.step(secure ? "secure port" : "plain port", async () => {
          const name = `Kept ${secure ? "secure" : "plain"}`;
          const { client, clientId, aesKey } = await signedIn(test, secure, name);
          using _ = client;
          await keepPartial(storage, clientId);
          const field = encodeFileNameField(PATH);

          // Kept + new is over the limit; the new upload replaces the kept bytes: it fits.
          const first = await within(
            "the first 828's 1603",
            client.upload(clientId, aesKey, PATH, randomBytes(NEW)),
            10_000,
          );
          assert.deepEqual(first.fileNameField, field);
          assert.deepEqual(await usage(storage, name), {
            bytes: 0,
            partialBytes: KEPT,
            partials: 1,
          }, "the kept bytes stay while the 828 awaits its verdict");
          // Given up: what was kept is still there for a resume.
          await client.request(clientId, { code: RequestCode.CrcAbort, fileName: PATH });
          await within("the 902's 1604", client.expect(ResponseCode.Ack), 10_000);
          assert.deepEqual(await usage(storage, name), {
            bytes: 0,
            partialBytes: KEPT,
            partials: 1,
          }, "an 828 given up leaves what was kept");

          // Committed: the stored file supersedes what was kept.
          await within(
            "the second 828's 1603",
            client.upload(clientId, aesKey, PATH, randomBytes(NEW)),
            10_000,
          );
          await client.request(clientId, { code: RequestCode.CrcOk, fileName: PATH });
          await within("the 900's 1604", client.expect(ResponseCode.Ack), 10_000);
          assert.deepEqual(await usage(storage, name), {
            bytes: NEW,
            partialBytes: 0,
            partials: 0,
          }, "the committed 828 dropped what was kept");
        });
      }
      await t.step("a dialect's upload (family A)", async () => {
        const name = "Kept dialect";
        using client = await DialectClient.connect(test.port, A_AYALA);
        const clientId = await client.register(name);
        const aesKey = await client.sendPublicKey(clientId, name, await generateRsaKeyPair());
        await keepPartial(storage, clientId);
        const field = encodeFileNameField(PATH);
        await within(
          "the upload's answer",
          client.upload(clientId, aesKey, field, randomBytes(NEW)),
          10_000,
        );
        assert.deepEqual(await usage(storage, name), { bytes: 0, partialBytes: KEPT, partials: 1 });
        const aborted = await within(
          "the abort's answer",
          client.verdict(clientId, "crcAbort", field),
          10_000,
        );
        assert.equal(aborted?.response.meaning, "ack");
        assert.deepEqual(await usage(storage, name), { bytes: 0, partialBytes: KEPT, partials: 1 });
        await within(
          "the upload's answer",
          client.upload(clientId, aesKey, field, randomBytes(NEW)),
          10_000,
        );
        const stored = await within(
          "the commit's answer",
          client.verdict(clientId, "crcOk", field),
          10_000,
        );
        assert.equal(stored?.response.meaning, "ack");
        assert.deepEqual(await usage(storage, name), { bytes: NEW, partialBytes: 0, partials: 0 });
      });
    }, { dir, storage, maxStoredBytes: LIMIT });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
