/**
 * Issue 11, §2 "Disk filled through the log" and §3: the log file is
 * created 0600, rotates at its size limit with a bounded number of old files,
 * never carries a raw control character, and collapses a flood of one
 * warning into a count.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import {
  escapeControlCharacters,
  LOG_FILE,
  setupLogging,
  WARNING_BURST,
} from "../server/log/logging.ts";
import { delay, listNames } from "./support/reliability.ts";

/** Swallows what would go to stderr. */
const quiet = { writeSync: (p: Uint8Array) => p.length };

async function withLogDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "server_logging_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("logging: control characters are escaped, printable text is kept", async (t) => {
  const cases: [string, string, string][] = [
    ["plain", "report 2026.pdf", "report 2026.pdf"],
    ["line breaks", "a\nb\r\nc", "a\\nb\\r\\nc"],
    ["tab and NUL", "a\tb\0", "a\\tb\\x00"],
    ["ESC sequence", "\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"],
    ["DEL and C1, NEL", "\x7f\x85\x9b", "\\x7f\\x85\\x9b"],
    ["line and paragraph separators", "a\u2028b\u2029", "a\\u2028b\\u2029"],
    [
      "bidirectional controls",
      "\u202eexe.txt\u2066\u200f\u061c",
      "\\u202eexe.txt\\u2066\\u200f\\u061c",
    ],
    ["non-ASCII letters", "Ünïcødé ß 日本", "Ünïcødé ß 日本"],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(escapeControlCharacters(input), expected));
  }
});

Deno.test("logging: server.log is 0600, and an attacker's name stays on one escaped line", async () => {
  await withLogDir(async (dir) => {
    const path = join(dir, LOG_FILE);
    await Deno.writeTextFile(path, "an older line\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    {
      await using _logging = await setupLogging({ dir, level: "info", console: quiet });
      getLogger(["server", "session"]).warn("Registration of {name} refused", {
        name: "evil\n2026-01-01 00:00:00.000 +00:00 [INF] server: forged\x1b[2J\u202e",
      });
      getLogger(["server"]).error("Failed: {error}", { error: new Error("two\nlines") });
    }
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(lines.length, 4, lines.join("\n")); // the old line, two records, the end
    assert.match(lines[1]!, /Registration of evil\\n2026.*forged\\x1b\[2J\\u202e refused$/);
    assert.match(lines[2]!, /Failed: Error: two\\nlines/);
    for (const line of lines) {
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    }
  });
});

Deno.test("logging: the log rotates at its size limit and keeps a bounded number of old files, all 0600", async () => {
  await withLogDir(async (dir) => {
    const maxBytes = 4096;
    const maxFiles = 2;
    const line = "Line {i} of many, long enough to fill the file soon";
    let written = 0;
    {
      await using _logging = await setupLogging({
        dir,
        level: "info",
        maxBytes,
        maxFiles,
        console: quiet,
      });
      const logger = getLogger(["server", "session"]);
      // As a server logs: bursts of lines (each more than the sink's 8 KiB
      // buffer, so each is written and rotates), then back to the event loop.
      for (let i = 0; i < 2000; i++) {
        logger.info(line, { i });
        written += line.length;
        if (i % 100 === 99) await delay(10);
      }
    }
    const names = await listNames(dir);
    assert.deepEqual(names, [LOG_FILE, `${LOG_FILE}.1`, `${LOG_FILE}.2`]);
    let kept = 0;
    for (const name of names) {
      const info = await Deno.stat(join(dir, name));
      kept += info.size;
      if (Deno.build.os !== "windows") assert.equal(info.mode! & 0o777, 0o600, name);
    }
    assert.ok(kept < written / 2, `${kept} bytes kept of more than ${written} logged`);
    assert.match(await Deno.readTextFile(join(dir, LOG_FILE)), /Line 1999 of many/);
  });
});

Deno.test("logging: a flood of one warning is collapsed into a count", async () => {
  await withLogDir(async (dir) => {
    {
      await using _logging = await setupLogging({ dir, level: "info", console: quiet });
      const logger = getLogger(["server", "connections"]);
      for (let i = 0; i < 5000; i++) {
        logger.warn("Refused a connection from {peer}: too many", { peer: `10.0.0.${i % 250}:1` });
      }
      logger.info("Still logging other lines");
    }
    const lines = (await Deno.readTextFile(join(dir, LOG_FILE))).trimEnd().split("\n");
    const refused = lines.filter((line) => line.includes("Refused a connection"));
    assert.ok(refused.length <= WARNING_BURST + 1, `${refused.length} lines`);
    assert.ok(
      lines.some((line) => /\d+ more warnings not logged, like: .*Refused a connection/.test(line)),
      lines.slice(-3).join("\n"),
    );
    assert.match(lines.join("\n"), /Still logging other lines/);
  });
});
