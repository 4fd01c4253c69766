/**
 * A `ServerConnection` over a real socket: its dialect is chosen per
 * connection from the first request header (a second table, not branches),
 * and its busy / idle / signed-in views follow its state.
 */

import assert from "node:assert/strict";
import {
  decodeResponse,
  encodeRequestHeader,
  ExactReader,
  readResponseFrame,
  type Response,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { writeAll } from "../common/write_all.ts";
import { TimedConn } from "../server/net/timed_conn.ts";
import { type ConnectionOptions, ServerConnection } from "../server/session/connection.ts";
import { manualClock } from "../server/session/deadlines.ts";
import { referenceDialect } from "../server/session/reference_dialect.ts";
import {
  defineRequest,
  type Dialect,
  exactPayload,
  requestTable,
} from "../server/session/request_table.ts";
import type { SessionContext } from "../server/session/scope.ts";
import { encodeResponse } from "../protocol/mod.ts";

const DEADLINE_MS = 10_000;

/** A dialect of one request, 4000, answered with 1604. */
const PING_DIALECT: Dialect = {
  name: "ping",
  requests: requestTable([
    defineRequest({
      code: 4000,
      name: "ping",
      payloadSize: exactPayload(0, "request 4000"),
      decode: () => undefined,
      handle: (scope, _request, header) =>
        scope.send({ code: ResponseCode.Ack, clientId: header.clientId }),
    }),
  ]),
  encodeResponse: (response: Response) => encodeResponse(response),
};

/** One connection served by a `ServerConnection`, and the client's end of it. */
async function connected(more: Partial<ConnectionOptions> = {}): Promise<
  { server: ServerConnection; client: Deno.TcpConn; served: Promise<void> }
> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const clientConn = Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const accepted = await listener.accept();
  const server = new ServerConnection(new TimedConn(accepted, { idleMs: DEADLINE_MS }), {
    id: 1,
    peer: "test",
    context: {} as SessionContext,
    dialects: (first) => first.code === 4000 ? PING_DIALECT : referenceDialect({}),
    signInTimeoutMs: DEADLINE_MS,
    ...more,
  });
  return { server, client: await clientConn, served: server.run() };
}

/** Waits (boundedly) until `server` waits for the next request, idle. */
async function waitingForRequest(server: ServerConnection): Promise<void> {
  for (let i = 0; i < 500 && !server.betweenRequests; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(server.betweenRequests, "the connection waits for a request");
}

async function ask(client: Deno.TcpConn, code: number, payload = new Uint8Array(0)) {
  await writeAll(client, encodeRequestHeader(ZERO_CLIENT_ID, code, payload.length));
  await writeAll(client, payload);
  const frame = await readResponseFrame(new ExactReader(client));
  return decodeResponse(frame.header.code, frame.payload);
}

Deno.test("each connection is served in the dialect its first request chose", async (t) => {
  await t.step("first request 4000: the ping dialect serves it, and only it", async () => {
    const { server, client, served } = await connected();
    try {
      assert.equal((await ask(client, 4000)).code, ResponseCode.Ack);
      const refused = await ask(client, 902, new Uint8Array(255));
      assert.deepEqual(refused, {
        code: ResponseCode.GeneralError,
        text: "unknown request code 902",
      });
    } finally {
      client.close();
      await served;
    }
    assert.equal(server.busy, false);
  });
  await t.step(
    "first request 902: the reference dialect serves it; 4000 is unknown there",
    async () => {
      const { client, served } = await connected();
      try {
        const refused = await ask(client, 902, new Uint8Array(255));
        assert.deepEqual(refused, {
          code: ResponseCode.GeneralError,
          text: "no file received on this connection awaits a verdict",
        });
        assert.deepEqual(await ask(client, 4000), {
          code: ResponseCode.GeneralError,
          text: "unknown request code 4000",
        });
      } finally {
        client.close();
        await served;
      }
    },
  );
});

Deno.test("a waiting connection is idle, not busy, not signed in, and a shutdown ends it at once", async () => {
  const { server, client, served } = await connected();
  try {
    assert.equal((await ask(client, 4000)).code, ResponseCode.Ack);
    await waitingForRequest(server);
    assert.equal(server.betweenRequests, true);
    assert.equal(server.busy, false);
    assert.equal(server.activity, undefined);
    assert.equal(server.signedIn, false);
    server.shutdown();
    const ended = await Promise.race([
      served.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), DEADLINE_MS)),
    ]);
    assert.equal(ended, true);
    assert.equal(await client.read(new Uint8Array(1)), null);
  } finally {
    client.close();
    await served;
  }
});

Deno.test("the sign-in deadline evicts a connection nobody signed in on, and frees its slot at once", async () => {
  const clock = manualClock();
  let evictions = 0;
  const { server, client, served } = await connected({
    clock,
    signInTimeoutMs: 15_000,
    onEvicted: () => evictions++,
  });
  try {
    assert.equal((await ask(client, 4000)).code, ResponseCode.Ack);
    await waitingForRequest(server);
    clock.advance(14_999);
    assert.equal(evictions, 0);
    clock.advance(1);
    assert.equal(evictions, 1);
    assert.equal(await client.read(new Uint8Array(1)), null, "the server closed it");
    await served;
    assert.equal(server.signedIn, false);
    assert.equal(clock.pending, 0, "no timer left behind");
  } finally {
    client.close();
    await served;
  }
});
