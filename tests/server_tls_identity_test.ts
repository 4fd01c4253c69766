import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { join } from "node:path";
import { connectSecure, SecureConnectError } from "../client/tls_connect.ts";
import { SECURE_SERVER_NAME } from "../protocol/discovery.ts";
import { certificateFingerprint } from "../protocol/fingerprint.ts";
import { encodePem } from "../protocol/pem.ts";
import {
  createServerIdentityText,
  loadOrCreateServerIdentity,
  parseServerIdentity,
  readServerIdentity,
  SERVER_IDENTITY_FILE,
  type ServerIdentity,
  ServerIdentityError,
} from "../server/identity/tls_identity.ts";

/** A TLS listener on 127.0.0.1:0 that echoes one line per connection. */
function echoServer(cert: string, key: string): { port: number; close(): Promise<void> } {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      served.push((async () => {
        try {
          const buffer = new Uint8Array(64);
          const n = await conn.read(buffer);
          if (n !== null) await conn.write(buffer.subarray(0, n));
        } catch {
          // A refused handshake ends here.
        } finally {
          conn.close();
        }
      })());
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(served);
    },
  };
}

async function echoOnce(conn: Deno.TlsConn): Promise<string> {
  await conn.write(new TextEncoder().encode("ping"));
  const buffer = new Uint8Array(64);
  const n = await conn.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
}

async function refusal(port: number, certificate: Uint8Array): Promise<SecureConnectError> {
  try {
    (await connectSecure("127.0.0.1", port, certificate, 5000)).close();
  } catch (error) {
    assert.ok(error instanceof SecureConnectError, String(error));
    return error;
  }
  throw new assert.AssertionError({ message: "the handshake passed" });
}

Deno.test("the identity is made once, kept with mode 0600, and read back the same", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readServerIdentity(dir), undefined);
    const first = await loadOrCreateServerIdentity(dir);
    assert.equal(first.created, true);
    const path = join(dir, SERVER_IDENTITY_FILE);
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const again = await loadOrCreateServerIdentity(dir);
    assert.equal(again.created, false);
    assert.deepEqual(again.identity.fingerprint, first.identity.fingerprint);
    assert.deepEqual(
      first.identity.fingerprint,
      await certificateFingerprint(first.identity.certificate),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), [
      SERVER_IDENTITY_FILE,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("servers starting at once on one folder end up with one identity", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => loadOrCreateServerIdentity(dir)),
    );
    assert.equal(results.filter((result) => result.created).length, 1);
    for (const { identity } of results) {
      assert.deepEqual(identity.fingerprint, results[0]!.identity.fingerprint);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unusable identity file stops the start and is left as it is", async (t) => {
  const other = await createServerIdentityText();
  const good = await createServerIdentityText();
  const certificateOf = (text: string) => text.slice(0, text.indexOf("-----BEGIN PRIVATE KEY"));
  const keyOf = (text: string) => text.slice(text.indexOf("-----BEGIN PRIVATE KEY"));
  const cases: [string, string, RegExp][] = [
    ["empty", "", /no CERTIFICATE block/],
    ["no key", certificateOf(good), /no PRIVATE KEY block/],
    ["the key of another certificate", certificateOf(good) + keyOf(other), /not the certificate's/],
    ["a damaged certificate", good.replace(/^(-----BEGIN CERTIFICATE-----\n)..../, "$1AAAA"), /./],
  ];
  for (const [name, text, reason] of cases) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir();
      try {
        const path = join(dir, SERVER_IDENTITY_FILE);
        await Deno.writeTextFile(path, text);
        await assert.rejects(
          () => loadOrCreateServerIdentity(dir),
          (error: Error) => {
            assert.ok(error instanceof ServerIdentityError);
            assert.ok(error.message.includes(path), error.message);
            assert.match(error.message, reason);
            assert.match(error.message, /delete it to make a new identity/);
            return true;
          },
        );
        assert.equal(await Deno.readTextFile(path), text);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("Deno's TLS accepts the identity, and only the pinned certificate passes", async () => {
  const identity = await parseServerIdentity(await createServerIdentityText());
  const impostor = await parseServerIdentity(await createServerIdentityText());
  const server = echoServer(identity.certificatePem, identity.privateKeyPem);
  try {
    const conn = await connectSecure("127.0.0.1", server.port, identity.certificate, 5000);
    assert.equal(await echoOnce(conn), "ping");
    conn.close();
    const refused = await refusal(server.port, impostor.certificate);
    assert.equal(refused.kind, "certificate");
  } finally {
    await server.close();
  }
});

Deno.test("a man in the middle with its own certificate for the same name is refused", async () => {
  const genuine = await parseServerIdentity(await createServerIdentityText());
  // The attacker terminates TLS itself: a valid certificate for the fixed
  // name, valid dates, its own key; only the pin tells it apart.
  const attacker = await parseServerIdentity(await createServerIdentityText());
  const mitm = echoServer(attacker.certificatePem, attacker.privateKeyPem);
  try {
    const refused = await refusal(mitm.port, genuine.certificate);
    assert.equal(refused.kind, "certificate");
    assert.match(refused.message, /not the pinned one/);
  } finally {
    await mitm.close();
  }
});

Deno.test("what Deno's TLS accepts as a pinned self-signed certificate", async (t) => {
  const make = async (algorithm: "Ed25519" | "ECDSA", ca: boolean, name: string) => {
    const params = algorithm === "Ed25519"
      ? { name: "Ed25519" }
      : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const keys = await crypto.subtle.generateKey(params, true, ["sign", "verify"]) as CryptoKeyPair;
    const extensions: x509.Extension[] = [
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
    ];
    if (ca) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: `CN=${name}`,
      notBefore: new Date("2000-01-01"),
      notAfter: new Date("9999-12-31"),
      signingAlgorithm: params,
      keys,
      extensions,
    });
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    const der = new Uint8Array(certificate.rawData);
    return { der, cert: encodePem("CERTIFICATE", der), key: encodePem("PRIVATE KEY", pkcs8) };
  };
  const cases: [string, "Ed25519" | "ECDSA", boolean, string, string | undefined][] = [
    ["Ed25519 (ours)", "Ed25519", false, SECURE_SERVER_NAME, undefined],
    ["ECDSA P-256", "ECDSA", false, SECURE_SERVER_NAME, undefined],
    ["CA:TRUE is refused as the server's own", "Ed25519", true, SECURE_SERVER_NAME, "certificate"],
    ["another name is refused", "Ed25519", false, "example.org", "certificate"],
  ];
  for (const [name, algorithm, ca, serverName, refusedAs] of cases) {
    await t.step(name, async () => {
      const made = await make(algorithm, ca, serverName);
      const server = echoServer(made.cert, made.key);
      try {
        if (refusedAs === undefined) {
          const conn = await connectSecure("127.0.0.1", server.port, made.der, 5000);
          assert.equal(await echoOnce(conn), "ping");
          conn.close();
        } else {
          assert.equal((await refusal(server.port, made.der)).kind, refusedAs);
        }
      } finally {
        await server.close();
      }
    });
  }
});

Deno.test("a closed port, or a port that does not speak TLS, is told apart", async () => {
  const identity: ServerIdentity = await parseServerIdentity(await createServerIdentityText());
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = closed.addr.port;
  closed.close();
  assert.equal((await refusal(closedPort, identity.certificate)).kind, "unreachable");

  const plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answering = (async () => {
    const conn = await plain.accept();
    await conn.read(new Uint8Array(1024));
    await conn.write(new Uint8Array(7).fill(0x41)); // not a TLS record
    conn.close();
  })();
  try {
    assert.equal((await refusal(plain.addr.port, identity.certificate)).kind, "handshake");
  } finally {
    await answering;
    plain.close();
  }
});
