import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError } from "../client/client_error.ts";
import { KNOWN_SERVERS, loadKnownServers } from "../client/known_servers.ts";
import { openTransport, type TransportOptions } from "../client/tls_policy.ts";
import { encodeDiscoveryResponse } from "../protocol/discovery.ts";
import { formatFingerprint } from "../protocol/fingerprint.ts";
import {
  createServerIdentityText,
  parseServerIdentity,
  type ServerIdentity,
} from "../server/identity/tls_identity.ts";
import { type FakeServer, startFakeServer } from "./support/fake_server.ts";

const GENUINE = await parseServerIdentity(await createServerIdentityText());
const IMPOSTOR = await parseServerIdentity(await createServerIdentityText());

/** A TLS listener that answers "ok" to anything, on `port` (0: any). */
function tlsServer(identity: ServerIdentity, port = 0) {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port,
    cert: identity.certificatePem,
    key: identity.privateKeyPem,
  });
  let accepted = 0;
  let closing: Promise<void> | undefined;
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      accepted++;
      served.push(
        conn.handshake().then(() => conn.write(new TextEncoder().encode("ok"))).catch(() => {})
          .then(() => conn.close()),
      );
    }
  })();
  return {
    port: listener.addr.port,
    get accepted() {
      return accepted;
    },
    close() {
      closing ??= (async () => {
        listener.close();
        await loop.catch(() => {});
        await Promise.all(served);
      })();
      return closing;
    },
  };
}

/** A plain port that answers discovery with an offer, or closes like the reference. */
function plainServer(offer: { securePort: number; identity: ServerIdentity } | undefined) {
  return startFakeServer(async (peer) => {
    await peer.readHeader();
    if (offer === undefined) return;
    await peer.send(
      encodeDiscoveryResponse({
        securePort: offer.securePort,
        certificate: offer.identity.certificate,
      }),
    );
  }, { seeDiscovery: true });
}

async function withFolder(run: (folder: string) => Promise<void>): Promise<void> {
  const folder = await Deno.makeTempDir();
  try {
    await run(folder);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

function options(folder: string, plain: FakeServer, extra: Partial<TransportOptions> = {}) {
  return { folder, host: "127.0.0.1", port: plain.port, timeoutMs: 5000, ...extra };
}

async function secureOrFail(opts: TransportOptions): Promise<Uint8Array> {
  const transport = await openTransport(opts);
  assert.ok(transport.secure, "expected a TLS connection");
  const buffer = new Uint8Array(2);
  await transport.conn.read(buffer);
  transport.conn.close();
  return transport.fingerprint;
}

async function refused(opts: TransportOptions, exitCode: number): Promise<string> {
  const error = await openTransport(opts).then(
    (transport) => {
      if (transport.secure) transport.conn.close();
      return new Error(`not refused: ${JSON.stringify({ secure: transport.secure })}`);
    },
    (error) => error,
  );
  assert.ok(error instanceof ClientError, String(error));
  assert.equal(error.exitCode, exitCode, error.message);
  return error.message;
}

Deno.test("first contact pins; later runs use TLS with the pin and nothing in plain", async () => {
  await withFolder(async (folder) => {
    const tls = tlsServer(GENUINE);
    const plain = plainServer({ securePort: tls.port, identity: GENUINE });
    try {
      const infos: string[] = [];
      const first = await secureOrFail(options(folder, plain, { onInfo: (i) => infos.push(i) }));
      assert.deepEqual(first, GENUINE.fingerprint);
      assert.match(infos[0]!, /first contact .* pinned its certificate SHA256:/);
      const { entries } = await loadKnownServers(folder);
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.securePort, tls.port);
      assert.deepEqual(entries[0]!.certificate, GENUINE.certificate);

      assert.equal(plain.peers.length, 1);
      await secureOrFail(options(folder, plain));
      await secureOrFail(options(folder, plain, { requireSecure: true }));
      assert.equal(plain.peers.length, 1, "a pinned server is never contacted in plain");
    } finally {
      await plain.close();
      await tls.close();
    }
  });
});

Deno.test("a server without the secure mode gets plain v3, unless --secure", async () => {
  await withFolder(async (folder) => {
    const plain = plainServer(undefined); // closes on discovery, as the reference does
    try {
      const transport = await openTransport(options(folder, plain));
      assert.equal(transport.secure, false);
      assert.equal((await loadKnownServers(folder)).entries.length, 0);
      const message = await refused(options(folder, plain, { requireSecure: true }), 4);
      assert.match(message, /closed the connection on the discovery request/);
      assert.match(message, /--secure refuses the plain protocol v3/);
    } finally {
      await plain.close();
    }
  });
});

/** Pins the genuine server on first contact, then stops its TLS listener and runs `then`. */
async function afterPinning(
  then: (folder: string, plain: FakeServer, securePort: number) => Promise<void>,
): Promise<void> {
  await withFolder(async (folder) => {
    const tls = tlsServer(GENUINE);
    const plain = plainServer({ securePort: tls.port, identity: GENUINE });
    try {
      await secureOrFail(options(folder, plain));
      await tls.close();
      await then(folder, plain, tls.port);
    } finally {
      await plain.close();
      await tls.close();
    }
  });
}

Deno.test("a pinned server whose secure port is closed: no fallback, one clear message", async () => {
  await afterPinning(async (folder, plain, securePort) => {
    const message = await refused(options(folder, plain, { requireSecure: false }), 3);
    assert.match(message, new RegExp(`^Cannot reach the secure port ${securePort} of 127.0.0.1`));
    assert.match(message, /while the server's plain port \d+ does/);
    assert.match(
      message,
      /known_servers line \d+\), so the client talks to it only over its secure/,
    );
    assert.doesNotMatch(message, /delete/, "never suggests removing the pin");
    // The discovery at pinning, and a bare connect that tells a stopped server
    // from a closed secure port: no request goes to the plain port.
    assert.equal(plain.peers.length, 2);
  });
});

Deno.test("another identity on the same host and port is refused", async () => {
  await afterPinning(async (folder, plain, securePort) => {
    const impostor = tlsServer(IMPOSTOR, securePort);
    try {
      const message = await refused(options(folder, plain), 4);
      // The plain port still offers the pinned certificate: interception, not a new identity.
      assert.match(
        message,
        /^Cannot trust 127\.0\.0\.1:\d+: its secure port \d+ presents another certificate than the pinned/,
      );
      assert.ok(message.includes(formatFingerprint(GENUINE.fingerprint)));
      assert.match(message, /intercepting/);
      assert.match(message, /server fingerprint/);
    } finally {
      await impostor.close();
    }
    const { entries } = await loadKnownServers(folder);
    assert.deepEqual(entries[0]!.fingerprint, GENUINE.fingerprint, "the pin is kept");
  });
});

Deno.test("a fingerprint pinned in advance authenticates even the first contact", async (t) => {
  const tls = tlsServer(GENUINE);
  const plain = plainServer({ securePort: tls.port, identity: GENUINE });
  try {
    await t.step("--pin with the right fingerprint pins", async () => {
      await withFolder(async (folder) => {
        await secureOrFail(options(folder, plain, { pin: GENUINE.fingerprint }));
        assert.deepEqual(
          (await loadKnownServers(folder)).entries[0]!.certificate,
          GENUINE.certificate,
        );
      });
    });
    await t.step("--pin with another fingerprint refuses and pins nothing", async () => {
      await withFolder(async (folder) => {
        const message = await refused(options(folder, plain, { pin: IMPOSTOR.fingerprint }), 4);
        assert.ok(
          message.includes(
            `presents a certificate with the fingerprint ${formatFingerprint(GENUINE.fingerprint)}`,
          ),
        );
        assert.ok(message.includes(`not the pinned ${formatFingerprint(IMPOSTOR.fingerprint)}`));
        assert.equal((await loadKnownServers(folder)).entries.length, 0);
      });
    });
    await t.step("a line written by hand is completed with the certificate", async () => {
      await withFolder(async (folder) => {
        const line = `127.0.0.1:${plain.port} 1 ${formatFingerprint(GENUINE.fingerprint)}\n`;
        await Deno.writeTextFile(join(folder, KNOWN_SERVERS), line);
        await secureOrFail(options(folder, plain));
        const [entry] = (await loadKnownServers(folder)).entries;
        assert.equal(entry!.securePort, tls.port);
        assert.deepEqual(entry!.certificate, GENUINE.certificate);
      });
    });
    await t.step("a pinned fingerprint and a server without the secure mode: refused", async () => {
      await withFolder(async (folder) => {
        const reference = plainServer(undefined);
        try {
          const message = await refused(
            options(folder, reference, { pin: GENUINE.fingerprint }),
            4,
          );
          assert.match(message, /its fingerprint is pinned \(--pin\)/);
        } finally {
          await reference.close();
        }
      });
    });
    await t.step("--pin re-pins a server whose identity changed", async () => {
      await withFolder(async (folder) => {
        const line = `127.0.0.1:${plain.port} ${tls.port} ${
          formatFingerprint(IMPOSTOR.fingerprint)
        } ${btoa(String.fromCharCode(...IMPOSTOR.certificate))}\n`;
        await Deno.writeTextFile(join(folder, KNOWN_SERVERS), line);
        await refused(options(folder, plain), 4);
        await secureOrFail(options(folder, plain, { pin: GENUINE.fingerprint }));
        const [entry] = (await loadKnownServers(folder)).entries;
        assert.deepEqual(entry!.fingerprint, GENUINE.fingerprint);
      });
    });
  } finally {
    await plain.close();
    await tls.close();
  }
});
