/**
 * Issue 11 §1: the 1603 was a decryption oracle. An impostor who knows a
 * client's name and id (both travel in clear) signs in with 827, which the
 * server approves although the AES key in 1605 is unreadable to it, and
 * sends uploads that are not kept. Each 1603 used to carry the cksum of what
 * the server decrypted; CRC is linear, so four such uploads gave the full
 * decryption of one 16-byte block (and from there a forged ciphertext with
 * right padding and trailer, stored with 900).
 *
 * This test performs that attack against a live server. The recovery is
 * proven right against the old answers (computed here with the session key,
 * which the test, unlike the attacker, can unwrap); the live server's
 * answers are the complement of each trailer, so the attacker learns nothing
 * it did not send, recovers garbage, and the victim's files stay as they were.
 */

import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import {
  cksum,
  CKSUM_TRAILER_SIZE,
  type ClientId,
  clientIdToHex,
  encodeFileNameField,
  RequestCode,
  ResponseCode,
  unwrapAesKey,
} from "../protocol/mod.ts";
import { buildPackets, RawClient, signUp } from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { listFiles } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

/** AES-256 decryption of one block (what CBC gives for the first block, IV zero). */
function decryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  const decipher = createDecipheriv("aes-256-cbc", key, new Uint8Array(16));
  decipher.setAutoPadding(false);
  return new Uint8Array(decipher.update(block));
}

/**
 * The four uploads of the attack on block `c`: one-block content cut to 4, 8
 * and 12 bytes, and a two-block content cut to 16 bytes. Each reveals (in the
 * old answer) the cksum of a prefix of D(c) that is 4 bytes longer.
 */
const PREFIXES = [4, 8, 12, 16];

function attackContent(c: Uint8Array, originalSize: number, trailer: number): Uint8Array {
  const blocks = originalSize < 16 ? 1 : 2;
  const content = new Uint8Array(blocks * 16 + CKSUM_TRAILER_SIZE);
  content.set(c, 0); // the second block (a padding block the cut drops) is anything
  new DataView(content.buffer).setUint32(blocks * 16, trailer, true);
  return content;
}

/**
 * Solves cksum(prefix || x) = answer for the 4 bytes x: over GF(2), with the
 * length fixed, the cksum is affine in x, and invertible in its last 4 bytes.
 */
function solveLastFour(prefix: Uint8Array, answer: number): Uint8Array {
  const at = (x: number) => {
    const message = new Uint8Array(prefix.length + 4);
    message.set(prefix);
    new DataView(message.buffer).setUint32(prefix.length, x);
    return cksum(message);
  };
  const base = at(0);
  // Rows: column i of the linear map is at(1 << i) ^ base. Gauss-Jordan on
  // [M | target] with 32 equations of 32 unknowns, packed as bit masks.
  const columns = Array.from({ length: 32 }, (_, i) => (at((1 << i) >>> 0) ^ base) >>> 0);
  const target = (answer ^ base) >>> 0;
  // Equation j (bit j of the output): sum over i of bit j of columns[i] * x_i = bit j of target.
  const rows = Array.from({ length: 32 }, (_, j) => {
    let mask = 0;
    for (let i = 0; i < 32; i++) if ((columns[i]! >>> j) & 1) mask = (mask | (1 << i)) >>> 0;
    return { mask, value: (target >>> j) & 1 };
  });
  for (let bit = 0; bit < 32; bit++) {
    const pivot = rows.findIndex((row, r) => r >= bit && ((row.mask >>> bit) & 1) === 1);
    assert.ok(pivot >= 0, "the cksum's last four bytes are a bijection");
    [rows[bit], rows[pivot]] = [rows[pivot]!, rows[bit]!];
    for (let r = 0; r < 32; r++) {
      if (r !== bit && ((rows[r]!.mask >>> bit) & 1) === 1) {
        rows[r] = {
          mask: (rows[r]!.mask ^ rows[bit]!.mask) >>> 0,
          value: rows[r]!.value ^ rows[bit]!.value,
        };
      }
    }
  }
  let x = 0;
  for (let bit = 0; bit < 32; bit++) if (rows[bit]!.value) x = (x | (1 << bit)) >>> 0;
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, x);
  return bytes;
}

/** Recovers D(c) from the four answers (the cksums of its 4-, 8-, 12- and 16-byte prefixes). */
function recoverBlock(answers: number[]): Uint8Array {
  const block = new Uint8Array(16);
  for (let k = 0; k < 4; k++) {
    block.set(solveLastFour(block.subarray(0, 4 * k), answers[k]!), 4 * k);
  }
  return block;
}

Deno.test("attack: the four answers of the old 1603 recover one block's decryption (the oracle this test checks for)", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const c = crypto.getRandomValues(new Uint8Array(16));
  const plain = decryptBlock(key, c);
  const oldAnswers = PREFIXES.map((n) => cksum(plain.subarray(0, n)));
  assert.deepEqual(recoverBlock(oldAnswers), plain);
});

/** Uploads raw content under the victim's id on the impostor's connection; returns the 1603's cksum. */
async function sendForged(
  attacker: RawClient,
  victimId: ClientId,
  content: Uint8Array,
  originalSize: number,
): Promise<number> {
  await attacker.sendHeader(victimId, RequestCode.SendFile, 0);
  await attacker.send(
    concat(buildPackets(content, originalSize, encodeFileNameField("report.bin"))),
  );
  const frame = await attacker.expect(ResponseCode.FileReceived);
  return (frame.response as { cksum: number }).cksum;
}

Deno.test("attack: an impostor with name and id learns nothing from 1603, and the victim's files stay byte-identical", async () => {
  await withServer(async ({ port, dir }) => {
    using victim = await RawClient.connect(port);
    const me = await signUp(victim, "Oracle Victim");
    const report = new TextEncoder().encode("the victim's confirmed report");
    await victim.upload(me.clientId, me.aesKey, "report.bin", report);
    await victim.request(me.clientId, { code: RequestCode.CrcOk, fileName: "report.bin" });
    await victim.expect(ResponseCode.Ack);
    const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
    const before = await listFiles(folder);

    // The impostor signs in with 827: approved, with a key wrapped for the victim.
    using attacker = await RawClient.connect(port);
    await attacker.request(me.clientId, { code: RequestCode.Reconnect, name: me.name });
    const approved = await attacker.expect(ResponseCode.ReconnectApproved);
    // The test (not the attacker) can read the session key, to know the truth.
    const sessionKey = await unwrapAesKey(
      me.keys.privateKey,
      (approved.response as { wrappedKey: Uint8Array }).wrappedKey,
    );
    const c = crypto.getRandomValues(new Uint8Array(16));
    const truth = decryptBlock(sessionKey, c);

    const answers: number[] = [];
    for (const [i, n] of PREFIXES.entries()) {
      const trailer = 0x1234_5678 + i;
      const answer = await sendForged(attacker, me.clientId, attackContent(c, n, trailer), n);
      // The answer is derived from what was sent only: the trailer's complement.
      assert.equal(answer, (~trailer) >>> 0);
      assert.notEqual(answer, cksum(truth.subarray(0, n)));
      answers.push(answer);
      await attacker.request(me.clientId, { code: RequestCode.CrcRetry, fileName: "report.bin" });
    }
    assert.notDeepEqual(recoverBlock(answers), truth, "the attack recovered the decryption");

    // Its forgeries are never kept: 900 is refused, 902 deletes nothing.
    await sendForged(attacker, me.clientId, attackContent(c, 16, 1), 16);
    await attacker.request(me.clientId, { code: RequestCode.CrcOk, fileName: "report.bin" });
    await attacker.expectError();
    await sendForged(attacker, me.clientId, attackContent(c, 16, 1), 16);
    await attacker.request(me.clientId, { code: RequestCode.CrcAbort, fileName: "report.bin" });
    await attacker.expect(ResponseCode.Ack);
    assert.deepEqual(await listFiles(folder), before);
    assert.deepEqual(await Deno.readFile(`${folder}/report.bin`), report);
  });
});
