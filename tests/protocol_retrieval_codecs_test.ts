/**
 * The retrieval codecs (860/861, 1660-1663): every frame round-trips, every
 * size is bounded, and malformed payloads are `ProtocolError`s, never a read
 * past the end or a huge allocation.
 */

import assert from "node:assert/strict";
import {
  decodeFileHeader,
  decodeGetRequest,
  decodeListPage,
  decodeListRequest,
  decodeNoSuchFile,
  decodeRequestHeader,
  decodeResponseHeader,
  encodeBytesHeader,
  encodeFileHeader,
  encodeGetRequest,
  encodeListPage,
  encodeListRequest,
  encodeNoSuchFile,
  type ListedFile,
  MAX_CHUNK_SIZE,
  MAX_FILE_PATH_LENGTH,
  MAX_LIST_PAGE_ENTRIES,
  MAX_PAGE_PAYLOAD,
  maxRetrievalPayloadSize,
  maxRetrievalRequestSize,
  NO_SHA256,
  ProtocolError,
  REQUEST_HEADER_SIZE,
  RESPONSE_HEADER_SIZE,
  RetrievalRequest,
  RetrievalResponse,
} from "../protocol/mod.ts";

const ID = new Uint8Array(16).fill(3);
const SHA = new Uint8Array(32).map((_, i) => i);

function file(path: string, sha256: Uint8Array | null = SHA): ListedFile {
  return { path, size: 2 ** 40 + 7, storedAt: 1_764_000_000_000, cksum: 0xdeadbeef, sha256 };
}

Deno.test("retrieval codecs: every frame round-trips", async (t) => {
  await t.step("860 list", () => {
    const bytes = encodeListRequest(ID, { cursor: "sub/é.txt", limit: 7 });
    const header = decodeRequestHeader(bytes.subarray(0, REQUEST_HEADER_SIZE));
    assert.equal(header.code, RetrievalRequest.List);
    assert.equal(header.payloadSize, bytes.length - REQUEST_HEADER_SIZE);
    assert.deepEqual(decodeListRequest(bytes.subarray(REQUEST_HEADER_SIZE)), {
      cursor: "sub/é.txt",
      limit: 7,
    });
  });
  await t.step("1660 page, with and without SHA-256s", () => {
    const page = { files: [file("a"), file("sub/b", null)], more: true };
    const bytes = encodeListPage(page);
    const header = decodeResponseHeader(bytes.subarray(0, RESPONSE_HEADER_SIZE));
    assert.equal(header.code, RetrievalResponse.Page);
    assert.deepEqual(decodeListPage(bytes.subarray(RESPONSE_HEADER_SIZE)), page);
    assert.deepEqual(decodeListPage(encodeListPage({ files: [], more: false }).subarray(7)), {
      files: [],
      more: false,
    });
  });
  await t.step("861 get", () => {
    const get = { path: "a/b/c.txt", offset: 123_456_789, ifSha256: SHA };
    const bytes = encodeGetRequest(ID, get);
    assert.equal(decodeRequestHeader(bytes.subarray(0, 23)).code, RetrievalRequest.Get);
    assert.deepEqual(decodeGetRequest(bytes.subarray(REQUEST_HEADER_SIZE)), get);
  });
  await t.step("1661 file, 1662 header, 1663 none", () => {
    const header = { ...file("x.bin"), start: 99 };
    assert.deepEqual(decodeFileHeader(encodeFileHeader(header).subarray(7)), header);
    assert.deepEqual(decodeResponseHeader(encodeBytesHeader(MAX_CHUNK_SIZE)), {
      version: 3,
      code: RetrievalResponse.Bytes,
      payloadSize: MAX_CHUNK_SIZE,
    });
    assert.deepEqual(decodeNoSuchFile(encodeNoSuchFile("gone.txt").subarray(7)), {
      path: "gone.txt",
    });
  });
});

Deno.test("retrieval codecs: sizes are bounded both ways", async (t) => {
  await t.step("a full page of the longest paths fits the page limit", () => {
    const long = "p".repeat(MAX_FILE_PATH_LENGTH);
    const files = Array.from({ length: MAX_LIST_PAGE_ENTRIES }, () => file(long));
    const bytes = encodeListPage({ files, more: false });
    assert.equal(bytes.length - RESPONSE_HEADER_SIZE, MAX_PAGE_PAYLOAD);
    assert.equal(maxRetrievalPayloadSize(RetrievalResponse.Page), MAX_PAGE_PAYLOAD);
  });
  await t.step("encoders refuse what could not be decoded", () => {
    const files = Array.from({ length: MAX_LIST_PAGE_ENTRIES + 1 }, () => file("a"));
    assert.throws(() => encodeListPage({ files, more: false }), RangeError);
    const long = "p".repeat(MAX_FILE_PATH_LENGTH + 1);
    assert.throws(() => encodeGetRequest(ID, { path: long, offset: 0, ifSha256: NO_SHA256 }));
    assert.throws(() => encodeGetRequest(ID, { path: "a", offset: -1, ifSha256: NO_SHA256 }));
    assert.throws(() => encodeBytesHeader(0), RangeError);
    assert.throws(() => encodeBytesHeader(MAX_CHUNK_SIZE + 1), RangeError);
    assert.throws(() => encodeFileHeader({ ...file("a"), size: 5, start: 6 }), RangeError);
  });
  await t.step("request limits are the largest valid payloads", () => {
    const long = "p".repeat(MAX_FILE_PATH_LENGTH);
    const get = encodeGetRequest(ID, { path: long, offset: 0, ifSha256: NO_SHA256 });
    assert.equal(get.length - REQUEST_HEADER_SIZE, maxRetrievalRequestSize(RetrievalRequest.Get));
    const list = encodeListRequest(ID, { cursor: long, limit: 0 });
    assert.equal(list.length - REQUEST_HEADER_SIZE, maxRetrievalRequestSize(RetrievalRequest.List));
    assert.equal(maxRetrievalRequestSize(828), undefined);
    assert.equal(maxRetrievalPayloadSize(1607), undefined);
  });
});

Deno.test("retrieval codecs: malformed payloads are protocol errors", async (t) => {
  const get = encodeGetRequest(ID, { path: "abc", offset: 1, ifSha256: SHA }).subarray(23);
  const page = encodeListPage({ files: [file("a")], more: false }).subarray(7);
  const cases: Array<[string, () => unknown]> = [
    ["a get cut short", () => decodeGetRequest(get.subarray(0, get.length - 1))],
    ["a get with bytes after its fields", () => decodeGetRequest(new Uint8Array([...get, 0]))],
    ["a path size beyond the limit", () => {
      const bad = get.slice();
      new DataView(bad.buffer).setUint16(40, MAX_FILE_PATH_LENGTH + 1, true);
      return decodeGetRequest(bad);
    }],
    ["an offset beyond 2^53", () => {
      const bad = get.slice();
      new DataView(bad.buffer).setBigUint64(0, 2n ** 60n, true);
      return decodeGetRequest(bad);
    }],
    ["a path that is not UTF-8", () => {
      const bad = get.slice();
      bad[bad.length - 1] = 0xff;
      return decodeGetRequest(bad);
    }],
    ["a page claiming more entries than it holds", () => {
      const bad = page.slice();
      new DataView(bad.buffer).setUint16(0, 2, true);
      return decodeListPage(bad);
    }],
    ["a page of more than 64 entries", () => {
      const bad = page.slice();
      new DataView(bad.buffer).setUint16(0, MAX_LIST_PAGE_ENTRIES + 1, true);
      return decodeListPage(bad);
    }],
    ["a SHA-256 flag other than 0 or 1", () => {
      const bad = page.slice();
      bad[3 + 2 + 1 + 8 + 8 + 4] = 2;
      return decodeListPage(bad);
    }],
    ["a file header starting past the end", () => {
      const bytes = encodeFileHeader({ ...file("a"), size: 10, start: 10 }).subarray(7).slice();
      new DataView(bytes.buffer).setBigUint64(8, 11n, true);
      return decodeFileHeader(bytes);
    }],
    ["an empty list request", () => decodeListRequest(new Uint8Array(0))],
  ];
  for (const [name, decode] of cases) {
    await t.step(name, () => assert.throws(decode, ProtocolError));
  }
});
