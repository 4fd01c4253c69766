import assert from "node:assert/strict";
import {
  decodeDiscoveryResponse,
  DISCOVERY_REQUEST_CODE,
  DISCOVERY_RESPONSE_CODE,
  encodeDiscoveryRequest,
  encodeDiscoveryResponse,
  MAX_CERTIFICATE_SIZE,
} from "../protocol/discovery.ts";
import {
  certificateFingerprint,
  formatFingerprint,
  formatFingerprintHex,
  parseFingerprint,
} from "../protocol/fingerprint.ts";
import {
  computeKeyProof,
  encodeKeyProofRequest,
  KEY_PROOF_REQUEST_CODE,
  keyProofsEqual,
} from "../protocol/key_proof.ts";
import { decodePem, encodePem } from "../protocol/pem.ts";
import { decodeRequestHeader, decodeResponseHeader } from "../protocol/header.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { requestPayloadSize } from "../protocol/requests.ts";

const HASH = Uint8Array.from({ length: 32 }, (_, i) => i * 8);

Deno.test("a fingerprint prints as OpenSSH does and reads back in both forms", async (t) => {
  // SHA-256 of nothing: a digest everyone can check.
  const empty = await certificateFingerprint(new Uint8Array(0));
  assert.equal(formatFingerprint(empty), "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
  const hex = formatFingerprintHex(empty);
  assert.match(hex, /^E3:B0:C4:42:(?:[0-9A-F]{2}:){27}55$/);
  const cases: [string, string][] = [
    ["SHA256 Base64", formatFingerprint(HASH)],
    ["SHA256 Base64 with padding", formatFingerprint(HASH) + "="],
    ["colon hex", formatFingerprintHex(HASH)],
    ["lower-case hex without colons", formatFingerprintHex(HASH).replaceAll(":", "").toLowerCase()],
    ["openssl's line", `sha256 Fingerprint=${formatFingerprintHex(HASH)}`],
    ["surrounding spaces", `  ${formatFingerprint(HASH)}\n`],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => assert.deepEqual(parseFingerprint(text), HASH));
  }
});

Deno.test("a malformed fingerprint is a SyntaxError that quotes it", async (t) => {
  const good = formatFingerprint(HASH);
  for (
    const text of [
      "",
      "SHA256:",
      good.slice(0, -1),
      good + "A",
      good.slice(0, -1) + "B", // the last character carries 4 bits: B sets one that is not there
      "MD5:" + good.slice(7),
      formatFingerprintHex(HASH).slice(3),
      formatFingerprintHex(HASH).replace(":", ";"),
    ]
  ) {
    await t.step(JSON.stringify(text), () => {
      assert.throws(() => parseFingerprint(text), (error: Error) => {
        assert.ok(error instanceof SyntaxError);
        assert.ok(error.message.startsWith("Cannot parse fingerprint"));
        return true;
      });
    });
  }
  assert.throws(() => formatFingerprint(new Uint8Array(31)), RangeError);
});

Deno.test("the discovery request is a bare header, unknown to the protocol v3", () => {
  const bytes = encodeDiscoveryRequest();
  assert.equal(bytes.length, 23);
  const header = decodeRequestHeader(bytes);
  assert.deepEqual(header.clientId, new Uint8Array(16)); // nothing about the client
  assert.equal(header.code, DISCOVERY_REQUEST_CODE);
  assert.equal(header.payloadSize, 0);
  assert.equal(requestPayloadSize(DISCOVERY_REQUEST_CODE), undefined);
  assert.equal(requestPayloadSize(KEY_PROOF_REQUEST_CODE), undefined);
});

Deno.test("the discovery answer round-trips and refuses what does not add up", async (t) => {
  const certificate = crypto.getRandomValues(new Uint8Array(300));
  const frame = encodeDiscoveryResponse({ securePort: 1257, certificate });
  const header = decodeResponseHeader(frame);
  assert.equal(header.code, DISCOVERY_RESPONSE_CODE);
  assert.equal(header.payloadSize, frame.length - 7);
  const payload = frame.subarray(7);
  assert.deepEqual(decodeDiscoveryResponse(payload), { securePort: 1257, certificate });

  const altered = (change: (bytes: Uint8Array) => Uint8Array) => () =>
    assert.throws(() => decodeDiscoveryResponse(change(payload.slice())), ProtocolError);
  await t.step("version 2", altered((bytes) => (bytes[0] = 2, bytes)));
  await t.step("port 0", altered((bytes) => (bytes[1] = 0, bytes[2] = 0, bytes)));
  await t.step("certificate size too large", altered((bytes) => (bytes[3]! += 1, bytes)));
  await t.step("truncated", altered((bytes) => bytes.subarray(0, bytes.length - 1)));
  await t.step("no certificate", altered((bytes) => bytes.subarray(0, 5)));
  await t.step("empty", altered(() => new Uint8Array(0)));
  assert.throws(() => encodeDiscoveryResponse({ securePort: 0, certificate }), RangeError);
  assert.throws(
    () =>
      encodeDiscoveryResponse({
        securePort: 1,
        certificate: new Uint8Array(MAX_CERTIFICATE_SIZE + 1),
      }),
    RangeError,
  );
});

Deno.test("a key proof depends on the key and on the server's fingerprint", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const proof = await computeKeyProof(key, HASH);
  assert.equal(proof.length, 32);
  assert.ok(keyProofsEqual(proof, await computeKeyProof(key.slice(), HASH.slice())));
  const otherKey = key.slice();
  otherKey[0]! ^= 1;
  const otherServer = HASH.slice();
  otherServer[31]! ^= 1;
  assert.ok(!keyProofsEqual(proof, await computeKeyProof(otherKey, HASH)));
  assert.ok(!keyProofsEqual(proof, await computeKeyProof(key, otherServer)));
  assert.ok(!keyProofsEqual(proof, proof.subarray(0, 31)));
  assert.ok(!keyProofsEqual(proof, key), "the proof is not the key");
  await assert.rejects(() => computeKeyProof(key.subarray(1), HASH), RangeError);

  const id = Uint8Array.from({ length: 16 }, (_, i) => i);
  const request = encodeKeyProofRequest(id, proof);
  assert.deepEqual(decodeRequestHeader(request), {
    clientId: id,
    version: 3,
    code: KEY_PROOF_REQUEST_CODE,
    payloadSize: 32,
  });
  assert.deepEqual(request.subarray(23), proof);
});

Deno.test("PEM wraps DER in 64-character lines and finds one labelled block", () => {
  const der = crypto.getRandomValues(new Uint8Array(100));
  const pem = encodePem("CERTIFICATE", der);
  const lines = pem.split("\n");
  assert.equal(lines[0], "-----BEGIN CERTIFICATE-----");
  assert.equal(lines[1]!.length, 64);
  assert.equal(lines.at(-2), "-----END CERTIFICATE-----");
  const both = pem + encodePem("PRIVATE KEY", der.subarray(50));
  assert.deepEqual(decodePem(both, "CERTIFICATE"), der);
  assert.deepEqual(decodePem(both.replaceAll("\n", "\r\n"), "PRIVATE KEY"), der.subarray(50));
  assert.throws(() => decodePem(pem, "PRIVATE KEY"), SyntaxError);
  assert.throws(() => decodePem(pem + pem, "CERTIFICATE"), SyntaxError);
  assert.throws(() => decodePem(pem.replace(lines[1]!, "!!!!"), "CERTIFICATE"), SyntaxError);
});
