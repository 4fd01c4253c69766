/**
 * The client never destroys an identity: a server that answers 827 with 1606
 * (a malicious one, or one that lost its database) makes it register again,
 * but the old me.info and priv.key are moved aside under names that carry
 * the old client id, and the client says so in one line. The same for a
 * priv.key without a me.info.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CLIENT_ID_SIZE,
  clientIdToHex,
  parseMeInfo,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import {
  contentTrailer,
  type FakePeer,
  makeSessionKey,
  startFakeServer,
} from "./support/fake_server.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { readFixture, readFixtureText } from "./support/golden_session.ts";
import { listNames } from "./support/reliability.ts";

const GOLDEN_ID = "2a3d65eef69243b7ae0d6f7ffe362c48";

/** Registers whoever asks, with a fresh id each time, and accepts one upload. */
async function registerAndAccept(peer: FakePeer, clientId: Uint8Array): Promise<void> {
  let request = await peer.read();
  if (request?.code === RequestCode.Reconnect) {
    // The malicious answer: "I do not know you, register again".
    await peer.send({
      code: ResponseCode.ReconnectDenied,
      text: "Sign in failed. Please register.",
    });
    request = await peer.read();
  }
  assert.equal(request?.code, RequestCode.Register);
  await peer.send({ code: ResponseCode.Registered, clientId });
  const key = await peer.read();
  const { wrapped } = await makeSessionKey(key!.payload.slice(255));
  await peer.send({ code: ResponseCode.KeyAccepted, clientId, wrappedKey: wrapped });
  const upload = await peer.read();
  await peer.send({
    code: ResponseCode.FileReceived,
    clientId,
    contentSize: upload!.content.length,
    fileNameField: new Uint8Array(255),
    cksum: contentTrailer(upload!.content),
  });
  await peer.read();
  await peer.send({ code: ResponseCode.Ack, clientId });
}

Deno.test("a 1606 from a malicious server: the old me.info and priv.key are kept, named by their id", async () => {
  const ids = [
    new Uint8Array(CLIENT_ID_SIZE).fill(0xa1),
    new Uint8Array(CLIENT_ID_SIZE).fill(0xb2),
  ];
  const server = startFakeServer((peer, index) => registerAndAccept(peer, ids[index]!));
  const dir = await Deno.makeTempDir({ prefix: "client-identity-kept-" });
  try {
    await writeTransferInfo(dir, server.port, "Golden User", "f.bin", patternBytes(100));
    await Deno.writeFile(join(dir, "me.info"), await readFixture("s1-info.me"));
    await Deno.writeFile(join(dir, "priv.key"), await readFixture("s1-priv.key"));

    const first = await runClient(["--dir", dir, "--quiet"]);
    assert.equal(first.code, 0, first.stderr);
    const kept = `client: kept the identity this registration replaces (id ${GOLDEN_ID}) as ` +
      `${join(dir, `me.info.${GOLDEN_ID}.old`)} and ${join(dir, `priv.key.${GOLDEN_ID}.old`)}\n`;
    assert.equal(first.stderr, kept, "one line, even with --quiet");
    assert.equal(
      await Deno.readTextFile(join(dir, `me.info.${GOLDEN_ID}.old`)),
      await readFixtureText("s1-info.me"),
    );
    assert.equal(
      await Deno.readTextFile(join(dir, `priv.key.${GOLDEN_ID}.old`)),
      await readFixtureText("s1-priv.key"),
    );
    const fresh = parseMeInfo(await Deno.readTextFile(join(dir, "me.info")));
    assert.equal(clientIdToHex(fresh.clientId), clientIdToHex(ids[0]!));

    // A second denial keeps the second identity too, and touches nothing older.
    const second = await runClient(["--dir", dir, "--quiet"]);
    assert.equal(second.code, 0, second.stderr);
    const a1 = clientIdToHex(ids[0]!);
    assert.deepEqual(await listNames(dir), [
      "f.bin",
      "me.info",
      `me.info.${GOLDEN_ID}.old`,
      `me.info.${a1}.old`,
      "priv.key",
      `priv.key.${GOLDEN_ID}.old`,
      `priv.key.${a1}.old`,
      "transfer.info",
      "transfer.log",
    ]);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(join(dir, `priv.key.${a1}.old`))).mode! & 0o777, 0o600);
    }
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("a priv.key without a me.info is kept before a registration writes a new one", async () => {
  const server = startFakeServer((peer) =>
    registerAndAccept(peer, new Uint8Array(CLIENT_ID_SIZE).fill(5))
  );
  const dir = await Deno.makeTempDir({ prefix: "client-identity-kept-" });
  try {
    await writeTransferInfo(dir, server.port, "Orphan", "f.bin", patternBytes(10));
    await Deno.writeFile(join(dir, "priv.key"), await readFixture("s1-priv.key"));
    const run = await runClient(["--dir", dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /client: kept the identity this registration replaces as \S*priv\.key\.no-id\.old\n/,
    );
    assert.equal(
      await Deno.readTextFile(join(dir, "priv.key.no-id.old")),
      await readFixtureText("s1-priv.key"),
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(server.errors, []);
});
