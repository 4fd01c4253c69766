/**
 * The request table and its one dispatch: every step of `serveRequest` on a
 * scope that records what the connection would do, the reference dialect's
 * table per port, and a second dialect served by its own table.
 */

import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import {
  byteSourceOf,
  ExactReader,
  ProtocolError,
  type RequestHeader,
  type Response,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import type { ClientState } from "../server/session/connection_state.ts";
import {
  defineRequest,
  exactPayload,
  MAX_SKIPPED_PAYLOAD,
  requestTable,
  serveRequest,
} from "../server/session/request_table.ts";
import { referenceDialect } from "../server/session/reference_dialect.ts";
import type { RequestScope, SessionContext } from "../server/session/scope.ts";

/** A scope over `bytes` that records answers, rejections and dropped uploads. */
function recordingScope(bytes: Uint8Array, client: ClientState = { kind: "unsigned" }) {
  const record = {
    sent: [] as Response[],
    rejected: [] as Array<[number, string]>,
    forgotten: 0,
  };
  const scope: RequestScope = {
    context: {} as SessionContext,
    logger: getLogger(["test"]),
    reader: new ExactReader(byteSourceOf(bytes)),
    proofGate: undefined,
    client,
    setClient: () => {},
    setActivity: () => {},
    send: (response) => {
      record.sent.push(response);
      return Promise.resolve();
    },
    sendBytes: () => Promise.resolve(),
    reject: (code, reason) => {
      record.rejected.push([code, reason]);
      return Promise.resolve();
    },
    forgetUpload: () => {
      record.forgotten++;
      return Promise.resolve();
    },
    reserveUpload: () => Promise.resolve(undefined),
  };
  return { scope, record };
}

function header(code: number, payloadSize: number): RequestHeader {
  return { clientId: ZERO_CLIENT_ID, version: 3, code, payloadSize };
}

/** A table of one request, 4000, whose 2-byte payload is a number that must be below 100. */
function echoTable(served: number[]) {
  return requestTable([
    defineRequest({
      code: 4000,
      name: "echo",
      payloadSize: exactPayload(2, "request 4000"),
      decode: (payload) => {
        const value = payload[0]! + 256 * payload[1]!;
        if (value >= 100) {
          throw new ProtocolError(`Cannot decode request 4000: ${value} is 100 or more`);
        }
        return value;
      },
      handle: (_scope, value) => {
        served.push(value);
        return Promise.resolve();
      },
    }),
  ]);
}

const hooks = (resendDue = false) => ({
  endHeader: () => {},
  resendDue: () => resendDue,
});

Deno.test("the dispatch serves a known request through its decoder and handler", async () => {
  const served: number[] = [];
  const { scope, record } = recordingScope(new Uint8Array([7, 0]));
  assert.equal(await serveRequest(scope, echoTable(served), header(4000, 2), hooks()), true);
  assert.deepEqual(served, [7]);
  assert.deepEqual(record.rejected, []);
});

Deno.test("the dispatch refuses what its steps refuse, going on or closing as each says", async (t) => {
  await t.step("unknown code, small payload: 1607, skipped, goes on", async () => {
    const { scope, record } = recordingScope(new Uint8Array(10));
    assert.equal(await serveRequest(scope, echoTable([]), header(4001, 10), hooks()), true);
    assert.deepEqual(record.rejected, [[4001, "unknown request code 4001"]]);
  });
  await t.step("unknown code, payload over 4 KiB: 1607, closes", async () => {
    const { scope, record } = recordingScope(new Uint8Array(0));
    const closes = header(4001, MAX_SKIPPED_PAYLOAD + 1);
    assert.equal(await serveRequest(scope, echoTable([]), closes, hooks()), false);
    assert.equal(record.rejected.length, 1);
  });
  await t.step("payload size wrong for the code: ProtocolError, nothing read", async () => {
    const { scope } = recordingScope(new Uint8Array(0));
    await assert.rejects(
      serveRequest(scope, echoTable([]), header(4000, 3), hooks()),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.message === "Cannot accept request 4000: payload size 3 instead of 2",
    );
  });
  await t.step("payload that does not decode: 1607, goes on", async () => {
    const served: number[] = [];
    const { scope, record } = recordingScope(new Uint8Array([200, 0]));
    assert.equal(await serveRequest(scope, echoTable(served), header(4000, 2), hooks()), true);
    assert.deepEqual(served, []);
    assert.deepEqual(record.rejected, [[4000, "Cannot decode request 4000: 200 is 100 or more"]]);
  });
  await t.step(
    "a resend due: anything but the resend drops the upload, 1607, goes on",
    async () => {
      const served: number[] = [];
      const { scope, record } = recordingScope(new Uint8Array([7, 0]));
      assert.equal(
        await serveRequest(scope, echoTable(served), header(4000, 2), hooks(true)),
        true,
      );
      assert.deepEqual(served, []);
      assert.equal(record.forgotten, 1);
      assert.deepEqual(record.rejected, [[4000, "after 901 the next request must be 828"]]);
    },
  );
});

Deno.test("a table refuses two entries with one code", () => {
  const entry = defineRequest({
    code: 4000,
    name: "twice",
    payloadSize: exactPayload(0, "request 4000"),
    decode: () => undefined,
    handle: () => Promise.resolve(),
  });
  assert.throws(() => requestTable([entry, entry]), RangeError);
});

Deno.test("the reference dialect serves 850 on the plain port with secure mode, 851 on the secure port", async (t) => {
  const cases: Array<[string, Parameters<typeof referenceDialect>[0], number[], number[]]> = [
    ["plain, secure mode off", {}, [825, 826, 827, 828, 900, 901, 902], [850, 851]],
    ["plain, secure mode on", { discoveryAnswer: new Uint8Array(7) }, [825, 850], [851]],
    ["secure", { secure: true }, [825, 828, 851], [850]],
  ];
  for (const [name, port, served, unknown] of cases) {
    await t.step(name, () => {
      const { requests } = referenceDialect(port);
      for (const code of served) assert.ok(requests.has(code), `${code} is served`);
      for (const code of unknown) assert.ok(!requests.has(code), `${code} is unknown`);
    });
  }
});

Deno.test("a request of the reference dialect is decoded by its codec and served by its handler", async () => {
  const { requests } = referenceDialect({});
  const register = requests.get(825)!;
  const name = new Uint8Array(255);
  new TextEncoder().encodeInto("Alice", name);
  const signedIn: ClientState = {
    kind: "signed-in",
    client: { clientId: ZERO_CLIENT_ID, name: "Bob", aesKey: {} as CryptoKey },
  };
  const { scope, record } = recordingScope(name, signedIn);
  assert.equal(await serveRequest(scope, requests, header(825, 255), hooks()), true);
  assert.equal(register.name, "register");
  assert.deepEqual(record.rejected, [[825, "a client is already signed in on this connection"]]);
});
