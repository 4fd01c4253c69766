/**
 * Issue 13 on the server's side: the plain port's discovery answer, the same
 * conversation over TLS, and the key proof that keeps an identity from being
 * used by someone who knows only its name and id.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  decodeDiscoveryResponse,
  DISCOVERY_RESPONSE_CODE,
  encodeDiscoveryRequest,
} from "../protocol/discovery.ts";
import { certificateFingerprint, formatFingerprint } from "../protocol/fingerprint.ts";
import { computeKeyProof, encodeKeyProofRequest } from "../protocol/key_proof.ts";
import {
  clientIdToHex,
  generateRsaKeyPair,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { ROOT } from "../scripts/permissions.ts";
import { readServerIdentity } from "../server/identity/tls_identity.ts";
import { captureServerLogs, type LogCapture } from "./support/log_capture.ts";
import { RawClient, type TestIdentity } from "../harness/raw_client.ts";
import { withServer } from "./support/test_server.ts";
import { certificateOf, proveKey, secureClient, signUpProven } from "./support/secure_client.ts";

/** Every captured log line as text. */
function textOf(logs: LogCapture): string {
  return logs.records.map((record) => record.message.map(String).join("")).join("\n");
}

async function storedFiles(dir: string, identity: TestIdentity): Promise<string[]> {
  try {
    const folder = join(dir, "received_files", clientIdToHex(identity.clientId));
    return (await Array.fromAsync(Deno.readDir(folder))).map((entry) => entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

Deno.test("the plain port answers discovery with the secure port and the certificate", async () => {
  await withServer(async (test) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
    try {
      await conn.write(encodeDiscoveryRequest());
      const bytes = new Uint8Array(8192);
      let length = 0;
      while (length < 7 || length < 7 + new DataView(bytes.buffer).getUint32(3, true)) {
        const n = await conn.read(bytes.subarray(length));
        assert.ok(n !== null, "the server closed before answering");
        length += n;
      }
      const view = new DataView(bytes.buffer);
      assert.equal(view.getUint16(1, true), DISCOVERY_RESPONSE_CODE);
      const offer = decodeDiscoveryResponse(bytes.subarray(7, length));
      assert.equal(offer.securePort, test.server.securePort);
      assert.deepEqual(offer.certificate, await certificateOf(test.dir));
      assert.deepEqual(await certificateFingerprint(offer.certificate), test.server.fingerprint);
    } finally {
      conn.close();
    }
  });
});

Deno.test("without the secure mode, discovery gets 1607 and the connection goes on", async () => {
  await withServer(async (test) => {
    assert.equal(test.server.securePort, undefined);
    using client = await RawClient.connect(test.port);
    await client.send(encodeDiscoveryRequest());
    assert.match(await client.expectError(), /unknown request code 850/);
    assert.ok(await client.register("Plain Only"));
    assert.equal(await readServerIdentity(test.dir), undefined, "no identity is made");
  }, { securePort: false });
});

Deno.test("over TLS the conversation is the same, with the key proof after each key", async () => {
  await using logs = await captureServerLogs("warning");
  await withServer(async (test) => {
    const fingerprint = test.server.fingerprint!;
    let identity: TestIdentity;
    {
      using client = await secureClient(test);
      identity = await signUpProven(client, "Secure Sam", fingerprint);
      const data = crypto.getRandomValues(new Uint8Array(20_000));
      // Inside TLS the content is the padded plaintext (no second encryption).
      const received = await client.upload(identity.clientId, null, "a.bin", data);
      await client.request(identity.clientId, { code: RequestCode.CrcOk, fileName: "a.bin" });
      await client.expect(ResponseCode.Ack);
      assert.equal(received.contentSize, 20_020);
    }
    using again = await secureClient(test);
    const aesKey = await again.reconnect(
      identity.clientId,
      identity.name,
      identity.keys.privateKey,
    );
    await proveKey(again, identity.clientId, aesKey, fingerprint);
    await again.upload(identity.clientId, null, "b.bin", new Uint8Array(16));
    await again.request(identity.clientId, { code: RequestCode.CrcOk, fileName: "b.bin" });
    await again.expect(ResponseCode.Ack);
    assert.deepEqual((await storedFiles(test.dir, identity)).sort(), ["a.bin", "b.bin"]);
  });
  // Closing without TLS's close_notify between two requests is a plain close.
  assert.equal(textOf(logs), "");
});

Deno.test("an identity proven over TLS cannot be used by someone who knows only its name and id", async (t) => {
  await using logs = await captureServerLogs("warning");
  await withServer(async (test) => {
    const fingerprint = test.server.fingerprint!;
    let victim: TestIdentity;
    {
      using client = await secureClient(test);
      victim = await signUpProven(client, "Victim", fingerprint);
    }
    const guessedKey = crypto.getRandomValues(new Uint8Array(32));
    await t.step("827, then an upload without the proof: 1607 and closed", async () => {
      using attacker = await secureClient(test);
      await attacker.request(victim.clientId, { code: RequestCode.Reconnect, name: victim.name });
      await attacker.expect(ResponseCode.ReconnectApproved); // a key it cannot unwrap
      await attacker.upload(victim.clientId, null, "evil.bin", new Uint8Array(100))
        .catch(() => {});
      assert.match(textOf(logs), /has not proven it holds its private key/);
    });
    await t.step("827, then a made-up proof: 1607 and closed", async () => {
      using attacker = await secureClient(test);
      await attacker.request(victim.clientId, { code: RequestCode.Reconnect, name: victim.name });
      await attacker.expect(ResponseCode.ReconnectApproved);
      await attacker.send(
        encodeKeyProofRequest(victim.clientId, await computeKeyProof(guessedKey, fingerprint)),
      );
      assert.match(await attacker.expectError(), /did not prove it holds the private key/);
      await attacker.readEnd();
    });
    await t.step("a verdict without the proof: 1607 and closed", async () => {
      using attacker = await secureClient(test);
      await attacker.request(victim.clientId, { code: RequestCode.Reconnect, name: victim.name });
      await attacker.expect(ResponseCode.ReconnectApproved);
      await attacker.request(victim.clientId, { code: RequestCode.CrcOk, fileName: "x" });
      assert.match(await attacker.expectError(), /no file received|not proven/);
    });
    await t.step("its own key for the victim's name and id: refused (826)", async () => {
      using attacker = await secureClient(test);
      const keys = await generateRsaKeyPair();
      await attacker.request(victim.clientId, {
        code: RequestCode.PublicKey,
        name: victim.name,
        publicKey: keys.publicKey,
      });
      assert.match(
        await attacker.expectError(),
        /already has a public key|only on the connection that registered the name/,
      );
    });
    assert.deepEqual(await storedFiles(test.dir, victim), []);
    // The victim's own key still works.
    using client = await secureClient(test);
    const aesKey = await client.reconnect(victim.clientId, victim.name, victim.keys.privateKey);
    await proveKey(client, victim.clientId, aesKey, fingerprint);
  });
});

Deno.test("a plain v3 client on the secure port gets nothing, and the log says why", async () => {
  await using logs = await captureServerLogs("warning");
  await withServer(async (test) => {
    using client = await RawClient.connect(test.server.securePort!);
    await client.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Lost" });
    // At most a TLS alert record (content type 21), never a v3 response.
    const answer = new Uint8Array(64);
    const n = await client.conn.read(answer);
    if (n !== null) assert.equal(answer[0], 21, `not a TLS alert: ${answer.subarray(0, n)}`);
  });
  assert.match(textOf(logs), /TLS failed/);
});

Deno.test("'server fingerprint' prints what clients pin, in both forms", async () => {
  await withServer(async (test) => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", join(ROOT, "server/main.ts"), "fingerprint", "--dir", test.dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const lines = new TextDecoder().decode(stdout).trim().split("\n");
    assert.equal(lines[0], formatFingerprint(test.server.fingerprint!));
    assert.match(lines[1]!, /^([0-9A-F]{2}:){31}[0-9A-F]{2} \(the same, as openssl x509/);
  });
  const empty = await Deno.makeTempDir();
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", join(ROOT, "server/main.ts"), "fingerprint", "--dir", empty],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 1);
    assert.match(new TextDecoder().decode(stderr), /does not exist yet/);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});
