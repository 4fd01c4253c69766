/**
 * A refused upload lets go of its size reservation when the refusal is
 * answered, as a refused 828 does. Before, an 853 (send at, docs/protocol.md
 * §13.4) whose packets carried another size than it announced was answered
 * 1607 but kept its reservation until the connection's next request or its
 * end: while that connection stayed open, the client's staged bytes showed
 * the announced size, and another connection of the same client was refused
 * an upload that fitted its limits. A dialect upload whose store failed kept
 * its reservation the same way.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeFileNameField, RequestCode, ResponseCode } from "../protocol/mod.ts";
import {
  encodeSendAtRequest,
  SEND_AT_RESPONSE_CODE,
  SEND_AT_RESPONSE_SIZE,
} from "../protocol/transfers.ts";
import { buildPackets, encryptContent, randomBytes } from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { openLocalStorage, type Storage } from "../server/storage/storage.ts";
import type { FileStore } from "../server/storage/file_store.ts";
import { A_AYALA, DialectClient } from "../harness/dialect_client.ts";
import { generateRsaKeyPair } from "../protocol/mod.ts";
import { withServer } from "./support/test_server.ts";
import { within } from "./support/reliability.ts";
import { signInAgain, signUpSecurely } from "./support/secure_client.ts";

/** The client's limit: the 853's announced size fits, and so does the next upload, not both. */
const LIMIT = 1000;
const ANNOUNCED = 800;
const NEXT = 500;

Deno.test("a refused 853 releases its reservation at once: no staged bytes while its connection stays open, and the client's next upload fits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "send_at_refusal_" });
  const storage = await openLocalStorage(dir);
  try {
    await withServer(async (test) => {
      const signed = await signUpSecurely(test, "Refused");
      const { client, identity } = signed;
      using _ = client;
      // 853 announces 800 bytes from 0; its packets carry 100: refused.
      await client.send(encodeSendAtRequest(identity.clientId, {
        size: ANNOUNCED,
        offset: 0,
        prefixSha256: new Uint8Array(32),
        path: "docs/a.bin",
      }));
      const goAhead = await within(
        "the 1653",
        client.readFrame((code) =>
          code === SEND_AT_RESPONSE_CODE ? SEND_AT_RESPONSE_SIZE : undefined
        ),
        10_000,
      );
      assert.equal(goAhead?.code, SEND_AT_RESPONSE_CODE);
      const data = randomBytes(100);
      const content = await encryptContent(null, data);
      await client.send(concat(buildPackets(content, data.length, encodeFileNameField("a.bin"))));
      const text = await within("the 1607", client.expectError(), 10_000);
      assert.match(text, /the packets carry 100 bytes, not the 800 announced/);

      // The refused connection stays open; its client holds nothing staged.
      const [row] = (await storage.registry.listClients()).filter((c) => c.name === "Refused");
      assert.equal(row?.stagedBytes, 0, "the refused 853's reservation is released");

      // Another connection of the same client: 500 bytes fit only without the 800 reserved.
      using other = await signInAgain(test, signed);
      const received = await within(
        "the next upload's 1603",
        other.upload(identity.clientId, null, "next.bin", randomBytes(NEXT)),
        10_000,
      );
      assert.deepEqual(received.fileNameField, encodeFileNameField("next.bin"));
      await other.request(identity.clientId, { code: RequestCode.CrcOk, fileName: "next.bin" });
      await within("the 1604", other.expect(ResponseCode.Ack), 10_000);
    }, { dir, storage, maxStoredBytes: LIMIT });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `storage` whose file store cannot begin a staged file (a full disk, say). */
function failingToStage(storage: Storage): Storage {
  const store = storage.store;
  const wrapped: FileStore = Object.create(store);
  for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    const value = (store as unknown as Record<string, unknown>)[method];
    if (method === "constructor" || typeof value !== "function") continue;
    (wrapped as unknown as Record<string, unknown>)[method] = value.bind(store);
  }
  wrapped.begin = () => Promise.reject(new Error("no space left on the test's device"));
  return { ...storage, store: wrapped };
}

Deno.test("a dialect upload whose store failed releases its reservation at once: no staged bytes while its connection stays open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dialect_store_failed_" });
  const storage = await openLocalStorage(dir);
  try {
    await withServer(async ({ port }) => {
      const keys = await generateRsaKeyPair();
      using client = await DialectClient.connect(port, A_AYALA);
      const id = await client.register("Failed");
      const aesKey = await client.sendPublicKey(id, "Failed", keys);
      const field = encodeFileNameField("a.bin");
      await client.send(await client.uploadBytes(id, aesKey, field, randomBytes(ANNOUNCED)));
      const answer = await within("the 1607", client.readAnswer(), 10_000);
      assert.equal(answer.response.meaning, "generalError");
      const [row] = (await storage.registry.listClients()).filter((c) => c.name === "Failed");
      assert.equal(row?.stagedBytes, 0, "the failed upload's reservation is released");
    }, { dir, storage: failingToStage(storage), maxStoredBytes: LIMIT });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
