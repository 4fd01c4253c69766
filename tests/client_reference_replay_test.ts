/**
 * Our client against a fake server that answers with the reference server's
 * recorded responses (fixtures/*.s2c): what the client sends must be
 * byte-identical to the reference client's recording (*.c2s) wherever it is
 * deterministic. With the recorded 1605 (s2) the AES key is the recorded one,
 * so even the encrypted content must match.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bytesEqual,
  clientIdToHex,
  parseMeInfo,
  parsePrivateKey,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import {
  decryptContent,
  type FakePeer,
  makeSessionKey,
  startFakeServer,
} from "./support/fake_server.ts";
import { runClient } from "./support/client_process.ts";
import { readFixture, splitRequests, splitResponses } from "./support/golden_session.ts";

async function clientFolder(port: number, file: string, identity: boolean): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "client-replay-" });
  await Deno.writeFile(join(dir, file), await readFixture(file));
  await Deno.writeTextFile(join(dir, "transfer.info"), `127.0.0.1:${port}\nGolden User\n${file}\n`);
  if (identity) {
    // The reference client's own file name for me.info.
    await Deno.writeFile(join(dir, "info.me"), await readFixture("s1-info.me"));
    await Deno.writeFile(join(dir, "priv.key"), await readFixture("s1-priv.key"));
  }
  return dir;
}

/** Compares what the client sent with the recording, skipping public keys and content. */
async function assertSameRequests(
  sent: Uint8Array,
  recording: Uint8Array,
  sameContent: boolean,
): Promise<void> {
  const ours = await splitRequests(sent);
  const theirs = await splitRequests(recording);
  assert.deepEqual(ours.map((r) => r.header.code), theirs.map((r) => r.header.code));
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = theirs[i]!;
    if (sameContent) {
      assert.ok(bytesEqual(a.bytes, b.bytes), `request ${i} (${a.header.code}) differs`);
      continue;
    }
    assert.deepEqual(a.bytes.subarray(0, 23), b.bytes.subarray(0, 23), `header ${i}`);
    if (a.header.code === RequestCode.PublicKey) {
      assert.deepEqual(a.payload.subarray(0, 255), b.payload.subarray(0, 255), "826 name field");
      assert.equal(a.payload.length, b.payload.length);
    } else if (a.header.code === RequestCode.SendFile) {
      assert.deepEqual(
        a.packets.map((p) => p.headerBytes),
        b.packets.map((p) => p.headerBytes),
        "packet headers",
      );
    } else {
      assert.deepEqual(a.payload, b.payload, `payload ${i} (${a.header.code})`);
    }
  }
}

Deno.test("client replays s2: reconnect with the reference's info.me, byte-identical", async () => {
  const responses = await splitResponses(await readFixture("s2-reconnect.s2c"));
  const server = startFakeServer(async (peer) => {
    for (const response of responses) {
      assert.ok(await peer.read());
      await peer.send(response.bytes);
    }
    assert.equal(await peer.read(), null);
  });
  try {
    const dir = await clientFolder(server.port, "block16.bin", true);
    const run = await runClient(["--dir", dir, "--no-wait"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /confirmed block16\.bin/);
    await assertSameRequests(server.peers[0]!.bytes(), await readFixture("s2-reconnect.c2s"), true);
    await Deno.remove(dir, { recursive: true });
  } finally {
    await server.close();
  }
  assert.deepEqual(server.errors, []);
});

/** Answers 826 with a fresh key for the client's public key, like the reference would. */
async function answerPublicKey(peer: FakePeer, clientId: Uint8Array): Promise<Uint8Array> {
  const request = await peer.read();
  assert.equal(request?.code, RequestCode.PublicKey);
  const { raw, wrapped } = await makeSessionKey(request.payload.subarray(255));
  await peer.send({ code: ResponseCode.KeyAccepted, clientId, wrappedKey: wrapped });
  return raw;
}

Deno.test("client replays s1: first registration sends what the reference sent", async () => {
  const [registered, , received, ack] = await splitResponses(await readFixture("s1-register.s2c"));
  const sample = await readFixture("sample.bin");
  let plain: Uint8Array | undefined;
  const server = startFakeServer(async (peer) => {
    assert.equal((await peer.read())?.code, RequestCode.Register);
    await peer.send(registered!.bytes);
    const key = await answerPublicKey(peer, registered!.payload);
    const upload = await peer.read();
    plain = await decryptContent(key, upload!.content);
    await peer.send(received!.bytes);
    assert.equal((await peer.read())?.code, RequestCode.CrcOk);
    await peer.send(ack!.bytes);
  });
  try {
    const dir = await clientFolder(server.port, "sample.bin", false);
    const run = await runClient(["--dir", dir, "--no-wait", "--quiet"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.deepEqual(plain, sample);
    await assertSameRequests(server.peers[0]!.bytes(), await readFixture("s1-register.c2s"), false);
    const me = parseMeInfo(await Deno.readTextFile(join(dir, "me.info")));
    assert.equal(me.name, "Golden User");
    assert.equal(clientIdToHex(me.clientId), "2a3d65eef69243b7ae0d6f7ffe362c48");
    assert.deepEqual(
      parsePrivateKey(await Deno.readTextFile(join(dir, "priv.key"))),
      me.privateKeyDer,
    );
    await Deno.remove(dir, { recursive: true });
  } finally {
    await server.close();
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("client replays s3: 1606 text, then registers again on the same connection", async () => {
  const [denied, registered, , received, ack] = await splitResponses(
    await readFixture("s3-restart.s2c"),
  );
  const server = startFakeServer(async (peer) => {
    assert.equal((await peer.read())?.code, RequestCode.Reconnect);
    await peer.send(denied!.bytes); // "Sign in failed for 'Golden User'. Please register."
    assert.equal((await peer.read())?.code, RequestCode.Register);
    await peer.send(registered!.bytes);
    await answerPublicKey(peer, registered!.payload);
    assert.equal((await peer.read())?.code, RequestCode.SendFile);
    await peer.send(received!.bytes);
    assert.equal((await peer.read())?.code, RequestCode.CrcOk);
    await peer.send(ack!.bytes);
  });
  try {
    const dir = await clientFolder(server.port, "sample.bin", true);
    const run = await runClient(["--dir", dir, "--no-wait"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /1606/);
    await assertSameRequests(server.peers[0]!.bytes(), await readFixture("s3-restart.c2s"), false);
    const me = parseMeInfo(await Deno.readTextFile(join(dir, "me.info")));
    assert.equal(clientIdToHex(me.clientId), "3a140f887520492487daea867d7ea7cd");
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(join(dir, "me.info"))).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(join(dir, "priv.key"))).mode! & 0o777, 0o600);
    }
    await Deno.remove(dir, { recursive: true });
  } finally {
    await server.close();
  }
  assert.deepEqual(server.errors, []);
});
