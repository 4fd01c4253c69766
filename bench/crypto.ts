/**
 * Throughput of the protocol's hot paths: cksum, AES-256-CBC encryption and
 * decryption, streamed over 256 MiB in 1 MiB chunks, as the server and client
 * use them. Prints MB/s (10^6 bytes per second).
 *
 * Run: `deno task bench:crypto`
 *
 * @module
 */

import {
  AesCbcDecryptor,
  AesCbcEncryptor,
  generateAesKey,
  importAesKey,
} from "../protocol/aes_cbc.ts";
import { Cksum } from "../protocol/cksum.ts";

const TOTAL = 256 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const ROUNDS = 3;

const chunk = new Uint8Array(CHUNK);
for (let offset = 0; offset < CHUNK; offset += 65_536) {
  crypto.getRandomValues(chunk.subarray(offset, offset + 65_536));
}

async function measure(label: string, run: () => Promise<void> | void): Promise<void> {
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    await run();
    rates.push(TOTAL / 1e6 / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  console.log(`${label.padEnd(24)} ${rates[1]!.toFixed(0).padStart(6)} MB/s (median of ${ROUNDS})`);
}

const key = await importAesKey(generateAesKey());
const ciphertext = new Uint8Array(CHUNK);
{
  const encryptor = new AesCbcEncryptor(key);
  ciphertext.set(await encryptor.update(chunk));
}

console.log(`256 MiB in ${CHUNK / 1024} KiB chunks`);
await measure("cksum", () => {
  const sum = new Cksum();
  for (let done = 0; done < TOTAL; done += CHUNK) sum.update(chunk);
  sum.digest();
});
await measure("AES-256-CBC encrypt", async () => {
  const encryptor = new AesCbcEncryptor(key);
  for (let done = 0; done < TOTAL; done += CHUNK) await encryptor.update(chunk);
  await encryptor.finish();
});
await measure("AES-256-CBC decrypt", async () => {
  // Decrypting the same chunk again and again is fine for speed: CBC does not
  // care whether the chained IV matches.
  const decryptor = new AesCbcDecryptor(key);
  for (let done = 0; done < TOTAL; done += CHUNK) await decryptor.update(ciphertext);
  await decryptor.finish({ raw: true });
});
