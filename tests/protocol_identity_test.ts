import assert from "node:assert/strict";
import {
  formatMeInfo,
  formatPrivateKey,
  parseMeInfo,
  parsePrivateKey,
} from "../protocol/identity.ts";
import {
  generateRsaKeyPair,
  importPrivateKey,
  importPublicKey,
  unwrapAesKey,
  wrapAesKey,
} from "../protocol/rsa.ts";
import { generateAesKey } from "../protocol/aes_cbc.ts";
import { clientIdToHex } from "../protocol/fields.ts";
import { readFixtureText } from "./support/golden_session.ts";

Deno.test("the recorded identity files load, and ours are byte-identical to them", async (t) => {
  for (const session of ["s1", "s3"]) {
    await t.step(session, () => identityRoundTrips(session));
  }
});

async function identityRoundTrips(session: string): Promise<void> {
  const meInfo = await readFixtureText(`${session}-info.me`);
  const privKey = await readFixtureText(`${session}-priv.key`);
  const identity = parseMeInfo(meInfo);
  assert.equal(identity.name, "Golden User");
  assert.deepEqual(identity.privateKeyDer, parsePrivateKey(privKey));
  await importPrivateKey(identity.privateKeyDer);
  assert.equal(formatPrivateKey(identity.privateKeyDer), privKey);
  assert.equal(formatMeInfo(identity), meInfo);
}

Deno.test("a new key pair has a 160-byte public key and writes files that read back", async () => {
  const pair = await generateRsaKeyPair();
  assert.equal(pair.publicKey.length, 160);
  const clientId = crypto.getRandomValues(new Uint8Array(16));
  const text = formatMeInfo({ name: "Tester", clientId, privateKeyDer: pair.privateKeyDer });
  const lines = text.split("\n");
  assert.equal(lines[0], "Tester");
  assert.equal(lines[1], clientIdToHex(clientId));
  for (const line of lines.slice(2, -3)) assert.equal(line.length, 72);
  assert.ok(text.endsWith("\n\n"));
  const back = parseMeInfo(text.replaceAll("\n", "\r\n"));
  assert.deepEqual(back, { name: "Tester", clientId, privateKeyDer: pair.privateKeyDer });

  const aesKey = generateAesKey();
  const wrapped = await wrapAesKey(await importPublicKey(pair.publicKey), aesKey);
  assert.equal(wrapped.length, 128);
  const reimported = await importPrivateKey(parsePrivateKey(formatPrivateKey(pair.privateKeyDer)));
  assert.deepEqual(await unwrapAesKey(reimported, wrapped), aesKey);
});

Deno.test("key wrapping refuses wrong sizes and foreign keys", async () => {
  const [ours, theirs] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  const wrapped = await wrapAesKey(await importPublicKey(theirs.publicKey), generateAesKey());
  await assert.rejects(unwrapAesKey(ours.privateKey, wrapped), /not wrapped with our public key/);
  await assert.rejects(unwrapAesKey(ours.privateKey, wrapped.subarray(1)), /127 bytes/);
  // A valid 128-byte ciphertext that unwraps to a 16-byte key.
  const short = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "RSA-OAEP" },
      await importPublicKey(ours.publicKey),
      new Uint8Array(16),
    ),
  );
  await assert.rejects(unwrapAesKey(ours.privateKey, short), /16 bytes instead of 32/);
  await assert.rejects(wrapAesKey(await importPublicKey(ours.publicKey), new Uint8Array(16)));
  await assert.rejects(importPublicKey(new Uint8Array(162)), /162 bytes/);
  await assert.rejects(importPublicKey(new Uint8Array(160)), /not an RSA/);
  await assert.rejects(importPrivateKey(new Uint8Array(10)), TypeError);
});

Deno.test("malformed identity files are refused with the line that is wrong", () => {
  assert.throws(() => parseMeInfo(""), /line 1: the name is empty/);
  assert.throws(() => parseMeInfo("name\nnot-hex\nAAAA\n"), /line 2/);
  assert.throws(() => parseMeInfo(`name\n${"ab".repeat(16)}\n`), /lines 3 and on/);
  assert.throws(() => parseMeInfo(`name\n${"ab".repeat(16)}\n!!!!\n`), /lines 3 and on/);
  assert.throws(() => parsePrivateKey("AAA"), /not Base64/);
  assert.throws(() => parsePrivateKey(" \n"), /empty/);
});
