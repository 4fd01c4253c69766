/**
 * Issue 21 with the real client as a process and a real server: `--list` and
 * `--get` after uploads of 0 B, 1 B, 3 MB and 200 MB and a folder; the
 * no-overwrite default and `--force`; a name the server does not hold while
 * the others are still fetched; a cut download continued by the next run; a
 * file altered on the server's disk refused by the client's verification;
 * the plain-only server, the reference server and an unknown identity
 * refused in one line.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { cksum, type ClientId, clientIdToHex, parseMeInfo, sha256Hex } from "../protocol/mod.ts";
import { type RunningServer, type ServerOptions, startServer } from "../server/server.ts";
import { withDeadline } from "../common/deadline.ts";
import { CLIENT_PERMISSION_FLAGS } from "../scripts/permissions.ts";
import { CLIENT_MAIN, type ClientRun, patternBytes, runClient } from "./support/client_process.ts";
import { waitUntil } from "./support/reliability.ts";
import { cuttingRelay } from "./support/cutting_relay.ts";
import { referenceLike } from "./support/reference_like.ts";
import { storeInFolder } from "./support/stored_file.ts";

interface Setup {
  server: RunningServer;
  serverDir: string;
  clientDir: string;
  /** Where fetched files go. */
  toDir: string;
  root: string;
}

async function withSetup(
  options: Partial<ServerOptions>,
  run: (setup: Setup) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "retrieval_client_" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  const toDir = join(root, "fetched");
  await Deno.mkdir(clientDir);
  const server = await startServer({ host: "127.0.0.1", port: 0, dir: serverDir, ...options });
  try {
    await Deno.writeTextFile(
      join(clientDir, "transfer.info"),
      `127.0.0.1:${server.port}\nRita\n`,
    );
    await run({ server, serverDir, clientDir, toDir, root });
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
}

async function client(setup: Setup, args: string[]): Promise<ClientRun> {
  return await runClient(["--dir", setup.clientDir, "--retries", "0", ...args]);
}

/** Writes `files` into the client's folder and sends them (pinning the server on first contact). */
async function send(setup: Setup, files: Record<string, Uint8Array>): Promise<void> {
  const names = Object.keys(files);
  for (const name of names) await Deno.writeFile(join(setup.clientDir, name), files[name]!);
  const sent = await client(setup, names.map((name) => join(setup.clientDir, name)));
  assert.equal(sent.code, 0, sent.stderr);
}

async function clientIdOf(setup: Setup): Promise<ClientId> {
  return parseMeInfo(await Deno.readTextFile(join(setup.clientDir, "me.info"))).clientId;
}

async function storedPath(setup: Setup, name: string): Promise<string> {
  return join(setup.serverDir, "received_files", clientIdToHex(await clientIdOf(setup)), name);
}

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

Deno.test("client --list and --get: files of 0 B, 1 B and 3 MB and a folder come back verified", async (t) => {
  await withSetup({}, async (setup) => {
    const files: Record<string, Uint8Array> = {
      "empty.bin": new Uint8Array(0),
      "one.bin": new Uint8Array([42]),
      "three-mb.bin": patternBytes(3 * 1024 * 1024, 7),
    };
    await send(setup, files);
    const folder: Record<string, Uint8Array> = {
      "album/2024/cat.jpg": patternBytes(10_000, 8),
      "album/dog.jpg": patternBytes(20_000, 9),
    };
    for (const [path, data] of Object.entries(folder)) {
      await storeInFolder(setup.serverDir, await clientIdOf(setup), path, data);
    }
    const all = { ...files, ...folder };
    const names = Object.keys(all).sort();

    await t.step(
      "--list: one line per file with size, time and SHA-256 prefix, and a total",
      async () => {
        const run = await client(setup, ["--list"]);
        assert.equal(run.code, 0, run.stderr);
        const lines = run.stdout.trimEnd().split("\n");
        assert.match(lines[0]!, /SIZE\s+STORED \(UTC\)\s+SHA-256\s+NAME/);
        assert.equal(lines.length, names.length + 2);
        for (const [i, name] of names.entries()) {
          const line = lines[i + 1]!;
          assert.ok(line.endsWith(`  ${name}`), line);
          assert.ok(line.includes(sha256Hex(all[name]!).slice(0, 12)), line);
          assert.match(line, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
        }
        const total = Object.values(all).reduce((sum, data) => sum + data.length, 0);
        assert.equal(lines.at(-1), `5 files, ${formatTotal(total)} (${total} bytes)`);
      },
    );

    await t.step("--list --json: the same for scripts", async () => {
      const run = await client(setup, ["--list", "--json"]);
      assert.equal(run.code, 0, run.stderr);
      const listing = JSON.parse(run.stdout) as {
        files: Array<{ name: string; size: number; sha256: string; cksum: number; stored: string }>;
        total: { files: number; bytes: number };
      };
      assert.deepEqual(listing.files.map((f) => f.name), names);
      for (const file of listing.files) {
        assert.equal(file.size, all[file.name]!.length);
        assert.equal(file.sha256, sha256Hex(all[file.name]!));
        assert.equal(file.cksum, cksum(all[file.name]!));
        assert.ok(!Number.isNaN(Date.parse(file.stored)));
      }
      assert.equal(listing.total.files, 5);
    });

    await t.step("--get every name into --to: byte for byte, 0600, folders kept", async () => {
      const run = await client(setup, ["--get", ...names, "--to", setup.toDir]);
      assert.equal(run.code, 0, run.stderr);
      for (const name of names) {
        const path = join(setup.toDir, ...name.split("/"));
        assert.deepEqual(await Deno.readFile(path), all[name], name);
        if (Deno.build.os !== "windows") assert.equal(mode(path), 0o600, name);
      }
      assert.match(run.stdout, /5 of 5 files fetched/);
      assert.match(run.stdout, /verified by SHA-256 and cksum/);
      // No part files are left behind.
      const left = [...Deno.readDirSync(setup.toDir)].map((e) => e.name);
      assert.deepEqual(left.filter((n) => n.includes(".ft-")), []);
    });

    await t.step("an existing file is kept unless --force", async () => {
      const target = join(setup.toDir, "one.bin");
      await Deno.writeFile(target, new TextEncoder().encode("mine, local"));
      const kept = await client(setup, ["--get", "one.bin", "--to", setup.toDir]);
      assert.equal(kept.code, 2, kept.stderr);
      assert.match(kept.stderr, /already exists\. Add --force to replace it/);
      assert.deepEqual(await Deno.readFile(target), new TextEncoder().encode("mine, local"));
      const forced = await client(setup, ["--get", "one.bin", "--to", setup.toDir, "--force"]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual(await Deno.readFile(target), files["one.bin"]);
    });

    await t.step(
      "a name the server does not hold: one line; the others are still fetched",
      async () => {
        const dir = join(setup.root, "partly");
        const run = await client(setup, [
          "--get",
          "nope.bin",
          "one.bin",
          "../one.bin",
          "--to",
          dir,
        ]);
        assert.equal(run.code, 4, run.stderr);
        assert.match(run.stderr, /Cannot get nope\.bin: the server holds no file of that name/);
        assert.match(
          run.stderr,
          /Cannot get "\.\.\/one\.bin": it is not a name the server can hold/,
        );
        assert.deepEqual(await Deno.readFile(join(dir, "one.bin")), files["one.bin"]);
        assert.match(
          run.stdout,
          /1 of 3 files fetched \(one\.bin\); not fetched: nope\.bin, \.\.\/one\.bin/,
        );
      },
    );

    await t.step("by default into the folder the command was typed in", async () => {
      const cwd = join(setup.root, "typed-in");
      await Deno.mkdir(cwd);
      const run = await runClient(["--dir", setup.clientDir, "--get", "album/dog.jpg"], { cwd });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await Deno.readFile(join(cwd, "album", "dog.jpg")), folder["album/dog.jpg"]);
    });
  });
});

function formatTotal(bytes: number): string {
  return bytes >= 1_000_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${bytes} B`;
}

Deno.test("client --get: a local file that cannot be written fails that name only", async () => {
  await withSetup({}, async (setup) => {
    const one = patternBytes(1000, 2);
    await send(setup, { "one.bin": one, "two.bin": one, "three.bin": one });
    await storeInFolder(setup.serverDir, await clientIdOf(setup), "album/dog.jpg", one);
    await Deno.mkdir(setup.toDir);
    // A file where a folder must be: refused before anything is asked.
    await Deno.writeTextFile(join(setup.toDir, "album"), "a file, not a folder");
    // A folder where the part must be: refused while the server sends, so the
    // client goes on over a new connection.
    const key = sha256Hex(new TextEncoder().encode("two.bin")).slice(0, 16);
    await Deno.mkdir(join(setup.toDir, `.ft-${key}.part`));
    const run = await client(setup, [
      "--get",
      "album/dog.jpg",
      "two.bin",
      "one.bin",
      "three.bin",
      "--to",
      setup.toDir,
    ]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /Cannot get album\/dog\.jpg: \S*album\/dog\.jpg cannot be written/);
    assert.match(run.stderr, /Cannot get two\.bin: \S*\.part cannot be written/);
    assert.doesNotMatch(run.stderr, /Bug/);
    assert.match(run.stdout, /2 of 4 files fetched \(one\.bin, three\.bin\)/);
    assert.deepEqual(await Deno.readFile(join(setup.toDir, "one.bin")), one);
    assert.deepEqual(await Deno.readFile(join(setup.toDir, "three.bin")), one);
  });
});

Deno.test("client --get: a file stored before SHA-256s were recorded is verified by its cksum", async () => {
  await withSetup({}, async (setup) => {
    const data = patternBytes(70_000, 9);
    await send(setup, { "old.bin": data });
    const db = new DatabaseSync(join(setup.serverDir, "server.db"));
    try {
      db.prepare("UPDATE files SET sha256 = NULL").run();
    } finally {
      db.close();
    }
    const list = await client(setup, ["--list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /\s-\s+old\.bin\n/);
    const run = await client(setup, ["--get", "old.bin", "--to", setup.toDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /verified by cksum \(the server recorded no SHA-256\)/);
    assert.deepEqual(await Deno.readFile(join(setup.toDir, "old.bin")), data);
  });
});

Deno.test("client --get: a file altered on the server's disk is refused, nothing written", async () => {
  await withSetup({}, async (setup) => {
    const data = patternBytes(300_000, 4);
    await send(setup, { "a.bin": data });
    const stored = await storedPath(setup, "a.bin");
    const altered = data.slice();
    altered[123_456] = altered[123_456]! ^ 0x01;
    await Deno.writeFile(stored, altered);
    const run = await client(setup, ["--get", "a.bin", "--to", setup.toDir]);
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /Cannot get a\.bin: what arrived is not the file the server recorded/);
    assert.deepEqual([...Deno.readDirSync(setup.toDir)].map((e) => e.name), []);
  });
});

Deno.test("client --get: a download cut mid-way continues where it stopped on the next run", async () => {
  await withSetup({}, async (setup) => {
    const data = patternBytes(4 * 1024 * 1024, 5);
    await send(setup, { "big.bin": data });
    // The secure port through a relay that cuts the server's side after 1.5 MB.
    const known = join(setup.clientDir, "known_servers");
    const original = await Deno.readTextFile(known);
    const relay = cuttingRelay(setup.server.securePort!, 1_500_000);
    try {
      await Deno.writeTextFile(
        known,
        original.replace(` ${setup.server.securePort} `, ` ${relay.port} `),
      );
      const cut = await client(setup, ["--get", "big.bin", "--to", setup.toDir]);
      assert.equal(cut.code, 3, cut.stderr);
      const parts = [...Deno.readDirSync(setup.toDir)].map((e) => e.name);
      const part = parts.find((name) => name.endsWith(".part"));
      assert.ok(part !== undefined, `no part kept: ${parts}`);
      const kept = (await Deno.stat(join(setup.toDir, part))).size;
      assert.ok(kept > 0 && kept < data.length, `${kept} bytes kept`);
      relay.limit = Infinity;
      const rerun = await client(setup, ["--get", "big.bin", "--to", setup.toDir]);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.match(rerun.stdout, new RegExp(`continued from byte ${kept}`));
      assert.deepEqual(await Deno.readFile(join(setup.toDir, "big.bin")), data);
      assert.deepEqual([...Deno.readDirSync(setup.toDir)].map((e) => e.name), ["big.bin"]);
    } finally {
      await relay.close();
    }
  });
});

Deno.test("client --get: Ctrl-C says how to continue, exits 130, and the next run continues", async () => {
  await withSetup({}, async (setup) => {
    const data = patternBytes(4 * 1024 * 1024, 6);
    await send(setup, { "big.bin": data });
    const known = join(setup.clientDir, "known_servers");
    const original = await Deno.readTextFile(known);
    // The secure port through a relay that goes silent after 1.5 MB.
    const relay = cuttingRelay(setup.server.securePort!, 1_500_000, { stall: true });
    try {
      await Deno.writeTextFile(
        known,
        original.replace(` ${setup.server.securePort} `, ` ${relay.port} `),
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...CLIENT_PERMISSION_FLAGS,
          CLIENT_MAIN,
          "--dir",
          setup.clientDir,
          "--get",
          "big.bin",
          "--to",
          setup.toDir,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      await waitUntil("a part of big.bin to arrive", async () => {
        const part = [...await Array.fromAsync(Deno.readDir(setup.toDir)).catch(() => [])]
          .find((entry) => entry.name.endsWith(".part"));
        return part !== undefined && (await Deno.stat(join(setup.toDir, part.name))).size > 0;
      }, 30_000);
      child.kill("SIGINT");
      const status = await withDeadline(child.status, 30_000);
      const text = await stderr;
      assert.equal(status.code, 130, text);
      assert.match(
        text,
        /client: interrupted \(Ctrl-C\) while fetching big\.bin: [\d.]+ [kMG]?B of 4\.2 MB held\. Run the same command again to continue it where it stopped/,
      );
    } finally {
      await Deno.writeTextFile(known, original);
      await relay.close();
    }
    const rerun = await client(setup, ["--get", "big.bin", "--to", setup.toDir]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /continued from byte [1-9]/);
    assert.deepEqual(await Deno.readFile(join(setup.toDir, "big.bin")), data);
  });
});

Deno.test("client --get: a 200 MB file comes back byte for byte", async () => {
  await withSetup({ maxFileSize: 300_000_000 }, async (setup) => {
    const data = patternBytes(200 * 1024 * 1024, 11);
    await send(setup, { "large.bin": data });
    const run = await client(setup, ["--get", "large.bin", "--to", setup.toDir]);
    assert.equal(run.code, 0, run.stderr);
    const fetched = await Deno.readFile(join(setup.toDir, "large.bin"));
    assert.equal(fetched.length, data.length);
    assert.equal(sha256Hex(fetched), sha256Hex(data));
  });
});

Deno.test("client --list and --get refuse a server without retrieval, in one line, exit 4", async (t) => {
  await t.step("our server with --no-secure", async () => {
    await withSetup({ securePort: false }, async (setup) => {
      await send(setup, { "a.bin": new Uint8Array(3) }); // plain: registers, stores
      for (const args of [["--list"], ["--get", "a.bin", "--to", setup.toDir]]) {
        const run = await client(setup, args);
        assert.equal(run.code, 4, run.stderr);
        assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
        assert.match(run.stderr, /does not serve its files back: it has no secure mode/);
      }
    });
  });
  await t.step("the reference server (it closes the connection on 850)", async () => {
    await withSetup({ securePort: false }, async (setup) => {
      await send(setup, { "a.bin": new Uint8Array(3) });
      const reference = referenceLike(setup.server.port);
      try {
        await Deno.writeTextFile(
          join(setup.clientDir, "transfer.info"),
          `127.0.0.1:${reference.port}\nRita\n`,
        );
        const run = await client(setup, ["--list"]);
        assert.equal(run.code, 4, run.stderr);
        assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
        assert.match(run.stderr, /does not serve its files back: it has no secure mode/);
        assert.equal(reference.discoveries, 1);
      } finally {
        await reference.close();
      }
    });
  });
  await t.step("a server that does not know this identity", async () => {
    await withSetup({}, async (setup) => {
      await send(setup, { "a.bin": new Uint8Array(3) });
      const other = join(setup.root, "other-server");
      const fresh = await startServer({ host: "127.0.0.1", port: 0, dir: other });
      try {
        await Deno.writeTextFile(
          join(setup.clientDir, "transfer.info"),
          `127.0.0.1:${fresh.port}\nRita\n`,
        );
        const run = await client(setup, ["--list"]);
        assert.equal(run.code, 4, run.stderr);
        // The first contact pins the new server (a line of information), then one error.
        const errors = run.stderr.split("\n").filter((l) => l.startsWith("client: Cannot"));
        assert.equal(errors.length, 1, run.stderr);
        assert.match(run.stderr, /does not know this identity \(1606\)/);
      } finally {
        await fresh.close();
      }
    });
  });
});
