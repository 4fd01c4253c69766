/**
 * Issue 21 on the server's side, with a raw client: 860 lists and 861 fetches
 * the signed-in client's own files on the secure port after the key proof;
 * another identity sees none of them and cannot fetch them by name, by path
 * tricks or by a guessed name; the plain port refuses both as unknown codes;
 * a fetch continues from an offset only for the very file it began; a file
 * altered on disk is not served as the recorded one.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  cksum,
  clientIdToHex,
  decodeFileHeader,
  decodeListPage,
  decodeNoSuchFile,
  decodeResponse,
  encodeGetRequest,
  encodeListRequest,
  encodeRequestHeader,
  type FileHeader,
  type ListedFile,
  NO_SHA256,
  RequestCode,
  ResponseCode,
  RetrievalRequest,
  RetrievalResponse,
  Sha256,
} from "../protocol/mod.ts";
import { patternBytes } from "./support/client_process.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import {
  retrievalFrame,
  secureClient,
  type Signed,
  signUpSecurely,
  storeFile,
} from "./support/secure_client.ts";
import { withServer } from "./support/test_server.ts";
import { storeInFolder } from "./support/stored_file.ts";

async function errorText(client: RawClient): Promise<string> {
  const got = await retrievalFrame(client);
  assert.equal(got.code, ResponseCode.GeneralError);
  return (decodeResponse(got.code, got.payload) as { text: string }).text;
}

/** Every file of the signed-in client, page by page. */
async function listAll(signed: Signed, limit = 0): Promise<{ files: ListedFile[]; pages: number }> {
  const files: ListedFile[] = [];
  let cursor = "";
  for (let pages = 1; pages < 100; pages++) {
    await signed.client.send(encodeListRequest(signed.identity.clientId, { cursor, limit }));
    const got = await retrievalFrame(signed.client);
    assert.equal(got.code, RetrievalResponse.Page);
    const page = decodeListPage(got.payload);
    if (limit > 0) assert.ok(page.files.length <= limit);
    files.push(...page.files);
    if (!page.more) return { files, pages };
    cursor = page.files.at(-1)!.path;
  }
  throw new Error("the listing never ended");
}

/** 861: the header and the content that follows. */
async function get(
  signed: Signed,
  path: string,
  offset = 0,
  ifSha256 = NO_SHA256,
): Promise<{ header: FileHeader; content: Uint8Array } | { missing: string }> {
  await signed.client.send(encodeGetRequest(signed.identity.clientId, { path, offset, ifSha256 }));
  const first = await retrievalFrame(signed.client);
  if (first.code === RetrievalResponse.NoSuchFile) {
    return { missing: decodeNoSuchFile(first.payload).path };
  }
  assert.equal(first.code, RetrievalResponse.File, `expected 1661, got ${first.code}`);
  const header = decodeFileHeader(first.payload);
  const content = new Uint8Array(header.size - header.start);
  let received = 0;
  while (received < content.length) {
    const chunk = await retrievalFrame(signed.client);
    assert.equal(chunk.code, RetrievalResponse.Bytes, `expected 1662, got ${chunk.code}`);
    content.set(chunk.payload, received);
    received += chunk.payload.length;
  }
  return { header, content };
}

const SIZES = [0, 1, 3 * 1024 * 1024];

Deno.test("retrieval: the owner lists and fetches its files, sums and folders included", async (t) => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    const contents = new Map<string, Uint8Array>();
    for (const size of SIZES) {
      const data = patternBytes(size, size + 1);
      await storeFile(owner, `size-${size}.bin`, data);
      contents.set(`size-${size}.bin`, data);
    }
    for (const path of ["album/2024/cat.jpg", "album/dog.jpg", "Z-first.txt"]) {
      const data = new TextEncoder().encode(`content of ${path}`);
      await storeInFolder(test.dir, owner.identity.clientId, path, data);
      contents.set(path, data);
    }
    const names = [...contents.keys()].sort();

    await t.step("860 lists every file with its size, cksum and SHA-256", async () => {
      const { files } = await listAll(owner);
      assert.deepEqual(files.map((f) => f.path), names);
      for (const file of files) {
        const data = contents.get(file.path)!;
        assert.equal(file.size, data.length, file.path);
        assert.equal(file.cksum, cksum(data), file.path);
        assert.deepEqual(file.sha256, new Sha256().update(data).digest(), file.path);
        assert.ok(Math.abs(file.storedAt - Date.now()) < 600_000, "stored within the test");
      }
    });

    await t.step("a listing larger than a page comes in pages", async () => {
      const { files, pages } = await listAll(owner, 2);
      assert.deepEqual(files.map((f) => f.path), names);
      assert.equal(pages, Math.ceil(names.length / 2));
    });

    for (const [path, data] of contents) {
      await t.step(`861 sends ${path} (${data.length} bytes) whole`, async () => {
        const got = await get(owner, path);
        assert.ok("header" in got);
        assert.equal(got.header.start, 0);
        assert.equal(got.header.size, data.length);
        assert.equal(got.header.cksum, cksum(data));
        assert.deepEqual(got.content, data);
      });
    }

    await t.step("a fetch continues from an offset only for the very file it began", async () => {
      const path = `size-${SIZES[2]}.bin`;
      const data = contents.get(path)!;
      const sha = new Sha256().update(data).digest();
      const half = Math.floor(data.length / 2);
      const resumed = await get(owner, path, half, sha);
      assert.ok("header" in resumed);
      assert.equal(resumed.header.start, half);
      assert.deepEqual(resumed.content, data.subarray(half));
      // Another SHA-256 (the file changed since), or none: from 0.
      const other = await get(owner, path, half, new Uint8Array(32).fill(9));
      assert.ok("header" in other && other.header.start === 0);
      const none = await get(owner, path, half, NO_SHA256);
      assert.ok("header" in none && none.header.start === 0);
      // Past the end: from 0. At the very end: nothing more to send.
      const past = await get(owner, path, data.length + 1, sha);
      assert.ok("header" in past && past.header.start === 0);
      const end = await get(owner, path, data.length, sha);
      assert.ok("header" in end && end.header.start === data.length && end.content.length === 0);
    });

    await t.step(
      "a name the owner does not hold gets 1663, and the connection goes on",
      async () => {
        assert.deepEqual(await get(owner, "nothing-here.bin"), { missing: "nothing-here.bin" });
        assert.ok("header" in await get(owner, "Z-first.txt"));
      },
    );
  });
});

Deno.test("retrieval: another identity sees none of them and cannot fetch them", async (t) => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    await storeFile(owner, "secret.txt", new TextEncoder().encode("the owner's secret"));
    await storeInFolder(test.dir, owner.identity.clientId, "deep/secret.txt", new Uint8Array(5));
    const ownerHex = clientIdToHex(owner.identity.clientId);
    const other = await signUpSecurely(test, "Other");
    await storeFile(other, "mine.txt", new TextEncoder().encode("other's own"));

    await t.step("the listing holds only its own file", async () => {
      assert.deepEqual((await listAll(other)).files.map((f) => f.path), ["mine.txt"]);
    });

    const attempts = [
      "secret.txt",
      "deep/secret.txt",
      `../${ownerHex}/secret.txt`,
      `${ownerHex}/secret.txt`,
      `/${ownerHex}/secret.txt`,
      `mine.txt/../../${ownerHex}/secret.txt`,
      `./secret.txt`,
      `deep//secret.txt`,
      `..\\${ownerHex}\\secret.txt`,
      "secre\u0074.txt\u0000",
      "~upload-0123456789abcdef.partial",
      "",
    ];
    for (const path of attempts) {
      await t.step(
        `861 ${JSON.stringify(path)}: 1663, as for any name it does not hold`,
        async () => {
          assert.deepEqual(await get(other, path), { missing: path });
        },
      );
    }

    await t.step("a cursor from another client's names lists only its own", async () => {
      await other.client.send(
        encodeListRequest(other.identity.clientId, { cursor: "a", limit: 0 }),
      );
      const page = decodeListPage((await retrievalFrame(other.client)).payload);
      assert.deepEqual(page.files.map((f) => f.path), ["mine.txt"]);
    });

    await t.step("the owner's id in the header is refused (1607), nothing sent", async () => {
      await other.client.send(
        encodeGetRequest(owner.identity.clientId, {
          path: "secret.txt",
          offset: 0,
          ifSha256: NO_SHA256,
        }),
      );
      assert.match(await errorText(other.client), /client id is not this connection's/);
      assert.deepEqual((await listAll(other)).files.map((f) => f.path), ["mine.txt"]);
    });
  });
});

Deno.test("retrieval: only on the secure port, after the key proof", async (t) => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    await storeFile(owner, "a.txt", new TextEncoder().encode("a"));

    await t.step(
      "the plain port: 860 and 861 are unknown codes; the connection goes on",
      async () => {
        using plain = await RawClient.connect(test.port);
        const me = await signUp(plain, "Plain");
        await plain.send(encodeListRequest(me.clientId, { cursor: "", limit: 0 }));
        assert.match(await plain.expectError(), /unknown request code 860/);
        await plain.send(
          encodeGetRequest(me.clientId, { path: "a.txt", offset: 0, ifSha256: NO_SHA256 }),
        );
        assert.match(await plain.expectError(), /unknown request code 861/);
        await plain.request(me.clientId, { code: RequestCode.Reconnect, name: "Plain" });
        await plain.expect(ResponseCode.ReconnectApproved);
      },
    );

    await t.step("the secure port before any sign-in: 1607, nothing listed", async () => {
      using client = await secureClient(test);
      await client.send(encodeListRequest(owner.identity.clientId, { cursor: "", limit: 0 }));
      assert.match(await errorText(client), /no client is signed in/);
    });

    await t.step("signed in but the key not proven: 1607 and the connection closes", async () => {
      using client = await secureClient(test);
      await client.reconnect(owner.identity.clientId, "Owner", owner.identity.keys.privateKey);
      await client.send(encodeListRequest(owner.identity.clientId, { cursor: "", limit: 0 }));
      assert.match(await errorText(client), /has not proven/);
      await client.readEnd();
    });

    await t.step("a malformed payload: 1607, the connection goes on", async () => {
      const header = encodeRequestHeader(owner.identity.clientId, RetrievalRequest.Get, 5);
      await owner.client.send(header);
      await owner.client.send(new Uint8Array(5));
      assert.match(await errorText(owner.client), /Cannot decode get request/);
      assert.equal((await listAll(owner)).files.length, 1);
    });

    await t.step("a payload larger than the code allows: 1607 and closed", async () => {
      await owner.client.sendHeader(owner.identity.clientId, RetrievalRequest.List, 100_000);
      assert.match(await errorText(owner.client), /more than/);
      await owner.client.readEnd();
    });
  });
});

Deno.test("retrieval: a stored file altered on disk is not served as the recorded one", async () => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    const data = patternBytes(100_000, 3);
    await storeFile(owner, "a.bin", data);
    await storeFile(owner, "b.bin", data);
    const folder = join(test.dir, "received_files", clientIdToHex(owner.identity.clientId));
    // Same size, other bytes: served, but not the recorded SHA-256 (the client refuses it).
    const altered = data.slice();
    altered[500] = altered[500]! ^ 0xff;
    await Deno.writeFile(join(folder, "a.bin"), altered);
    const got = await get(owner, "a.bin");
    assert.ok("header" in got);
    assert.deepEqual(got.header.sha256, new Sha256().update(data).digest());
    assert.notDeepEqual(new Sha256().update(got.content).digest(), got.header.sha256);
    // Cut short: refused before a byte is sent.
    await Deno.writeFile(join(folder, "b.bin"), data.subarray(0, 1000));
    await owner.client.send(
      encodeGetRequest(owner.identity.clientId, { path: "b.bin", offset: 0, ifSha256: NO_SHA256 }),
    );
    assert.match(await errorText(owner.client), /cannot read it as it was stored/);
    // Gone: refused too; the connection goes on.
    await Deno.remove(join(folder, "b.bin"));
    await owner.client.send(
      encodeGetRequest(owner.identity.clientId, { path: "b.bin", offset: 0, ifSha256: NO_SHA256 }),
    );
    assert.match(await errorText(owner.client), /cannot read it/);
    assert.equal((await listAll(owner)).files.length, 2);
  });
});

Deno.test("retrieval: a download longer than the request deadline is not cut while it keeps the minimum rate", async () => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    const data = patternBytes(24 * 1024 * 1024, 12);
    await storeFile(owner, "slow.bin", data);
    await owner.client.send(
      encodeGetRequest(owner.identity.clientId, {
        path: "slow.bin",
        offset: 0,
        ifSha256: NO_SHA256,
      }),
    );
    const header = decodeFileHeader((await retrievalFrame(owner.client)).payload);
    const sha = new Sha256();
    let received = 0;
    const started = performance.now();
    while (received < header.size) {
      // Longer than the 1.5 s request deadline in all, each MiB well within it (about 6 MiB/s).
      await new Promise((resolve) => setTimeout(resolve, 40));
      const chunk = await retrievalFrame(owner.client);
      assert.equal(chunk.code, RetrievalResponse.Bytes);
      sha.update(chunk.payload);
      received += chunk.payload.length;
    }
    assert.ok(performance.now() - started > 1500, "the download was not slower than the deadline");
    assert.deepEqual(sha.digest(), header.sha256);
  }, { requestTimeoutMs: 1500, headerTimeoutMs: 1500 });
});

Deno.test("retrieval: a file stored before SHA-256s were recorded is listed and fetched without one", async () => {
  await withServer(async (test) => {
    const owner = await signUpSecurely(test, "Owner");
    const data = patternBytes(50_000, 8);
    await storeFile(owner, "old.bin", data);
    const db = new DatabaseSync(join(test.dir, "server.db"));
    try {
      db.prepare("UPDATE files SET sha256 = NULL").run();
    } finally {
      db.close();
    }
    const [listed] = (await listAll(owner)).files;
    assert.equal(listed?.sha256, null);
    assert.equal(listed?.cksum, cksum(data));
    const whole = await get(owner, "old.bin");
    assert.ok("header" in whole);
    assert.equal(whole.header.sha256, null);
    assert.deepEqual(whole.content, data);
    // It continues from an offset when the client holds no SHA-256 either.
    const rest = await get(owner, "old.bin", 20_000, NO_SHA256);
    assert.ok("header" in rest && rest.header.start === 20_000);
    assert.deepEqual(rest.content, data.subarray(20_000));
  });
});
