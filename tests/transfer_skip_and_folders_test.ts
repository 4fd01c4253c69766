/**
 * Skip what arrived and folders (issue 20, points 2 and 3): a file already
 * stored with the same content is not sent again ("already stored"), unless
 * --force; a replaced file is said; --no-clobber skips names that exist; a
 * folder of nested files with odd names arrives with its paths, a symbolic
 * link is reported and not followed; against a server that cannot keep paths
 * (the plain port, as the reference server) nothing of the folder is sent.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { clientIdToHex, parseMeInfo } from "../protocol/mod.ts";
import { ExitCode } from "../client/client_error.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { listFiles } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

async function clientFolder(serverDir: string, clientDir: string): Promise<string> {
  const { clientId } = parseMeInfo(await Deno.readTextFile(join(clientDir, "me.info")));
  return join(serverDir, "received_files", clientIdToHex(clientId));
}

Deno.test("a file already stored is skipped, --force sends it, a replacement is said, --no-clobber keeps the stored one", async () => {
  await withServer(async ({ port, dir }) => {
    const clientDir = await Deno.makeTempDir({ prefix: "transfer_skip_" });
    try {
      await writeTransferInfo(clientDir, port, "Skip", "f.bin", patternBytes(300_000, 1));
      const first = await runClient(["--dir", clientDir]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /confirmed f\.bin .* stored it as "f\.bin"\n/);

      const again = await runClient(["--dir", clientDir]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, "client: skipped f.bin: already stored (same size and SHA-256)\n");
      assert.doesNotMatch(again.stderr, /sent /, "nothing was sent");

      const forced = await runClient(["--dir", clientDir, "--force"]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /confirmed f\.bin .*, replacing the file stored under that name/);

      const changed = patternBytes(300_000, 2);
      await Deno.writeFile(join(clientDir, "f.bin"), changed);
      const keep = await runClient(["--dir", clientDir, "--no-clobber"]);
      assert.equal(keep.code, 0, keep.stderr);
      assert.match(
        keep.stdout,
        /skipped f\.bin: a file of that name is stored on the server \(--no-clobber\)/,
      );
      const folder = await clientFolder(dir, clientDir);
      assert.deepEqual(await Deno.readFile(join(folder, "f.bin")), patternBytes(300_000, 1));

      const replace = await runClient(["--dir", clientDir]);
      assert.equal(replace.code, 0, replace.stderr);
      assert.match(replace.stdout, /replacing the file stored under that name/);
      assert.deepEqual(await Deno.readFile(join(folder, "f.bin")), changed);
      const log = await Deno.readTextFile(join(clientDir, "transfer.log"));
      assert.match(log, /skipped f\.bin: already stored/);
    } finally {
      await Deno.remove(clientDir, { recursive: true });
    }
  });
});

/** A folder with nested files of odd names, an empty folder and a symbolic link. */
async function makeTree(root: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>([
    ["album/cover.jpg", patternBytes(1000, 3)],
    ["album/été 2024/plage #1.jpg", patternBytes(20_000, 4)],
    ["album/été 2024/.hidden", patternBytes(5, 5)],
    ["album/a/b/c/d/deep (copy).txt", patternBytes(0, 6)],
    ["album/名前/ファイル.bin", patternBytes(7000, 7)],
  ]);
  for (const [path, bytes] of files) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeFile(join(root, path), bytes);
  }
  await Deno.mkdir(join(root, "album", "empty"));
  await Deno.writeFile(join(root, "outside.bin"), patternBytes(10, 8));
  // Deno.symlink needs unscoped permissions, which the tests do not have.
  const ln = await new Deno.Command("ln", {
    args: ["-s", join(root, "outside.bin"), join(root, "album", "link.bin")],
  }).output();
  assert.equal(ln.code, 0, new TextDecoder().decode(ln.stderr));
  return files;
}

Deno.test("a folder of nested files with odd names arrives with its paths; a symbolic link is reported, not followed", async () => {
  await withServer(async ({ port, dir }) => {
    const clientDir = await Deno.makeTempDir({ prefix: "transfer_folder_" });
    try {
      const files = await makeTree(clientDir);
      await writeTransferInfo(clientDir, port, "Folder", "album");
      const run = await runClient(["--dir", clientDir]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /skipped \S*album\/link\.bin: a symbolic link \(not followed\)/);
      assert.match(run.stdout, /client: 5 of 5 files arrived/);
      const folder = await clientFolder(dir, clientDir);
      assert.deepEqual(
        (await listFiles(folder)).sort(),
        [...files.keys()].map((path) => path.normalize("NFC")).sort(),
      );
      for (const [path, bytes] of files) {
        assert.deepEqual(await Deno.readFile(join(folder, path)), bytes, path);
      }
      const log = await Deno.readTextFile(join(clientDir, "transfer.log"));
      assert.match(log, /skipped \S*link\.bin: a symbolic link/);
      assert.match(log, /result: 5 of 5 files arrived/);
    } finally {
      await Deno.remove(clientDir, { recursive: true });
    }
  });
});

Deno.test("a folder against a server that cannot keep paths (plain port, as the reference) sends nothing", async () => {
  await withServer(async ({ port, dir }) => {
    const clientDir = await Deno.makeTempDir({ prefix: "transfer_folder_plain_" });
    try {
      await makeTree(clientDir);
      await writeTransferInfo(clientDir, port, "Plain", "album");
      const run = await runClient(["--dir", clientDir]);
      assert.equal(run.code, ExitCode.Rejected, run.stderr);
      assert.match(
        run.stderr,
        /Cannot send the 5 files found in folders: this server cannot keep folder paths .* none of them was sent/,
      );
      assert.deepEqual(await listFiles(join(dir, "received_files")), []);
    } finally {
      await Deno.remove(clientDir, { recursive: true });
    }
  }, { securePort: false });
});
