import assert from "node:assert/strict";
import { Cksum, cksum } from "../protocol/cksum.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("cksum matches the vectors of docs/protocol.md", () => {
  const ramp = new Uint8Array(1024).map((_, i) => i & 0xff);
  assert.equal(cksum(new Uint8Array(0)), 4294967295);
  assert.equal(cksum(text("123456789")), 930766865);
  assert.equal(cksum(text("a")), 1220704766);
  assert.equal(cksum(text("abc")), 1219131554);
  assert.equal(cksum(new Uint8Array([0])), 4215202376);
  assert.equal(cksum(ramp), 2721443265);
});

/** A reproducible pseudo-random generator (xorshift32), so failures can be replayed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

async function coreutilsCksum(data: Uint8Array): Promise<number> {
  const child = new Deno.Command("cksum", { stdin: "piped", stdout: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(data);
  await writer.close();
  const { stdout, success } = await child.output();
  assert.ok(success, "cksum exited with an error");
  return Number(new TextDecoder().decode(stdout).split(" ")[0]);
}

Deno.test("cksum of random buffers in random chunkings equals the cksum command", async (t) => {
  const next = random(0x5eed);
  const sizes = [1, 15, 16, 17, 255, 256, 4095, 7925, 65_537, 1_000_003];
  for (const size of sizes) {
    await t.step(`${size} bytes`, () => chunkedEqualsCoreutils(next, size));
  }
});

async function chunkedEqualsCoreutils(next: () => number, size: number): Promise<void> {
  const data = new Uint8Array(size).map(() => Math.floor(next() * 256));
  const expected = await coreutilsCksum(data);
  assert.equal(cksum(data), expected, `one shot, ${size} bytes`);
  for (let round = 0; round < 3; round++) {
    const sum = new Cksum();
    let offset = 0;
    while (offset < size) {
      const step = 1 + Math.floor(next() * Math.min(size, 40_000));
      sum.update(data.subarray(offset, offset + step));
      offset += step;
    }
    assert.equal(sum.length, size);
    assert.equal(sum.digest(), expected, `chunked round ${round}, ${size} bytes`);
  }
}

Deno.test("cksum digest does not change the running state", () => {
  const sum = new Cksum().update(text("1234"));
  sum.digest();
  sum.update(text("56789"));
  assert.equal(sum.digest(), 930766865);
});
