import assert from "node:assert/strict";
import { ClientError } from "../client/client_error.ts";
import { discoverSecureMode } from "../client/tls_discovery.ts";
import {
  DISCOVERY_REQUEST_CODE,
  encodeDiscoveryRequest,
  encodeDiscoveryResponse,
} from "../protocol/discovery.ts";
import { encodeResponseHeader } from "../protocol/header.ts";
import { ResponseCode } from "../protocol/constants.ts";
import { type FakePeer, startFakeServer } from "./support/fake_server.ts";
import { delay } from "./support/reliability.ts";

const CERTIFICATE = crypto.getRandomValues(new Uint8Array(300));

async function discoverFrom(script: (peer: FakePeer) => Promise<void>, timeoutMs = 5000) {
  const server = startFakeServer(script, { seeDiscovery: true });
  try {
    const result = await discoverSecureMode("127.0.0.1", server.port, timeoutMs);
    // Discovery is the first and only thing on its connection, and carries nothing else.
    assert.equal(server.peers.length, 1);
    assert.deepEqual(server.peers[0]!.bytes().subarray(0, 23), encodeDiscoveryRequest());
    return result;
  } finally {
    await server.close();
  }
}

Deno.test("discovery reads the offer of a server with the secure mode", async () => {
  const result = await discoverFrom(async (peer) => {
    const request = await peer.readHeader();
    assert.equal(request?.code, DISCOVERY_REQUEST_CODE);
    assert.deepEqual(request?.clientId, new Uint8Array(16));
    assert.equal(request?.payloadSize, 0);
    await peer.send(encodeDiscoveryResponse({ securePort: 4321, certificate: CERTIFICATE }));
  });
  assert.deepEqual(result.offer, { securePort: 4321, certificate: CERTIFICATE });
});

Deno.test("no offer from servers without the secure mode", async (t) => {
  const cases: [string, (peer: FakePeer) => Promise<void>, RegExp, number?][] = [
    [
      "closes on the unknown code, as the reference does",
      async (peer) => void await peer.readHeader(),
      /closed the connection/,
    ],
    [
      "answers 1607, as an older server of ours does",
      (peer) =>
        peer.readHeader().then(() =>
          peer.send({ code: ResponseCode.GeneralError, text: "unknown" })
        ),
      /answered the discovery request with 1607/,
    ],
    [
      "stays silent",
      (peer) => peer.readHeader().then(() => delay(600)),
      /did not answer the discovery request in 0.3 s/,
      300,
    ],
  ];
  for (const [name, script, reason, timeout] of cases) {
    await t.step(name, async () => {
      const result = await discoverFrom(script, timeout);
      assert.equal(result.offer, undefined);
      assert.match(result.reason!, reason);
    });
  }
});

Deno.test("a malformed offer, or no server at all, is an error", async () => {
  await assert.rejects(
    () =>
      discoverFrom(async (peer) => {
        await peer.readHeader();
        const frame = encodeDiscoveryResponse({ securePort: 4321, certificate: CERTIFICATE });
        frame[7] = 9; // secure mode version 9
        await peer.send(frame);
      }),
    (error: Error) => error instanceof ClientError && error.exitCode === 4,
  );
  await assert.rejects(
    () =>
      discoverFrom(async (peer) => {
        await peer.readHeader();
        await peer.send(encodeResponseHeader(1650, 100_000)); // far beyond a certificate
      }),
    (error: Error) => error instanceof ClientError && error.exitCode === 4,
  );
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  await assert.rejects(
    () => discoverSecureMode("127.0.0.1", port, 1000),
    (error: Error) => error instanceof ClientError && error.exitCode === 3,
  );
});
