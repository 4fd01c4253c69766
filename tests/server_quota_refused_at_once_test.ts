/**
 * Issue 17, "refused at once with 1607 when it does not fit": an upload over
 * the client's limits is answered 1607 as soon as its first packet (or, in
 * the other dialects, its head) is read, before the rest of it is sent; the
 * server then reads the rest of the declared upload and drops it, so the
 * next request on the connection is served as before. On the plain port, on
 * the secure port, and in every dialect family.
 */

import assert from "node:assert/strict";
import {
  encodeFileNameField,
  generateRsaKeyPair,
  REQUEST_HEADER_SIZE,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import { PACKET_HEADER_SIZE } from "../protocol/constants.ts";
import { A_AYALA, B_B0RIK, C_AVIV, D_H3NGO1U, DialectClient } from "../harness/dialect_client.ts";
import { randomBytes, RawClient, signUp, uploadBytes } from "../harness/raw_client.ts";
import { type TestServer, withServer } from "./support/test_server.ts";
import { within } from "./support/reliability.ts";
import { secureClient, signUpProven } from "./support/secure_client.ts";

/** The over-quota upload: large enough that the server cannot have read it all from the first part. */
const OVER = 3 * 1024 * 1024;
/** How long the early 1607 may take: it needs no more than the first packet. */
const ANSWER_MS = 5_000;

/** A signed-in raw client on the plain port, or on the secure one with its key proven. */
async function signedIn(test: TestServer, secure: boolean, name: string) {
  const keys = await generateRsaKeyPair();
  if (!secure) {
    const client = await RawClient.connect(test.port);
    return { client, me: await signUp(client, name, keys), contentKey: "aes" as const };
  }
  const client = await secureClient(test);
  const me = await signUpProven(client, name, test.server.fingerprint!, keys);
  return { client, me, contentKey: null };
}

Deno.test("quota: an upload over the limit gets its 1607 before the rest is sent; the rest is read and the next request served", async (t) => {
  await withServer(async (test) => {
    for (const secure of [false, true]) {
      await t.step(secure ? "secure port" : "plain port", async () => {
        const { client, me, contentKey } = await signedIn(test, secure, `Early ${secure}`);
        using _ = client;
        const identity = { ...me, aesKey: contentKey === null ? null : me.aesKey };
        const wire = await uploadBytes(identity, "big.bin", randomBytes(OVER));
        // The request header and the first packet's header: what the check needs.
        const firstPart = REQUEST_HEADER_SIZE + PACKET_HEADER_SIZE + 100;
        await client.send(wire.subarray(0, firstPart));
        const text = await within("the early 1607", client.expectError(), ANSWER_MS);
        assert.match(text, /Cannot store big\.bin: .*past the/);
        // The rest of the upload, which the server reads and drops; then the next request.
        await within("the rest to be taken", client.send(wire.subarray(firstPart)), 30_000);
        const small = await within(
          "the next upload's 1603",
          client.upload(me.clientId, identity.aesKey, "small.bin", randomBytes(100)),
          30_000,
        );
        assert.deepEqual(small.fileNameField, encodeFileNameField("small.bin"));
        await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "small.bin" });
        await within("the 1604", client.expect(ResponseCode.Ack), 10_000);
      });
    }
  }, { maxStoredBytes: 1024 * 1024 });
});

Deno.test("dialect quotas: an upload over the limit is refused at its head, before the rest is sent, in every family", async (t) => {
  await withServer(async ({ port }) => {
    for (const profile of [A_AYALA, B_B0RIK, C_AVIV, D_H3NGO1U]) {
      await t.step(profile.label, async () => {
        const keys = await generateRsaKeyPair();
        using client = await DialectClient.connect(port, profile);
        const name = `Early ${profile.label}`;
        const id = await client.register(name);
        const aesKey = await client.sendPublicKey(id, name, keys);
        const field = encodeFileNameField("big.bin");
        const wire = await client.uploadBytes(id, aesKey, field, randomBytes(OVER));
        // Every family's head (and a per-packet upload's first packet header) is in the first 400 bytes.
        const firstPart = 400;
        await client.send(wire.subarray(0, firstPart));
        const refused = await within("the early refusal", client.readAnswer(), ANSWER_MS);
        assert.equal(refused.response.meaning, "generalError");
        await within("the rest to be taken", client.send(wire.subarray(firstPart)), 30_000);
        const small = encodeFileNameField("small.bin");
        await within(
          "the next upload",
          client.upload(id, aesKey, small, randomBytes(100)),
          30_000,
        );
        assert.equal((await client.verdict(id, "crcOk", small))?.response.meaning, "ack");
      });
    }
  }, { maxStoredBytes: 1024 * 1024 });
});
