/**
 * Issue 13 on the client's side, with the real client as a process (the
 * compiled client's permissions) and a real server: trust on first use, the
 * pin, no downgrade, and the reference-like server that closes on discovery.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatFingerprint } from "../protocol/fingerprint.ts";
import { clientIdToHex, parseMeInfo, REQUEST_HEADER_SIZE } from "../protocol/mod.ts";
import { connectSecure } from "../client/tls_connect.ts";
import { type RunningServer, type ServerOptions, startServer } from "../server/server.ts";
import {
  createServerIdentityText,
  parseServerIdentity,
  readServerIdentity,
} from "../server/identity/tls_identity.ts";
import { type ClientRun, patternBytes, runClient } from "./support/client_process.ts";
import { freePort } from "./support/ports.ts";
import { referenceLike } from "./support/reference_like.ts";
import { closeQuietly, pipeBoth, relayServer } from "../harness/relay.ts";

interface Setup {
  server: RunningServer;
  serverDir: string;
  clientDir: string;
  contents: Uint8Array;
}

async function withSetup(
  options: Partial<ServerOptions>,
  run: (setup: Setup) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "secure_mode_" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  await Deno.mkdir(clientDir);
  const contents = patternBytes(50_000, 13);
  await Deno.writeFile(join(clientDir, "data.bin"), contents);
  const server = await startServer({ host: "127.0.0.1", port: 0, dir: serverDir, ...options });
  try {
    await run({ server, serverDir, clientDir, contents });
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** Points the client at `port` and runs it. */
async function send(clientDir: string, port: number, args: string[] = []): Promise<ClientRun> {
  await Deno.writeTextFile(join(clientDir, "transfer.info"), `127.0.0.1:${port}\nTess\ndata.bin\n`);
  return await runClient(["--dir", clientDir, "--retries", "0", ...args]);
}

async function assertStored(setup: Setup): Promise<void> {
  const { clientId } = parseMeInfo(await Deno.readTextFile(join(setup.clientDir, "me.info")));
  const path = join(setup.serverDir, "received_files", clientIdToHex(clientId), "data.bin");
  assert.deepEqual(await Deno.readFile(path), setup.contents);
}

async function knownServers(clientDir: string): Promise<string | undefined> {
  return await Deno.readTextFile(join(clientDir, "known_servers")).catch(() => undefined);
}

Deno.test("first contact pins; a later run uses TLS with the pin and never the plain port", async () => {
  await withSetup({}, async (setup) => {
    // The plain port through a relay that can be taken away.
    const plain = relayServer(async (conn) => {
      await pipeBoth(conn, await Deno.connect({ hostname: "127.0.0.1", port: setup.server.port }));
    });
    const first = await send(setup.clientDir, plain.port);
    assert.equal(first.code, 0, first.stderr);
    const fingerprint = formatFingerprint(setup.server.fingerprint!);
    assert.ok(first.stderr.includes(`pinned its certificate ${fingerprint}`), first.stderr);
    assert.equal(plain.connections, 1, "the discovery only: the session ran over TLS");
    const line = await knownServers(setup.clientDir);
    assert.ok(line?.includes(`127.0.0.1:${plain.port} ${setup.server.securePort} ${fingerprint} `));
    await assertStored(setup);

    await plain.close(); // nothing listens on the plain port any more
    await Deno.remove(join(setup.serverDir, "received_files"), { recursive: true });
    // The registry still holds data.bin: --force sends it again over the pinned TLS.
    const later = await send(setup.clientDir, plain.port, ["--secure", "--force"]);
    assert.equal(later.code, 0, later.stderr);
    assert.doesNotMatch(later.stderr, /pinned/);
    await assertStored(setup);
  });
});

Deno.test("a server with another identity on the same host and ports is refused, its new fingerprint beside the pinned one", async () => {
  const port = freePort();
  const securePort = freePort();
  await withSetup({ port, securePort }, async (setup) => {
    assert.equal((await send(setup.clientDir, port)).code, 0);
    await setup.server.close();
    const otherDir = await Deno.makeTempDir({ prefix: "secure_mode_other_" });
    const other = await startServer({ host: "127.0.0.1", port, securePort, dir: otherDir });
    try {
      const run = await send(setup.clientDir, port);
      assert.equal(run.code, 4, run.stderr);
      const pinned = formatFingerprint(setup.server.fingerprint!);
      const presented = formatFingerprint(other.fingerprint!);
      assert.ok(
        run.stderr.includes(
          `it presents a certificate with the fingerprint ${presented}, not the pinned ${pinned}`,
        ),
        run.stderr,
      );
      assert.match(run.stderr, /server fingerprint/);
      assert.match(run.stderr, /re-pin with --pin/);
      assert.equal(run.stderr.split("\n").filter((line) => /Cannot/.test(line)).length, 1);
      // Re-pinning with the new server's fingerprint, as its operator would give it.
      const repin = await send(setup.clientDir, port, [
        "--pin",
        formatFingerprint(other.fingerprint!),
      ]);
      assert.equal(repin.code, 0, repin.stderr);
      assert.match(repin.stderr, /its certificate has the fingerprint you gave/);
      assert.ok(
        (await knownServers(setup.clientDir))?.includes(formatFingerprint(other.fingerprint!)),
      );
    } finally {
      await other.close();
      await Deno.remove(otherDir, { recursive: true });
    }
  });
});

Deno.test("a man in the middle that terminates TLS with its own certificate is refused", async () => {
  await withSetup({}, async (setup) => {
    assert.equal((await send(setup.clientDir, setup.server.port)).code, 0);
    const genuine = (await readServerIdentity(setup.serverDir))!;
    // The attacker sits on the secure port's path: it terminates TLS with a
    // certificate of its own for the same name, and relays to the real server.
    const attacker = await parseServerIdentity(await createServerIdentityText());
    const mitmListener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: attacker.certificatePem,
      key: attacker.privateKeyPem,
    });
    let decrypted = 0;
    const mitm = (async () => {
      for await (const conn of mitmListener) {
        const buffer = new Uint8Array(1024);
        try {
          const n = await conn.read(buffer); // the handshake happens here
          if (n !== null) decrypted += n;
          const upstream = await connectSecure(
            "127.0.0.1",
            setup.server.securePort!,
            genuine.certificate,
            5000,
          );
          await pipeBoth(conn, upstream);
        } catch {
          closeQuietly(conn);
        }
      }
    })();
    try {
      const path = join(setup.clientDir, "known_servers");
      const text = await Deno.readTextFile(path);
      await Deno.writeTextFile(
        path,
        text.replace(` ${setup.server.securePort} `, ` ${mitmListener.addr.port} `),
      );
      const run = await send(setup.clientDir, setup.server.port);
      assert.equal(run.code, 4, run.stderr);
      assert.match(
        run.stderr,
        /Cannot trust .*: its secure port \d+ presents another certificate than the pinned SHA256:\S+ \(\S+ line \d+\), which its plain port still offers/,
      );
      assert.equal(decrypted, 0, "the client sent nothing the attacker could read");

      // On first contact the attacker answers discovery with its own
      // certificate: trust on first use would pin it, a fingerprint pinned in
      // advance does not.
      await Deno.remove(path);
      const fake = relayServer(async (conn) => {
        await conn.read(new Uint8Array(REQUEST_HEADER_SIZE));
        const { encodeDiscoveryResponse } = await import("../protocol/discovery.ts");
        await conn.write(encodeDiscoveryResponse({
          securePort: mitmListener.addr.port,
          certificate: attacker.certificate,
        }));
      });
      try {
        const pinned = await send(setup.clientDir, fake.port, [
          "--pin",
          formatFingerprint(setup.server.fingerprint!),
        ]);
        assert.equal(pinned.code, 4, pinned.stderr);
        assert.ok(
          pinned.stderr.includes(
            `presents a certificate with the fingerprint ${
              formatFingerprint(attacker.fingerprint)
            }`,
          ),
          pinned.stderr,
        );
        assert.equal(decrypted, 0);
      } finally {
        await fake.close();
      }
    } finally {
      mitmListener.close();
      await mitm.catch(() => {});
    }
  });
});

Deno.test("with the secure port closed after pinning, the client says only that port is down and refuses to fall back", async () => {
  const port = freePort();
  await withSetup({ port, securePort: freePort() }, async (setup) => {
    assert.equal((await send(setup.clientDir, port)).code, 0);
    await setup.server.close();
    await Deno.remove(join(setup.serverDir, "received_files"), { recursive: true });
    // The same server and data, secure mode turned off.
    const plainOnly = await startServer({
      host: "127.0.0.1",
      port,
      securePort: false,
      dir: setup.serverDir,
    });
    try {
      const run = await send(setup.clientDir, port);
      assert.equal(run.code, 3, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `^client: Cannot reach the secure port \\d+ of 127\\.0\\.0\\.1:${port}: it does not ` +
            `answer \\(Connection refused.*\\), while the server's plain port ${port} does\\. ` +
            "The server is pinned .* talks to it only over its secure port",
          "m",
        ),
      );
      assert.doesNotMatch(run.stderr, /delete/, "never suggests removing the protection");
      const files = await Array.fromAsync(Deno.readDir(join(setup.serverDir, "received_files")));
      assert.deepEqual(files, [], "nothing was sent in plain");
    } finally {
      await plainOnly.close();
    }
  });
});

Deno.test('a pinned server that is stopped is "not running", and no pin is questioned', async () => {
  const port = freePort();
  const securePort = freePort();
  await withSetup({ port, securePort }, async (setup) => {
    assert.equal((await send(setup.clientDir, port)).code, 0);
    await setup.server.close();
    const run = await send(setup.clientDir, port);
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^client: Cannot reach 127\\.0\\.0\\.1:${port}: the server is not running \\(neither ` +
          `its port ${port} nor its secure port ${securePort} answers: .*\\)\\. Start the server`,
        "m",
      ),
    );
    assert.doesNotMatch(run.stderr, /delete|known_servers/);
    assert.equal(run.stderr.split("\n").filter((line) => /Cannot/.test(line)).length, 1);
  });
});

Deno.test("a server that closes on the discovery request, as the reference does, gets a plain session", async () => {
  await withSetup({ securePort: false }, async (setup) => {
    const reference = referenceLike(setup.server.port);
    try {
      const run = await send(setup.clientDir, reference.port);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(reference.discoveries, 1);
      assert.equal(reference.connections, 2, "discovery, then the session on a new connection");
      assert.equal(await knownServers(setup.clientDir), undefined);
      await assertStored(setup);

      const refused = await send(setup.clientDir, reference.port, ["--secure"]);
      assert.equal(refused.code, 4, refused.stderr);
      assert.match(refused.stderr, /--secure refuses the plain protocol v3/);
      assert.equal(reference.connections, 3, "--secure: the discovery only");
    } finally {
      await reference.close();
    }
  });
});

Deno.test("a fingerprint read out by the operator authenticates the first contact", async () => {
  await withSetup({}, async (setup) => {
    const wrong = await send(setup.clientDir, setup.server.port, [
      "--pin",
      "SHA256:" + "A".repeat(43),
    ]);
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.equal(await knownServers(setup.clientDir), undefined);
    const bad = await send(setup.clientDir, setup.server.port, ["--pin", "SHA256:short"]);
    assert.equal(bad.code, 2, bad.stderr);
    const run = await send(setup.clientDir, setup.server.port, [
      "--pin",
      formatFingerprint(setup.server.fingerprint!),
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /its certificate has the fingerprint you gave/);
    await assertStored(setup);
  });
});
