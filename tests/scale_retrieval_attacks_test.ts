/**
 * The download budget where the store streams from S3 (PostgreSQL + S3
 * behind HAProxy): a download whose reader stops is cut off at the request
 * deadline and its slot freed, its object stream closed with it (the test's
 * resource sanitizer sees no stream left open), and the server then serves
 * the same file whole.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  decodeFileHeader,
  encodeGetRequest,
  generateRsaKeyPair,
  maxRetrievalPayloadSize,
  NO_SHA256,
  RequestCode,
  ResponseCode,
  Sha256,
} from "../protocol/mod.ts";
import { readServerIdentity } from "../server/identity/tls_identity.ts";
import { type RunningServer, startServer } from "../server/server.ts";
import { openStorage } from "../server/storage/storage_selection.ts";
import { RawClient } from "../harness/raw_client.ts";
import { patternBytes } from "./support/client_process.ts";
import { waitUntil } from "./support/reliability.ts";
import { proveKey } from "./support/secure_client.ts";
import { type HaproxyService, ignoreWithoutServices, startHaproxy } from "./support/services.ts";
import { s3Settings, ScaleDeployment } from "./support/scale_deployment.ts";

const BUCKET = "retrieval-attacks";

function openConnections(server: RunningServer): number {
  return Object.values(server.connectionStates()).reduce((a, b) => a + b, 0);
}

Deno.test({
  name:
    "retrieval attack on S3 behind HAProxy: a stopped reader is cut, its slot and object stream freed",
  ignore: ignoreWithoutServices("retrieval attacks on S3", ["postgres", "s3", "haproxy"]),
  async fn() {
    await using deployment = await ScaleDeployment.start({
      prefix: "scale_retrieval_attacks_",
      bucket: BUCKET,
      database: "retrieval_attacks",
    });
    const dir = deployment.root;
    let lb: HaproxyService | undefined;
    let server: RunningServer | undefined;
    try {
      const storage = await openStorage(dir, {
        registryUrl: deployment.registryUrl,
        s3: s3Settings(deployment.s3, BUCKET),
      });
      server = await startServer({
        dir,
        host: "127.0.0.1",
        port: 0,
        storage,
        idleTimeoutMs: 60_000,
        requestTimeoutMs: 1500,
        headerTimeoutMs: 1500,
      });
      lb = await startHaproxy([{ port: server.port, securePort: server.securePort! }]);
      const identity = await readServerIdentity(dir);
      assert.ok(identity !== undefined);
      const connect = () => RawClient.connectSecure(lb!.securePort!, identity.certificate);

      using owner = await connect();
      const name = "S3 Owner";
      const clientId = await owner.register(name);
      const keys = await generateRsaKeyPair();
      const aesKey = await owner.sendPublicKey(clientId, name, keys);
      const prove = (client: RawClient, key: Uint8Array) =>
        proveKey(client, clientId, key, server!.fingerprint!);
      await prove(owner, aesKey);
      const data = patternBytes(48 * 1024 * 1024, 9);
      await owner.upload(clientId, null, "big.bin", data);
      await owner.request(clientId, { code: RequestCode.CrcOk, fileName: "big.bin" });
      await owner.expect(ResponseCode.Ack);
      const ask = (client: RawClient) =>
        client.send(
          encodeGetRequest(clientId, { path: "big.bin", offset: 0, ifSha256: NO_SHA256 }),
        );

      {
        using stopped = await connect();
        await prove(stopped, await stopped.reconnect(clientId, name, keys.privateKey));
        await ask(stopped);
        await waitUntil("the two connections", () => openConnections(server!) === 2, 10_000);
        // Never read: only the request deadline (1.5 s; idle is 60 s) can free it.
        await waitUntil(
          "the stopped download's slot to be freed",
          () => openConnections(server!) === 1,
          20_000,
        );
      }

      await ask(owner);
      const first = await owner.readFrame(maxRetrievalPayloadSize);
      const header = decodeFileHeader(first!.payload);
      const sha = new Sha256();
      for (let received = 0; received < header.size;) {
        const chunk = await owner.readFrame(maxRetrievalPayloadSize);
        assert.ok(chunk !== null);
        sha.update(chunk.payload);
        received += chunk.payload.length;
      }
      assert.deepEqual(sha.digest(), header.sha256);
    } finally {
      await server?.close();
      await lb?.stop();
    }
  },
});
