/**
 * Every configuration and usage error of the client process: exit code 2,
 * one line on stderr naming what is wrong and what to do, nothing on stdout,
 * and no connection attempted (the port in transfer.info has no server).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../client/client_error.ts";
import { runClient } from "./support/client_process.ts";
import { MAX_ENCODABLE_FILE_SIZE } from "../protocol/mod.ts";

const UNUSED_PORT = (() => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
})();

async function expectConfigError(
  setup: (dir: string) => Promise<void>,
  pattern: RegExp,
  args: string[] = [],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "client-config-" });
  try {
    await setup(dir);
    const run = await runClient(["--dir", dir, ...args]);
    assert.equal(run.code, ExitCode.Config, run.stderr);
    assert.equal(run.stdout, "");
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, /^client: Cannot /);
    assert.match(lines[0]!, pattern);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function info(dir: string, text: string): Promise<void> {
  return Deno.writeTextFile(join(dir, "transfer.info"), text);
}

async function goodInfo(dir: string, name = "Carol"): Promise<void> {
  await Deno.writeTextFile(join(dir, "f.bin"), "hello");
  await info(dir, `127.0.0.1:${UNUSED_PORT}\n${name}\nf.bin\n`);
}

Deno.test("an unknown option is a usage error", async () => {
  await expectConfigError(goodInfo, /Cannot parse the arguments: .*--bogus.*See client --help/, [
    "--bogus",
  ]);
});

Deno.test("a missing transfer.info says where the client looked", async () => {
  await expectConfigError(
    () => Promise.resolve(),
    /Cannot find transfer\.info: looked in .*client-config-/,
  );
});

Deno.test("a bad address names transfer.info line 1", async () => {
  await expectConfigError(
    (dir) => info(dir, "127.0.0.1:99999\nCarol\nf.bin\n"),
    /transfer\.info line 1: the port 99999 is not from 1 to 65535\. Fix that line/,
  );
});

Deno.test("a bad name names transfer.info line 2", async () => {
  await expectConfigError(
    (dir) => info(dir, `127.0.0.1:1\n${"n".repeat(101)}\nf.bin\n`),
    /transfer\.info line 2: the name has 101 bytes, more than 100/,
  );
});

Deno.test("a missing file names transfer.info line 3", async () => {
  await expectConfigError(
    (dir) => info(dir, "127.0.0.1:1\nCarol\nnope.bin\n"),
    /Cannot send .*nope\.bin \(.*transfer\.info line 3\): the file does not exist\. Fix the path/,
  );
});

Deno.test("a folder without files is refused (a folder with files is sent: transfer_skip_and_folders_test)", async () => {
  await expectConfigError(async (dir) => {
    await Deno.mkdir(join(dir, "sub", "empty"), { recursive: true });
    await info(dir, "127.0.0.1:1\nCarol\nsub\n");
  }, /Cannot send the folder \S*sub \(.*line 3\): it holds no regular file to send/);
});

Deno.test("a file larger than the protocol's sizes carry is refused before anything is read", async () => {
  await expectConfigError(
    async (dir) => {
      const file = await Deno.open(join(dir, "big.bin"), { write: true, create: true });
      await file.truncate(MAX_ENCODABLE_FILE_SIZE + 1); // sparse: costs no disk
      file.close();
      await info(dir, "127.0.0.1:1\nCarol\nbig.bin\n");
    },
    new RegExp(
      `it is 4\\.3 GB \\(${MAX_ENCODABLE_FILE_SIZE + 1} bytes\\), more than the protocol's ` +
        `4-byte sizes carry \\(4\\.3 GB \\(${MAX_ENCODABLE_FILE_SIZE} bytes\\)\\)\\. Split it`,
    ),
  );
});

/** Whether this process can read a mode-000 file (root, or no POSIX permissions). */
const READS_ANYTHING = await (async () => {
  if (Deno.build.os === "windows") return true;
  const path = await Deno.makeTempFile();
  try {
    await Deno.chmod(path, 0o000);
    (await Deno.open(path)).close();
    return true;
  } catch {
    return false;
  } finally {
    await Deno.remove(path);
  }
})();

Deno.test({
  name: "an unreadable file is refused",
  ignore: READS_ANYTHING,
  async fn() {
    await expectConfigError(async (dir) => {
      await Deno.writeTextFile(join(dir, "secret.bin"), "x");
      await Deno.chmod(join(dir, "secret.bin"), 0o000);
      await info(dir, "127.0.0.1:1\nCarol\nsecret.bin\n");
    }, /secret\.bin .*it is not readable/);
  },
});
if (READS_ANYTHING) {
  console.log(
    "ignored 'an unreadable file is refused': root (or Windows) can read a mode-000 file",
  );
}

Deno.test("a me.info for another name is an error, not a silent re-registration", async () => {
  await expectConfigError(async (dir) => {
    await goodInfo(dir, "Dave");
    await Deno.copyFile(new URL("fixtures/s1-info.me", import.meta.url), join(dir, "me.info"));
  }, /me\.info is for "Golden User" but transfer\.info says "Dave"/);
});

Deno.test("a damaged me.info names its line", async () => {
  await expectConfigError(async (dir) => {
    await goodInfo(dir);
    await Deno.writeTextFile(join(dir, "me.info"), "Carol\nnot-hex\nAAAA\n");
  }, /me\.info: line 2: expected the client id as 32 hex digits/);
});

Deno.test("--help and --version print on stdout and exit 0", async () => {
  const help = await runClient(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: client/);
  assert.match(help.stdout, /Exit codes: 0 the server confirmed/);
  const version = await runClient(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^client \d+\.\d+\.\d+\n$/);
});
