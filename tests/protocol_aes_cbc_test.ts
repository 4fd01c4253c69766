import assert from "node:assert/strict";
import {
  AesCbcDecryptor,
  AesCbcEncryptor,
  aesDecrypt,
  aesEncrypt,
  generateAesKey,
  importAesKey,
} from "../protocol/aes_cbc.ts";
import { cipherSizeFor } from "../protocol/packet.ts";
import { concat } from "../harness/bytes.ts";

const SIZES = [0, 1, 15, 16, 17, 7925, 7926, 3 * 1024 * 1024 + 5];

function pattern(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 8)) & 0xff;
  return data;
}

/** Chunkings: fixed sizes that do and do not line up with blocks, and a ragged one. */
function chunkings(size: number): number[][] {
  const fixed = [1, 7, 16, 7925, 1 << 20].map((step) => {
    const steps: number[] = [];
    for (let offset = 0; offset < size; offset += step) steps.push(Math.min(step, size - offset));
    return steps;
  });
  const ragged: number[] = [];
  let left = size;
  for (let i = 0; left > 0; i++) {
    const step = Math.min(left, [3, 0, 16, 33, 1000, 65_536][i % 6]!);
    ragged.push(step);
    left -= step;
  }
  return [...fixed.filter((steps) => steps.length <= 20_000), ragged];
}

async function streamed(
  cipher: { update(c: Uint8Array): Promise<Uint8Array> },
  data: Uint8Array,
  steps: number[],
  finish: () => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const step of steps) {
    parts.push(await cipher.update(data.subarray(offset, offset + step)));
    offset += step;
  }
  parts.push(await finish());
  return concat(parts);
}

Deno.test("streaming AES-CBC equals one-shot, both ways, in every chunking", async (t) => {
  const key = await importAesKey(generateAesKey());
  for (const size of SIZES) {
    await t.step(`${size} bytes`, () => streamedEqualsOneShot(key, size));
  }
});

async function streamedEqualsOneShot(key: CryptoKey, size: number): Promise<void> {
  const plain = pattern(size);
  const oneShot = await aesEncrypt(key, plain);
  assert.equal(oneShot.length, cipherSizeFor(size));
  assert.deepEqual(await aesDecrypt(key, oneShot), plain);
  for (const steps of chunkings(size)) {
    const label = `${size} bytes in ${steps.length} chunks`;
    const encryptor = new AesCbcEncryptor(key);
    const encrypted = await streamed(encryptor, plain, steps, () => encryptor.finish());
    assert.deepEqual(encrypted, oneShot, `encrypt: ${label}`);
    for (const cipherSteps of chunkings(oneShot.length).slice(2)) {
      const decryptor = new AesCbcDecryptor(key);
      const decrypted = await streamed(decryptor, oneShot, cipherSteps, () => decryptor.finish());
      assert.deepEqual(decrypted, plain, `decrypt: ${label}, ${cipherSteps.length} chunks`);
    }
  }
}

Deno.test("raw decryption keeps the padding, as the reference server does", async () => {
  const key = await importAesKey(generateAesKey());
  const plain = pattern(20);
  const decryptor = new AesCbcDecryptor(key);
  const out = concat([
    await decryptor.update(await aesEncrypt(key, plain)),
    await decryptor.finish({ raw: true }),
  ]);
  assert.equal(out.length, 32);
  assert.deepEqual(out.subarray(0, 20), plain);
  assert.deepEqual(out.subarray(20), new Uint8Array(12).fill(12));
});

Deno.test("decryption rejects bad padding, partial blocks and empty input", async () => {
  const key = await importAesKey(generateAesKey());
  const ciphertext = await aesEncrypt(key, pattern(100));

  // In CBC, flipping a bit of the second-to-last ciphertext block flips the
  // same bit of the last plaintext block: turn the pad byte 12 into 0.
  const tampered = ciphertext.slice();
  tampered[tampered.length - 17]! ^= 12;
  const badPadding = new AesCbcDecryptor(key);
  await badPadding.update(tampered);
  await assert.rejects(badPadding.finish(), /padding is not valid PKCS#7/);
  await assert.rejects(aesDecrypt(key, tampered), RangeError);

  const partial = new AesCbcDecryptor(key);
  await partial.update(ciphertext.subarray(0, 40));
  await assert.rejects(partial.finish(), /not a whole, non-empty number/);

  await assert.rejects(new AesCbcDecryptor(key).finish(), /not a whole, non-empty number/);
  await assert.rejects(aesDecrypt(key, ciphertext.subarray(0, 40)), RangeError);
});

Deno.test("a finished stream refuses more input", async () => {
  const key = await importAesKey(generateAesKey());
  const encryptor = new AesCbcEncryptor(key);
  await encryptor.finish();
  await assert.rejects(encryptor.update(new Uint8Array(1)), TypeError);
  await assert.rejects(encryptor.finish(), TypeError);
});

Deno.test("AES keys must be 32 bytes", () => {
  assert.throws(() => importAesKey(new Uint8Array(16)), RangeError);
  assert.equal(generateAesKey().length, 32);
});
