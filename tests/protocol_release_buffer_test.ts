import assert from "node:assert/strict";
import { releaseBuffer } from "../common/release_buffer.ts";

Deno.test("releaseBuffer detaches the buffer behind a view, and tolerates doing it twice", () => {
  const bytes = new Uint8Array(1024 * 1024).subarray(16, 32);
  releaseBuffer(bytes);
  assert.equal(bytes.buffer.byteLength, 0);
  assert.equal(bytes.length, 0);
  releaseBuffer(bytes);
});

Deno.test("releaseBuffer leaves a shared buffer alone", () => {
  const shared = new Uint8Array(new SharedArrayBuffer(64));
  releaseBuffer(shared);
  assert.equal(shared.length, 64);
});
