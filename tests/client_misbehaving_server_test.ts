/**
 * The client against fake servers that lie, refuse, break the protocol or
 * drop the connection: each ends with one clear line and the documented
 * exit code (3 network, 4 rejected or protocol violation, 5 CRC failure).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CLIENT_ID_SIZE,
  encodeResponseHeader,
  RequestCode,
  ResponseCode,
  WRAPPED_KEY_SIZE,
} from "../protocol/mod.ts";
import { ExitCode } from "../client/client_error.ts";
import {
  contentTrailer,
  type FakePeer,
  type FakeServer,
  makeSessionKey,
  startFakeServer,
} from "./support/fake_server.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { delay } from "./support/reliability.ts";

const ID = new Uint8Array(CLIENT_ID_SIZE).fill(7);

/** The public key the client registered with, for later 827s. */
let registeredKey: Uint8Array | undefined;

/** Answers 825 and 826, or 827, like a good server; returns the raw AES key. */
async function register(peer: FakePeer): Promise<Uint8Array> {
  const first = await peer.read();
  if (first?.code === RequestCode.Reconnect) {
    const { raw, wrapped } = await makeSessionKey(registeredKey!);
    await peer.send({ code: ResponseCode.ReconnectApproved, clientId: ID, wrappedKey: wrapped });
    return raw;
  }
  assert.equal(first?.code, RequestCode.Register);
  await peer.send({ code: ResponseCode.Registered, clientId: ID });
  const request = await peer.read();
  assert.equal(request?.code, RequestCode.PublicKey);
  registeredKey = request.payload.slice(255);
  const { raw, wrapped } = await makeSessionKey(registeredKey);
  await peer.send({ code: ResponseCode.KeyAccepted, clientId: ID, wrappedKey: wrapped });
  return raw;
}

function fileReceived(cksum: number, contentSize: number) {
  return {
    code: ResponseCode.FileReceived,
    clientId: ID,
    contentSize,
    fileNameField: new Uint8Array(255),
    cksum,
  } as const;
}

async function withFakeServer(
  script: (peer: FakePeer, index: number) => Promise<void>,
  check: (run: Awaited<ReturnType<typeof runClient>>, server: FakeServer) => void | Promise<void>,
  expectFailure = true,
): Promise<void> {
  const server = startFakeServer(script);
  const dir = await Deno.makeTempDir({ prefix: "client-fake-" });
  try {
    await writeTransferInfo(dir, server.port, "Mallory", "f.bin", patternBytes(1000));
    const run = await runClient(["--dir", dir]);
    await server.close();
    await check(run, server);
    if (expectFailure) {
      assert.equal(run.stdout, "", "stdout carries only a success line");
      const errors = run.stderr.split("\n").filter((line) => line.startsWith("client: Cannot"));
      assert.equal(errors.length, 1, run.stderr);
    }
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a server that lies about the cksum gets 4 sends, 901 x3, 902, and exit code 5", async () => {
  const codes: number[] = [];
  await withFakeServer(async (peer) => {
    await register(peer);
    for (let send = 1; send <= 4; send++) {
      const upload = await peer.read();
      assert.equal(upload?.code, RequestCode.SendFile);
      codes.push(upload.code);
      await peer.send(
        fileReceived((contentTrailer(upload.content) + 1) >>> 0, upload.content.length),
      );
      const verdict = await peer.read();
      codes.push(verdict!.code);
    }
    await peer.send({ code: ResponseCode.Ack, clientId: ID });
    assert.equal(await peer.read(), null);
  }, (run, server) => {
    assert.equal(run.code, ExitCode.Crc, run.stderr);
    assert.deepEqual(codes, [828, 901, 828, 901, 828, 901, 828, 902]);
    assert.match(run.stderr, /client: Cannot send f\.bin: the server's cksum .* on all 4 sends/);
    assert.deepEqual(server.errors, []);
  });
});

Deno.test("a cksum that matches on the second send succeeds after one 901", async () => {
  const codes: number[] = [];
  await withFakeServer(async (peer) => {
    await register(peer);
    let upload = await peer.read();
    await peer.send(fileReceived(0, upload!.content.length));
    codes.push((await peer.read())!.code);
    upload = await peer.read();
    await peer.send(fileReceived(contentTrailer(upload!.content), upload!.content.length));
    codes.push((await peer.read())!.code);
    await peer.send({ code: ResponseCode.Ack, clientId: ID });
  }, (run) => {
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(codes, [901, 900]);
    assert.match(run.stderr, /send 1 of 4: the server's cksum 0 is not ours/);
    assert.match(run.stdout, /after 2 sends/);
  }, false);
});

Deno.test("1601 (name taken) exits with 4 and says to choose another name", async () => {
  await withFakeServer(async (peer) => {
    await peer.read();
    await peer.send({ code: ResponseCode.RegisterFailed, text: "Name 'Mallory' is taken" });
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(run.stderr, /Cannot register as "Mallory": the server refused \(1601\)/);
    assert.match(run.stderr, /Choose another name/);
  });
});

Deno.test("1601 to our public key (a name lost in a race) exits with 4 and says so", async () => {
  await withFakeServer(async (peer) => {
    assert.equal((await peer.read())?.code, RequestCode.Register);
    await peer.send({ code: ResponseCode.Registered, clientId: ID });
    assert.equal((await peer.read())?.code, RequestCode.PublicKey);
    await peer.send({ code: ResponseCode.RegisterFailed, text: "Name 'Mallory' is taken" });
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(
      run.stderr,
      /Cannot register as "Mallory": the name was taken by another client a moment ago: choose another name\./,
    );
    assert.doesNotMatch(run.stderr, /expected 1602|Check that the address/);
  });
});

Deno.test("1607 in answer to the upload exits with 4 and shows the server's text", async () => {
  await withFakeServer(async (peer) => {
    await register(peer);
    await peer.read();
    await peer.send({ code: ResponseCode.GeneralError, text: "disk full" });
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(
      run.stderr,
      /Cannot send f\.bin: the server answered with a general error \(1607: "disk full"\)/,
    );
  });
});

Deno.test("an unexpected response code exits with 4", async () => {
  await withFakeServer(async (peer) => {
    await peer.read();
    await peer.send({ code: ResponseCode.Ack, clientId: ID });
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(
      run.stderr,
      /it answered 1604 when we tried to register as "Mallory", expected 1600 or 1601/,
    );
  });
});

Deno.test("an unknown response code exits with 4 before reading its payload", async () => {
  await withFakeServer(async (peer) => {
    await peer.read();
    await peer.send(encodeResponseHeader(1234, 0xffff_ffff));
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(run.stderr, /unknown response code 1234/);
  });
});

Deno.test("an oversized payload for a known code exits with 4", async () => {
  await withFakeServer(async (peer) => {
    await peer.read();
    await peer.send(encodeResponseHeader(ResponseCode.GeneralError, 100_000_000));
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(run.stderr, /payload of 100000000 bytes, more than 1024/);
  });
});

Deno.test("a wrapped key of the wrong length exits with 4", async () => {
  await withFakeServer(async (peer) => {
    await peer.read();
    await peer.send({ code: ResponseCode.Registered, clientId: ID });
    await peer.read();
    const payloadSize = CLIENT_ID_SIZE + WRAPPED_KEY_SIZE - 1;
    const frame = new Uint8Array(7 + payloadSize);
    frame.set(encodeResponseHeader(ResponseCode.KeyAccepted, payloadSize));
    await peer.send(frame);
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(run.stderr, /payload has 143 bytes instead of 144/);
  });
});

Deno.test("a key not wrapped for our public key exits with 4", async () => {
  await withFakeServer(async (peer) => {
    await peer.read();
    await peer.send({ code: ResponseCode.Registered, clientId: ID });
    await peer.read();
    await peer.send({
      code: ResponseCode.KeyAccepted,
      clientId: ID,
      wrappedKey: new Uint8Array(WRAPPED_KEY_SIZE).fill(1),
    });
  }, (run) => {
    assert.equal(run.code, ExitCode.Rejected);
    assert.match(run.stderr, /AES key was not wrapped with our public key/);
  });
});

Deno.test("a truncated response, then a closed connection, is a network failure after 3 retries", async () => {
  await withFakeServer(async (peer) => {
    await peer.read();
    await peer.send(encodeResponseHeader(ResponseCode.Registered, CLIENT_ID_SIZE).subarray(0, 4));
  }, (run, server) => {
    assert.equal(run.code, ExitCode.Network);
    assert.equal(server.peers.length, 4, "1 attempt + 3 retries");
    assert.match(run.stderr, /retry 3 of 3/);
    assert.match(
      run.stderr,
      /Cannot read the response of 127\.0\.0\.1:\d+: the server closed the connection/,
    );
  });
});

Deno.test("a connection dropped mid-upload is retried, and the retry succeeds", async () => {
  const server = startFakeServer(async (peer, index) => {
    await register(peer);
    if (index === 0) {
      // Read only the request header of the upload, then drop the connection.
      await delay(10);
      peer.close();
      return;
    }
    const upload = await peer.read();
    await peer.send(fileReceived(contentTrailer(upload!.content), upload!.content.length));
    assert.equal((await peer.read())?.code, RequestCode.CrcOk);
    await peer.send({ code: ResponseCode.Ack, clientId: ID });
  });
  const dir = await Deno.makeTempDir({ prefix: "client-fake-" });
  try {
    // Big enough that the upload is still being written when the server drops it.
    await writeTransferInfo(dir, server.port, "Mallory", "f.bin", patternBytes(8_000_000));
    const run = await runClient(["--dir", dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /retry 1 of 3/);
    assert.equal(server.peers.length, 2);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreachable server is retried 3 times, then exit code 3; --quiet shows only the error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dir = await Deno.makeTempDir({ prefix: "client-fake-" });
  try {
    await writeTransferInfo(dir, port, "Mallory", "f.bin", patternBytes(10));
    const loud = await runClient(["--dir", dir]);
    assert.equal(loud.code, ExitCode.Network);
    assert.equal((loud.stderr.match(/retry \d of 3/g) ?? []).length, 3);
    const run = await runClient(["--dir", dir, "--quiet"]);
    assert.equal(run.code, ExitCode.Network);
    assert.equal(run.stdout, "");
    assert.equal(
      run.stderr,
      `client: Cannot connect to 127.0.0.1:${port}: the server is not running (nothing listens ` +
        `on port ${port}: Connection refused (os error 111)). Check that the server is running ` +
        `and that ${join(dir, "transfer.info")} line 1 names its port, then try again\n`,
    );
    assert.ok(!(await Deno.stat(join(dir, "me.info")).then(() => true, () => false)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
