import assert from "node:assert/strict";
import { computeKeyProof } from "../protocol/key_proof.ts";
import { KeyProofGate } from "../server/session/tls_proof.ts";

const FINGERPRINT = crypto.getRandomValues(new Uint8Array(32));

Deno.test("the proof gate opens for the right proof of the last key only, once", async () => {
  const gate = new KeyProofGate(FINGERPRINT);
  assert.equal(gate.due, false);
  assert.equal(gate.check(new Uint8Array(32)), false, "no proof is due before a key was sent");

  const first = crypto.getRandomValues(new Uint8Array(32));
  await gate.challenge(first);
  assert.equal(gate.due, true);
  assert.equal(gate.proven, false);
  assert.equal(gate.check(await computeKeyProof(first, FINGERPRINT)), true);
  assert.equal(gate.proven, true);
  assert.equal(gate.due, false);

  const second = crypto.getRandomValues(new Uint8Array(32));
  await gate.challenge(second);
  assert.equal(gate.proven, false, "a new key needs a new proof");
  const otherServer = FINGERPRINT.map((byte) => byte ^ 1);
  assert.equal(gate.check(await computeKeyProof(second, otherServer)), false);
  assert.equal(gate.check(await computeKeyProof(second, FINGERPRINT)), false, "one try only");
  assert.equal(gate.proven, false);
});
