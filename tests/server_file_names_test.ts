/**
 * Issue 11 §3, names: what a stored file may be called. Names that mislead a
 * reader or another system are refused (device names with spaces before the
 * extension, C1 controls and NEL, line and paragraph separators,
 * bidirectional controls, a byte order mark, leading or not); names are
 * stored in NFC. A stored path (folders and a name) is checked component by
 * component by the same rules; the 828 itself still takes one component.
 */

import assert from "node:assert/strict";
import {
  cksum,
  clientIdToHex,
  decodeFileNameField,
  FILE_NAME_FIELD_SIZE,
  fileNameProblem,
  filePathProblem,
  ProtocolError,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import { buildPackets, encryptContent, RawClient, signUp } from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { listFiles } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";
import { uploadFilePath } from "../server/upload/upload_name.ts";

const REFUSED: Array<[string, string, RegExp]> = [
  ["a device name, spaces, an extension", "con .txt", /device name/],
  ["nul with spaces", "nul  .txt", /device name/],
  ["COM1 with a space", "COM1 .txt", /device name/],
  ["a C1 control", "a\u0090b.txt", /control character/],
  ["NEL", "line\u0085break.txt", /control character/],
  ["DEL", "a\u007fb.txt", /control character/],
  ["a line separator", "a\u2028b.txt", /control character/],
  ["a paragraph separator", "a\u2029b.txt", /control character/],
  ["a right-to-left override", "invoice\u202Etxt.exe", /bidirectional/],
  ["a left-to-right mark", "a\u200Eb.txt", /bidirectional/],
  ["an isolate", "a\u2067b\u2069.txt", /bidirectional/],
  ["an Arabic letter mark", "a\u061Cb.txt", /bidirectional/],
  ["a leading byte order mark", "\uFEFFreport.txt", /byte order mark/],
  ["a byte order mark inside", "re\uFEFFport.txt", /byte order mark/],
];

Deno.test("file names: misleading names are refused", async (t) => {
  for (const [what, name, reason] of REFUSED) {
    await t.step(what, () => assert.match(fileNameProblem(name) ?? "accepted", reason));
  }
  await t.step("ordinary names are still accepted", () => {
    for (const name of ["console.txt", "com1x.txt", "nullable .txt", "naïve.txt", "日本語.txt"]) {
      assert.equal(fileNameProblem(name), undefined, name);
    }
  });
});

Deno.test("file names: a leading byte order mark in the packet field is refused, not stripped", () => {
  const field = new Uint8Array(FILE_NAME_FIELD_SIZE);
  field.set([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("report.txt")]);
  assert.throws(() => decodeFileNameField(field), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /byte order mark/);
    return true;
  });
});

Deno.test("file names: the server stores a name in NFC, and echoes the field as sent", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Accents");
    const decomposed = "cafe\u0301.txt";
    const data = new TextEncoder().encode("decomposed on the way in");
    const field = new Uint8Array(FILE_NAME_FIELD_SIZE);
    new TextEncoder().encodeInto(decomposed, field);
    const content = await encryptContent(me.aesKey, data);
    await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
    await client.send(concat(buildPackets(content, data.length, field)));
    const received = await client.expect(ResponseCode.FileReceived);
    const response = received.response as { cksum: number; fileNameField: Uint8Array };
    assert.equal(response.cksum, cksum(data));
    assert.deepEqual(response.fileNameField, field);
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: decomposed });
    await client.expect(ResponseCode.Ack);
    assert.deepEqual(await listFiles(`${dir}/received_files/${clientIdToHex(me.clientId)}`), [
      "caf\u00e9.txt",
    ]);
  });
});

Deno.test("file names: an upload under a refused name gets 1607 and nothing is stored", async () => {
  await withServer(async ({ port, dir }) => {
    for (const name of ["con .txt", "a\u0085b.txt", "x\u202Egnp.exe"]) {
      using client = await RawClient.connect(port);
      const me = await signUp(client, `Names ${name.length}${name.charCodeAt(1)}`);
      const data = new TextEncoder().encode("anything");
      const field = new Uint8Array(FILE_NAME_FIELD_SIZE);
      new TextEncoder().encodeInto(name, field);
      await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
      await client.send(concat(buildPackets(await encryptContent(me.aesKey, data), 8, field)));
      assert.match(await client.expectError(), /Cannot decode file name/);
      const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
      const files = await listFiles(folder).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return [];
        throw error;
      });
      assert.deepEqual(files, []);
    }
  });
});

Deno.test("file names: the 828 still takes one component; a slash in it is refused", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Slash");
    const data = new TextEncoder().encode("anything");
    const field = new Uint8Array(FILE_NAME_FIELD_SIZE);
    new TextEncoder().encodeInto("sub/cat.jpg", field);
    await client.sendHeader(me.clientId, RequestCode.SendFile, 0);
    await client.send(concat(buildPackets(await encryptContent(me.aesKey, data), 8, field)));
    assert.match(await client.expectError(), /path separator/);
    const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
    assert.deepEqual(await listFiles(folder).catch(() => []), []);
  });
});

Deno.test("file names: a stored path is NFC, every component checked by the same rules", async (t) => {
  await t.step("accepted, composed", () => {
    assert.equal(uploadFilePath("sub/dir/cat.jpg"), "sub/dir/cat.jpg");
    assert.equal(uploadFilePath("cafe\u0301/the\u0301.txt"), "caf\u00e9/th\u00e9.txt");
    assert.equal(uploadFilePath("one"), "one");
  });
  const refused: Array<[string, RegExp]> = [
    ["../x", /"\.\."/],
    ["a/../b", /"\.\."/],
    ["/abs", /absolute/],
    ["a//b", /empty/],
    ["a/", /empty/],
    ["", /empty/],
    ["sub/con .txt", /device name/],
    ["sub/x\u202Egnp.exe", /bidirectional/],
    ["a\\b/c", /path separator/],
    ["sub/~upload-0123456789abcdef.partial", /temporary/],
    [Array.from({ length: 33 }, () => "d").join("/"), /components/],
  ];
  for (const [path, reason] of refused) {
    await t.step(`refused: ${JSON.stringify(path)}`, () => {
      assert.throws(() => uploadFilePath(path), ProtocolError);
      assert.throws(() => uploadFilePath(path), reason);
      // The protocol's rule agrees; only the staged-file form is the server's own.
      if (!/temporary/.test(reason.source)) assert.notEqual(filePathProblem(path), undefined);
    });
  }
});
