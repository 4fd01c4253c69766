import assert from "node:assert/strict";
import { type ByteSource, ExactReader } from "../protocol/exact_reader.ts";
import { ProtocolError } from "../protocol/errors.ts";

/** A source that hands out `data` in reads of at most `step` bytes and counts them. */
class SteppedSource implements ByteSource {
  reads = 0;
  #offset = 0;
  constructor(private data: Uint8Array, private step: number) {}
  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    if (this.#offset >= this.data.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.step, this.data.length - this.#offset);
    p.set(this.data.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    return Promise.resolve(n);
  }
}

const data = new Uint8Array(100_000).map((_, i) => i % 251);

Deno.test("exact reads reassemble the stream whatever the read sizes", async () => {
  for (const step of [1, 7, 4096, 100_000]) {
    const reader = new ExactReader(new SteppedSource(data, step), 1024);
    const parts = [
      await reader.readExact(23, 100),
      await reader.readExact(0, 0),
      await reader.readExact(5000, 5000),
    ];
    const big = new Uint8Array(90_000);
    await reader.readInto(big);
    await reader.skip(4977);
    parts.push(big);
    assert.deepEqual(parts.flatMap((p) => [...p]), [...data.subarray(0, 95_023)]);
    assert.equal(await reader.readExactOrEnd(1, 1), null, `step ${step}`);
  }
});

Deno.test("a length over the limit is refused before anything is read", async () => {
  const source = new SteppedSource(data, 10);
  const reader = new ExactReader(source);
  await assert.rejects(reader.readExact(2 ** 32 - 1, 1024), ProtocolError);
  await assert.rejects(reader.readExact(-1, 1024), ProtocolError);
  assert.equal(source.reads, 0);
});

Deno.test("an early end is an UnexpectedEof error, a clean end is null", async () => {
  const reader = new ExactReader(new SteppedSource(data.subarray(0, 10), 3));
  assert.deepEqual(await reader.readExact(4, 4), data.subarray(0, 4));
  await assert.rejects(reader.readExact(20, 20), Deno.errors.UnexpectedEof);
  assert.equal(
    await new ExactReader(new SteppedSource(new Uint8Array(), 1)).readExactOrEnd(7, 7),
    null,
  );
  await assert.rejects(
    new ExactReader(new SteppedSource(new Uint8Array(), 1)).readExact(7, 7),
    Deno.errors.UnexpectedEof,
  );
  await assert.rejects(
    new ExactReader(new SteppedSource(data.subarray(0, 5), 5)).skip(6),
    Deno.errors.UnexpectedEof,
  );
});
