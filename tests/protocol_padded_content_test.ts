import assert from "node:assert/strict";
import { PaddingDecryptor, PaddingEncryptor } from "../protocol/padded_content.ts";
import { contentSizeFor } from "../protocol/packet.ts";
import { CKSUM_TRAILER_SIZE } from "../protocol/constants.ts";

async function pad(data: Uint8Array, chunk: number): Promise<Uint8Array> {
  const encryptor = new PaddingEncryptor();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += chunk) {
    parts.push(await encryptor.update(data.subarray(i, i + chunk)));
  }
  parts.push(await encryptor.finish());
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

Deno.test("the secure port's content has the sizes of the AES-CBC content, in any chunking", async (t) => {
  for (const size of [0, 1, 15, 16, 17, 31, 32, 1000]) {
    await t.step(`${size} bytes`, async () => {
      const data = crypto.getRandomValues(new Uint8Array(size));
      for (const chunk of [1, 7, 16, 4096]) {
        const content = await pad(data, chunk);
        assert.equal(content.length + CKSUM_TRAILER_SIZE, contentSizeFor(size));
        assert.deepEqual(content.subarray(0, size), data);
        const decryptor = new PaddingDecryptor();
        const parts: number[] = [];
        for (let i = 0; i < content.length; i += chunk) {
          parts.push(...await decryptor.update(content.subarray(i, i + chunk)));
        }
        parts.push(...await decryptor.finish());
        assert.deepEqual(Uint8Array.from(parts), data);
      }
    });
  }
});

Deno.test("the secure port's content refuses a bad padding or a partial block", async () => {
  const bad = new PaddingDecryptor();
  await bad.update(new Uint8Array(16).fill(3)); // ends in 3, 3, 3 after 13 threes: fine
  assert.deepEqual(await bad.finish(), new Uint8Array(13).fill(3));
  const wrong = new PaddingDecryptor();
  await wrong.update(Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? 2 : 9)));
  await assert.rejects(() => wrong.finish(), RangeError);
  const raw = new PaddingDecryptor();
  await raw.update(Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? 2 : 9)));
  assert.equal((await raw.finish({ raw: true })).length, 16);
  const partial = new PaddingDecryptor();
  await partial.update(new Uint8Array(20));
  await assert.rejects(() => partial.finish(), RangeError);
  const fresh = new PaddingDecryptor();
  const input = new Uint8Array(64);
  const output = await fresh.update(input);
  assert.notEqual(output.buffer, input.buffer, "a fresh buffer, which the server may detach");
});

Deno.test("the secure port's padding without copies passes each chunk itself and pads the same", async () => {
  const data = crypto.getRandomValues(new Uint8Array(1000));
  const copying = new PaddingEncryptor();
  const passing = new PaddingEncryptor({ copy: false });
  for (let i = 0; i < data.length; i += 300) {
    const chunk = data.subarray(i, i + 300);
    const copy = await copying.update(chunk);
    assert.notEqual(copy.buffer, chunk.buffer);
    assert.equal(await passing.update(chunk), chunk);
  }
  assert.deepEqual(await passing.finish(), await copying.finish());
});
