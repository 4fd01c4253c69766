/**
 * Issue 12, the server's operator commands, as processes with exactly the
 * compiled server's permissions, on a live server's data folder: list the
 * clients and the stored files, and forget a client while the server runs
 * (its name is free again; with --delete-files its files go too).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../common/exists.ts";
import { cksum, clientIdToHex, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { type ClientRow, type FileRow, openOperatorStorage } from "../server/cli/operator.ts";
import { randomBytes, RawClient, signUp, type TestIdentity } from "../harness/raw_client.ts";
import { ServerProcess } from "./support/server_process.ts";
import { runServerCommand, type ServerCommandRun } from "./support/server_command.ts";

/** Runs `server <args>` in `dir` (its data folder) with the compiled server's permissions. */
function server(dir: string, ...args: string[]): Promise<ServerCommandRun> {
  return runServerCommand(args, { cwd: dir });
}

async function json<T>(dir: string, ...args: string[]): Promise<T> {
  const run = await server(dir, ...args, "--json");
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as T;
}

/** Signs up `name` and stores `data` as `fileName` (confirmed with 900). */
async function upload(
  port: number,
  name: string,
  fileName: string,
  data: Uint8Array,
): Promise<TestIdentity> {
  using client = await RawClient.connect(port);
  const me = await signUp(client, name);
  await client.upload(me.clientId, me.aesKey, fileName, data);
  await client.request(me.clientId, { code: RequestCode.CrcOk, fileName });
  await client.expect(ResponseCode.Ack);
  return me;
}

Deno.test("server operator commands: clients, files and forget on a running server's folder", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "server_operator_" });
  const running = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", "0"]);
  try {
    await t.step("an empty registry says so", async () => {
      const clients = await server(dir, "clients");
      assert.equal(clients.code, 0, clients.stderr);
      assert.equal(clients.stdout, "No clients are registered.\n");
      assert.equal((await server(dir, "files")).stdout, "No files are stored.\n");
    });

    const report = randomBytes(150_000);
    const notes = randomBytes(1);
    const photo = randomBytes(20_000);
    const alice = await upload(running.port, "Alice", "report.pdf", report);
    const bob = await upload(running.port, "Bob Smith", "notes.txt", notes);
    {
      using client = await RawClient.connect(running.port);
      const aesKey = await client.reconnect(bob.clientId, bob.name, bob.keys.privateKey);
      await client.upload(bob.clientId, aesKey, "photo.jpg", photo);
      await client.request(bob.clientId, { code: RequestCode.CrcOk, fileName: "photo.jpg" });
      await client.expect(ResponseCode.Ack);
    }

    await t.step(
      "clients: name, id, dialect, registered, last seen, files, bytes, partial",
      async () => {
        const rows = await json<ClientRow[]>(dir, "clients");
        assert.deepEqual(
          rows.map((
            row,
          ) => [row.name, row.id, row.dialect, row.files, row.bytes, row.partialBytes]),
          [
            ["Alice", clientIdToHex(alice.clientId), "A", 1, report.length, 0],
            ["Bob Smith", clientIdToHex(bob.clientId), "A", 2, notes.length + photo.length, 0],
          ],
        );
        for (const row of rows) {
          assert.ok(Date.parse(row.registered) <= Date.parse(row.lastSeen), JSON.stringify(row));
          assert.ok(Date.now() - Date.parse(row.lastSeen) < 600_000, JSON.stringify(row));
        }
        const table = await server(dir, "clients");
        const lines = table.stdout.trimEnd().split("\n");
        assert.match(
          lines[0]!,
          /^name\s+id\s+dialect\s+registered \(UTC\)\s+last seen \(UTC\)\s+files\s+bytes\s+partial\s+staged$/,
        );
        assert.match(
          lines[1]!,
          /^Alice\s+[0-9a-f]{32}\s+A\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+.*\s1\s+150 kB\s+0 B\s+0 B$/,
        );
        assert.match(lines[2]!, /^Bob Smith\s+[0-9a-f]{32}\s.*\s2\s+20 kB\s+0 B\s+0 B$/);
        assert.equal(lines[3], "2 clients");
      },
    );

    await t.step("files: client, name, size, cksum, verified, when, path", async () => {
      const rows = await json<FileRow[]>(dir, "files");
      assert.deepEqual(
        rows.map((row) => [row.client, row.name, row.size, row.cksum, row.verified]),
        [
          ["Alice", "report.pdf", report.length, cksum(report), true],
          ["Bob Smith", "notes.txt", 1, cksum(notes), true],
          ["Bob Smith", "photo.jpg", photo.length, cksum(photo), true],
        ],
      );
      const stored = join(dir, "received_files", clientIdToHex(alice.clientId), "report.pdf");
      assert.equal(
        rows[0]!.path,
        join("received_files", clientIdToHex(alice.clientId), "report.pdf"),
      );
      assert.deepEqual(await Deno.readFile(stored), report);
      const bobs = await json<FileRow[]>(dir, "files", "Bob Smith");
      assert.deepEqual(bobs.map((row) => row.name), ["notes.txt", "photo.jpg"]);
      const table = await server(dir, "files", "Bob Smith");
      assert.match(
        table.stdout,
        /^client\s+name\s+size\s+cksum\s+verified\s+stored \(UTC\)\s+path\n/,
      );
      assert.match(table.stdout, /\nBob Smith\s+notes\.txt\s+1 B\s+\d+\s+yes\s+\d{4}-/);
      assert.match(table.stdout, /\n2 files, 20 kB\n$/);
    });

    await t.step("an unknown client is one line and exit code 1", async () => {
      const run = await server(dir, "files", "Carol");
      assert.equal(run.code, 1);
      assert.equal(
        run.stderr,
        'Cannot list the files of Carol: no client is called "Carol" (server clients lists them)\n',
      );
      const forget = await server(dir, "forget", "Carol");
      assert.equal(forget.code, 1);
      assert.match(forget.stderr, /^Cannot forget Carol: no client is called "Carol"/);
    });

    await t.step("forget while the server runs: the name is free, the files stay", async () => {
      const run = await server(dir, "forget", "Alice");
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        new RegExp(
          `^Forgot Alice \\(${clientIdToHex(alice.clientId)}\\): the name is free again; ` +
            "its file \\(150 kB\\) stays in .*received_files.[0-9a-f]{32} \\(--delete-files deletes it\\)\n$",
        ),
      );
      const stored = join(dir, "received_files", clientIdToHex(alice.clientId), "report.pdf");
      assert.ok(await exists(stored), "forget without --delete-files keeps the file");
      assert.deepEqual((await json<ClientRow[]>(dir, "clients")).map((row) => row.name), [
        "Bob Smith",
      ]);
      // The running server no longer knows the old identity, and gives the name to someone new.
      using old = await RawClient.connect(running.port);
      await old.request(alice.clientId, { code: RequestCode.Reconnect, name: "Alice" });
      await old.expect(ResponseCode.ReconnectDenied);
      using fresh = await RawClient.connect(running.port);
      await signUp(fresh, "Alice");
    });

    await t.step(
      "forget --delete-files deletes the client's files, and what its cut uploads kept",
      async () => {
        // What a cut upload of Bob kept for a resume: its record and its staged copy.
        const folder = join(dir, "received_files", clientIdToHex(bob.clientId));
        const staged = "~upload-0123456789abcdef.partial";
        await Deno.writeFile(join(folder, staged), randomBytes(100));
        {
          await using operator = await openOperatorStorage(dir);
          await operator.registry.keepPartial({
            clientId: bob.clientId,
            fileName: "cut.bin",
            stagingRef: `${clientIdToHex(bob.clientId)}/${staged}`,
            size: 1000,
            received: 100,
            prefixSha256: null,
            prefixCrc: null,
            instanceId: "test",
            keptAt: Date.now(),
          });
        }
        const run = await server(dir, "forget", "Bob Smith", "--delete-files");
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /: the name is free again; its 2 files \(20 kB\) are deleted\n$/);
        assert.ok(!await exists(join(folder, "notes.txt")));
        assert.ok(!await exists(join(folder, "photo.jpg")));
        assert.ok(!await exists(join(folder, staged)), "what its cut upload kept is removed");
        assert.deepEqual(await json<FileRow[]>(dir, "files"), []);
        await using operator = await openOperatorStorage(dir);
        assert.deepEqual(await operator.registry.listPartials(), []);
      },
    );
  } finally {
    const status = await running.stop();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, running.stderr);
  }
});

Deno.test("server operator commands: clients says when a name without files is freed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_operator_" });
  const running = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", "0"]);
  try {
    await upload(running.port, "Alice", "report.pdf", randomBytes(10));
    {
      using client = await RawClient.connect(running.port);
      await signUp(client, "Carol");
    }
    const rows = await json<ClientRow[]>(dir, "clients", "--forget-unused-after", "24");
    assert.deepEqual(rows.map((row) => [row.name, row.freedAt !== undefined]), [
      ["Alice", false],
      ["Carol", true],
    ]);
    const carol = rows[1]!;
    assert.equal(Date.parse(carol.freedAt!) - Date.parse(carol.lastSeen), 24 * 3_600_000);
    // The default is the server's: 168 hours.
    const byDefault = await json<ClientRow[]>(dir, "clients");
    assert.equal(
      Date.parse(byDefault[1]!.freedAt!) - Date.parse(byDefault[1]!.lastSeen),
      168 * 3_600_000,
    );
    const table = await server(dir, "clients", "--forget-unused-after", "24");
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.equal(lines[3], "2 clients");
    assert.equal(
      lines[4],
      "Names freed unless their client signs in or stores a file first (UTC):",
    );
    assert.equal(lines[5], `  Carol: ${carol.freedAt!.slice(0, 19).replace("T", " ")}`);
    assert.equal(lines.length, 6, table.stdout);
  } finally {
    const status = await running.stop();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, running.stderr);
  }
});

Deno.test("server operator commands: misuse and a folder without a database", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "server_operator_" });
  try {
    for (
      const [args, code, message] of [
        [["forget"], 2, /^Cannot run server forget: it needs a client name/],
        [["clients", "--port", "5"], 2, /^Cannot use --port with server clients/],
        [["files", "a", "b"], 2, /^Cannot run server files: unexpected "b" \(a name with spaces/],
        [["clients"], 1, /^Cannot open the registry in \.: there is no server\.db in \./],
      ] as const
    ) {
      await t.step(args.join(" "), async () => {
        const run = await server(dir, ...args);
        assert.equal(run.code, code, run.stderr);
        assert.match(run.stderr, message);
        assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
      });
    }
    assert.ok(
      !await exists(join(dir, "server.db")),
      "an operator command never creates a database",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
