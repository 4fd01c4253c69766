/**
 * `transfer.info` parsing: every line's validation, with messages that name
 * the file and the line.
 */

import assert from "node:assert/strict";
import {
  baseName,
  parseAddress,
  parseTransferInfo,
  TransferInfoError,
} from "../client/transfer_info.ts";

Deno.test("parseTransferInfo reads host:port, name and path", () => {
  assert.deepEqual(parseTransferInfo("127.0.0.1:1256\nGolden User\nsample.bin\n", "t"), {
    host: "127.0.0.1",
    port: 1256,
    name: "Golden User",
    filePath: "sample.bin",
    trimmedLines: [],
  });
  assert.deepEqual(parseTransferInfo("example.org:80\r\nA\r\n/tmp/a b.txt\r\n\r\n", "t"), {
    host: "example.org",
    port: 80,
    name: "A",
    filePath: "/tmp/a b.txt",
    trimmedLines: [],
  });
  assert.deepEqual(parseAddress("[::1]:65535"), { host: "::1", port: 65535 });
  assert.deepEqual(parseAddress("localhost:1"), { host: "localhost", port: 1 });
});

const BAD: [string, number | undefined, RegExp][] = [
  ["", 1, /expected host:port/],
  ["127.0.0.1\nA\nf", 1, /expected host:port/],
  ["127.0.0.1:0\nA\nf", 1, /port 0 is not from 1 to 65535/],
  ["127.0.0.1:65536\nA\nf", 1, /port 65536 is not from 1 to 65535/],
  ["127.0.0.1:http\nA\nf", 1, /port "http" is not a number/],
  ["127.0.0.1:\nA\nf", 1, /port "" is not a number/],
  [":1256\nA\nf", 1, /the host is empty/],
  ["256.1.1.1:1256\nA\nf", 1, /"256.1.1.1" is not an IPv4 address/],
  ["bad_host!:1256\nA\nf", 1, /is not a host name/],
  ["::1:1256\nA\nf", 1, /IPv6 address must be written in brackets/],
  ["[::1]1256\nA\nf", 1, /expected \[IPv6\]:port/],
  ["[nope]:1256\nA\nf", 1, /is not an IPv6 address/],
  ["h:1\n\nf", 2, /the name is empty/],
  [`h:1\n${"x".repeat(101)}\nf`, 2, /101 bytes, more than 100/],
  ["h:1\nJos\u00e9\nf", 2, /not printable ASCII/],
  ["h:1\nA\tB\nf", 2, /not printable ASCII/],
  // Two lines: the file says so, and does not blame a line (the point).
  ["h:1\nA", undefined, /it has 2 lines, but needs 3 .*line 2, "A", is read as your name/],
  ["h:1\nA\n   ", undefined, /it has 2 lines, but needs 3/],
  ["h:1\nsub/file.bin", undefined, /it has 2 lines.*"sub\/file\.bin", is read as your name/],
  ["h:1\nA\ndir/", 3, /the file name is empty/],
  [`h:1\nA\n${"n".repeat(256)}`, 3, /256 bytes, more than 255/],
  ["h:1\nA\nf\nextra", 4, /expected 3 lines/],
];

for (const [text, line, reason] of BAD) {
  const where = line === undefined ? "as a whole" : `on line ${line}`;
  Deno.test(`parseTransferInfo rejects ${JSON.stringify(text.slice(0, 30))} ${where}`, () => {
    assert.throws(
      () => parseTransferInfo(text, "/x/transfer.info"),
      (error: unknown) => {
        assert.ok(error instanceof TransferInfoError);
        assert.equal(error.line, line);
        const where = line === undefined ? "" : ` line ${line}`;
        assert.match(error.message, new RegExp(`^Cannot read /x/transfer\\.info${where}: `));
        assert.ok(error instanceof SyntaxError);
        assert.ok(error.message.endsWith(`: ${error.reason}`), "the message is built from parts");
        assert.match(error.message, reason);
        return true;
      },
    );
  });
}

Deno.test("spaces and tabs around every line are ignored, and the lines that had them are named", () => {
  assert.deepEqual(parseTransferInfo(" 127.0.0.1:1256\t\n  Alice \nf.bin\n", "t"), {
    host: "127.0.0.1",
    port: 1256,
    name: "Alice",
    filePath: "f.bin",
    trimmedLines: [1, 2],
  });
});

Deno.test("with files named on the command line, two lines are enough", () => {
  assert.deepEqual(parseTransferInfo("h:1\nA\n", "t", { pathsGiven: true }), {
    host: "h",
    port: 1,
    name: "A",
    filePath: undefined,
    trimmedLines: [],
  });
  assert.equal(parseTransferInfo("h:1\nA\nf.bin", "t", { pathsGiven: true }).filePath, "f.bin");
});

Deno.test("a 100-byte name and a 255-byte base name are accepted", () => {
  const info = parseTransferInfo(`h:1\n${"x".repeat(100)}\n/d/${"n".repeat(255)}`, "t");
  assert.equal(info.name.length, 100);
});

Deno.test("baseName takes the last component for / and \\", () => {
  assert.equal(baseName("/a/b/c.txt"), "c.txt");
  assert.equal(baseName("C:\\Users\\me\\c.txt"), "c.txt");
  assert.equal(baseName("c.txt"), "c.txt");
});
