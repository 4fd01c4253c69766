/**
 * Retrieval (860/861) against the attack budgets: a download slower than the
 * minimum rate, or one whose reader stops, is cut off and its slot freed; a
 * reader that keeps up with the minimum rate is not; many stalled downloads
 * keep the server's memory bounded; a file replaced or removed mid-download
 * never sends another file's bytes under the header's SHA-256; a long listing
 * stays one bounded page per frame; the plain port answers 860/861 as unknown
 * codes under the usual rejection budget.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientIdToHex,
  decodeFileHeader,
  decodeListPage,
  encodeGetRequest,
  encodeListRequest,
  MAX_LIST_PAGE_ENTRIES,
  maxRetrievalPayloadSize,
  NO_SHA256,
  ResponseCode,
  RetrievalResponse,
  Sha256,
} from "../protocol/mod.ts";
import { MAX_REJECTIONS } from "../server/session/end_reason.ts";
import { patternBytes } from "./support/client_process.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import {
  retrievalFrame,
  type Signed,
  signInAgain,
  signUpSecurely,
  storeFile,
} from "./support/secure_client.ts";
import { type TestServer, withServer } from "./support/test_server.ts";
import { delay, waitUntil, within } from "./support/reliability.ts";

function askFor(client: RawClient, signed: Signed, path: string): Promise<void> {
  return client.send(
    encodeGetRequest(signed.identity.clientId, { path, offset: 0, ifSha256: NO_SHA256 }),
  );
}

/** Reads `step` raw bytes every `everyMs` until `stop()` or the end; returns how many came. */
async function trickleRead(client: RawClient, step: number, everyMs: number, stop: () => boolean) {
  const buffer = new Uint8Array(step);
  let received = 0;
  for (let i = 0; i < 1000 && !stop(); i++) {
    await delay(everyMs);
    const n = await client.conn.read(buffer).catch(() => null);
    if (n === null) break;
    received += n;
  }
  return received;
}

/** The server's open connections, in every state. */
function openConnections(test: TestServer): number {
  return Object.values(test.server.connectionStates()).reduce((a, b) => a + b, 0);
}

const BIG = 48 * 1024 * 1024;

// The server ends its side: the bytes the kernel already holds for the peer
// may still trickle to it after that, so the slot is what is watched.
Deno.test("retrieval attack: a download slower than the minimum rate, or never read, is cut off and its slot freed", async (t) => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    await storeFile(owner, "big.bin", patternBytes(BIG, 5));

    await t.step(
      "a reader of 4 KiB every 100 ms (40 KiB/s) is cut at the request deadline",
      async () => {
        using slow = await signInAgain(test, owner);
        await askFor(slow, owner, "big.bin");
        assert.equal(openConnections(test), 2);
        let done = false;
        const reading = trickleRead(slow, 4096, 100, () => done);
        try {
          // The idle deadline (60 s) cannot be what frees it within 15 s.
          await waitUntil(
            "the slow download's slot to be freed",
            () => openConnections(test) === 1,
            15_000,
          );
        } finally {
          done = true;
        }
        assert.ok(await reading < BIG, "the whole file came: the reader was not slow enough");
      },
    );

    await t.step("a reader that stops reading is cut at the request deadline", async () => {
      using stopped = await signInAgain(test, owner);
      await askFor(stopped, owner, "big.bin");
      assert.equal(openConnections(test), 2);
      await waitUntil(
        "the stopped download's slot to be freed",
        () => openConnections(test) === 1,
        15_000,
      );
    });

    await t.step("the server goes on serving whole downloads", async () => {
      await askFor(owner.client, owner, "big.bin");
      const header = decodeFileHeader((await retrievalFrame(owner.client)).payload);
      const sha = new Sha256();
      for (let received = 0; received < header.size;) {
        const chunk = await retrievalFrame(owner.client);
        sha.update(chunk.payload);
        received += chunk.payload.length;
      }
      assert.deepEqual(sha.digest(), header.sha256);
    });
  }, { idleTimeoutMs: 60_000, requestTimeoutMs: 1500, headerTimeoutMs: 1500 });
});

Deno.test("retrieval attack: 150 stalled downloads keep the server's memory bounded", async () => {
  const DOWNLOADS = 150;
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    await storeFile(owner, "big.bin", patternBytes(16 * 1024 * 1024, 6));
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < DOWNLOADS; i++) clients.push(await signInAgain(test, owner));
      const before = Deno.memoryUsage().rss;
      // Each asks for 16 MB and reads only the 1661: 2.4 GB asked of the server.
      for (const client of clients) await askFor(client, owner, "big.bin");
      for (const client of clients) {
        assert.equal((await retrievalFrame(client)).code, RetrievalResponse.File);
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const grown = Deno.memoryUsage().rss - before;
      console.log(
        `${DOWNLOADS} stalled downloads: resident memory grew ${(grown / 2 ** 20).toFixed(1)} MiB`,
      );
      // One 256 KiB frame per download and the TLS relay's buffers: far below a file each.
      assert.ok(grown < 256 * 2 ** 20, `memory grew ${grown} bytes`);
    } finally {
      for (const client of clients) client.close();
    }
  }, { maxConnectionsPerAddress: 200, maxConnections: 256, maxConnectionsPerIdentity: 200 });
});

Deno.test("retrieval attack: a file replaced or removed mid-download never sends other bytes under its SHA-256", async (t) => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    const first = patternBytes(8 * 1024 * 1024, 1);
    const second = patternBytes(8 * 1024 * 1024, 2);
    const folder = join(test.dir, "received_files", clientIdToHex(owner.identity.clientId));
    for (
      const [label, change] of [
        [
          "replaced by a new upload of the same name and size",
          () => storeFile(owner, "f.bin", second),
        ],
        ["removed from the store", () => Deno.remove(join(folder, "f.bin"))],
      ] as const
    ) {
      await t.step(label, async () => {
        await storeFile(owner, "f.bin", first);
        using reader = await signInAgain(test, owner);
        await askFor(reader, owner, "f.bin");
        const header = decodeFileHeader((await retrievalFrame(reader)).payload);
        const content = new Uint8Array(header.size);
        let received = 0;
        const firstChunk = await retrievalFrame(reader);
        content.set(firstChunk.payload, 0);
        received += firstChunk.payload.length;
        await change();
        let refused = false;
        while (received < header.size) {
          const chunk = await reader.readFrame(maxRetrievalPayloadSize);
          if (chunk === null || chunk.code === ResponseCode.GeneralError) {
            refused = true;
            break;
          }
          content.set(chunk.payload, received);
          received += chunk.payload.length;
        }
        if (!refused) {
          // Whatever came is the file the header describes, byte for byte.
          assert.deepEqual(new Sha256().update(content).digest(), header.sha256);
          assert.deepEqual(content, first);
        }
      });
    }
  });
});

Deno.test("retrieval attack: a listing of 300 files comes in bounded pages whatever limit is asked", async () => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Many Files");
    for (let i = 0; i < 300; i++) {
      await storeFile(owner, `f${String(i).padStart(4, "0")}.txt`, new Uint8Array([i & 255]));
    }
    for (const limit of [0, MAX_LIST_PAGE_ENTRIES + 1, 0xffff]) {
      let cursor = "";
      let total = 0;
      for (let pages = 0; pages < 50; pages++) {
        await owner.client.send(encodeListRequest(owner.identity.clientId, { cursor, limit }));
        const got = await retrievalFrame(owner.client);
        assert.equal(got.code, RetrievalResponse.Page);
        const page = decodeListPage(got.payload);
        assert.ok(page.files.length <= MAX_LIST_PAGE_ENTRIES, `${page.files.length} entries`);
        assert.ok(got.payload.length <= maxRetrievalPayloadSize(RetrievalResponse.Page)!);
        total += page.files.length;
        if (!page.more) break;
        cursor = page.files.at(-1)!.path;
      }
      assert.equal(total, 300);
    }
  });
});

Deno.test("retrieval attack: the plain port answers a flood of 860/861 as unknown codes, then closes", async () => {
  await withServer(async (test) => {
    using plain = await RawClient.connect(test.port);
    const me = await signUp(plain, "Plain Flood");
    let answered = 0;
    for (let i = 0; i < MAX_REJECTIONS + 5; i++) {
      const request = i % 2 === 0
        ? encodeListRequest(me.clientId, { cursor: "", limit: 0 })
        : encodeGetRequest(me.clientId, { path: "a.txt", offset: 0, ifSha256: NO_SHA256 });
      const sent = await plain.send(request).then(() => true, () => false);
      if (!sent) break;
      const got = await within("an answer or the end", plain.readResponseOrEnd(), 10_000)
        .catch(() => null);
      if (got === null) break;
      assert.equal(got.code, ResponseCode.GeneralError);
      answered++;
    }
    assert.equal(answered, MAX_REJECTIONS, "the rejection budget did not close the connection");
  });
});
