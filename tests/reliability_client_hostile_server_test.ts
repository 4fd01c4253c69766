/**
 * The client against servers that go silent, stop reading, or send random
 * bytes: each ends with a clear error and a non-zero exit in bounded time,
 * never a hang. (Lying cksums, wrong codes, oversized payloads, truncated
 * responses and a wrapped key of the wrong length are in
 * client_misbehaving_server_test.ts.)
 */

import assert from "node:assert/strict";
import { encodeResponseHeader, RequestCode, type Response, ResponseCode } from "../protocol/mod.ts";
import { ClientError, ExitCode } from "../client/client_error.ts";
import { ServerConnection } from "../client/connection.ts";
import { type FakePeer, makeSessionKey, startFakeServer } from "./support/fake_server.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { concat } from "../harness/bytes.ts";
import { SeededRandom, within } from "./support/reliability.ts";

const TIMEOUT_ARGS = ["--timeout", "300", "--retries", "0"];

/** Runs the client against `script` with a short timeout; returns the run. */
async function runAgainst(
  script: (peer: FakePeer, release: Promise<void>) => Promise<void>,
  fileSize = 1000,
): Promise<Awaited<ReturnType<typeof runClient>>> {
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const server = startFakeServer((peer) => script(peer, release));
  const dir = await Deno.makeTempDir({ prefix: "client-hostile-" });
  try {
    await writeTransferInfo(dir, server.port, "Mallory", "f.bin", patternBytes(fileSize));
    return await within(
      "the client to give up",
      runClient(["--dir", dir, ...TIMEOUT_ARGS]),
      20_000,
    );
  } finally {
    resolve();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function assertTimedOut(run: Awaited<ReturnType<typeof runClient>>): void {
  assert.equal(run.code, ExitCode.Network, run.stderr);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /client: Cannot .*: the server made no progress for 0\.3 s/);
}

Deno.test("reliability: a server that accepts and never answers: exit 3 after the timeout", async () => {
  const run = await runAgainst(async (peer, release) => {
    await peer.read();
    await release;
  });
  assertTimedOut(run);
});

Deno.test("reliability: a server that stops reading mid-upload: exit 3 after the timeout", async () => {
  const run = await runAgainst(async (peer, release) => {
    await peer.read(); // 825
    await peer.send({ code: ResponseCode.Registered, clientId: new Uint8Array(16).fill(1) });
    const request = await peer.read(); // 826
    assert.equal(request?.code, RequestCode.PublicKey);
    const { wrapped } = await makeSessionKey(request.payload.slice(255));
    await peer.send({
      code: ResponseCode.KeyAccepted,
      clientId: new Uint8Array(16).fill(1),
      wrappedKey: wrapped,
    });
    await release; // never reads the 828: the client's writes fill the socket and stall
  }, 32_000_000);
  assertTimedOut(run);
  assert.match(run.stderr, /Cannot send f\.bin/);
});

Deno.test("reliability: random response bytes: every read ends in a decoded response or a ClientError", async () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? 0xc11e) >>> 0;
  console.log(`fuzz seed ${seed} (set FUZZ_SEED=${seed} to replay)`);
  const rng = new SeededRandom(seed);
  const codes = [1600, 1601, 1602, 1603, 1604, 1605, 1606, 1607, 0, 1599, 1608, 0xffff];
  const sizes = [0, 1, 16, 143, 144, 145, 279, 280, 1024, 1025, 0xffff_ffff];
  const frames = Array.from({ length: 1500 }, () => {
    const size = rng.below(3) === 0 ? rng.u32() : rng.pick(sizes);
    const header = encodeResponseHeader(rng.pick(codes), size);
    if (rng.below(5) === 0) header[0] = rng.u32() & 0xff; // version
    const payload = rng.bytes(Math.min(size, rng.below(400)));
    const bytes = concat([header, payload]);
    return rng.below(4) === 0 ? bytes.subarray(0, rng.below(bytes.length)) : bytes;
  });
  // Most connections then close; every tenth goes silent: the client must end either way.
  // The reader below sends nothing, not even the secure mode's discovery:
  // the script speaks first.
  const server = startFakeServer(async (peer, index) => {
    await peer.send(frames[index]!);
    if (index % 10 === 9) await peer.read().catch(() => {});
  }, { seeDiscovery: true });
  const outcomes = new Map<string, number>();
  const readAll = async (): Promise<void> => {
    const connection = await ServerConnection.open("127.0.0.1", server.port, 100);
    try {
      let response: Response | undefined;
      for (let n = 0; n < 100; n++) response = await connection.receive();
      assert.fail(`100 responses decoded from one frame: ${response?.code}`);
    } catch (error) {
      if (!(error instanceof ClientError)) throw error;
      assert.ok(
        error.exitCode === ExitCode.Network || error.exitCode === ExitCode.Rejected,
        `exit code ${error.exitCode}`,
      );
      assert.match(error.message, /^Cannot .+: .+\. [A-Z]/);
      const kind = `${error.exitCode}`;
      outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    } finally {
      connection.close();
    }
  };
  try {
    // One connection at a time, so the fake server's n-th connection gets frame n.
    for (let i = 0; i < frames.length; i++) await readAll();
  } finally {
    await server.close();
  }
  console.log(`outcomes by exit code: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.ok((outcomes.get("3") ?? 0) > 0 && (outcomes.get("4") ?? 0) > 0);
});
