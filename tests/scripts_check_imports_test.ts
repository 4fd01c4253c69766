/**
 * The folder import check: every rule of its table refuses what it should and
 * allows the rest, and it finds a forbidden import in a real module graph,
 * re-exports and type-only imports included, comments not.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  brokenRoomRule,
  brokenRule,
  importEdges,
  serverRooms,
  sourceFiles,
} from "../scripts/check_imports.ts";
import { ROOT } from "../scripts/permissions.ts";

Deno.test("each folder rule refuses what it should and allows the rest", async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ["protocol/packet.ts", "server/upload/upload.ts", false],
    ["protocol/packet.ts", "client/upload.ts", false],
    ["server/session/connection.ts", "client/connection.ts", false],
    ["client/session.ts", "server/session/connection.ts", false],
    ["scripts/soak.ts", "tests/support/raw_client.ts", false],
    ["bench/transfer.ts", "tests/support/ports.ts", false],
    ["server/main.ts", "tests/support/ports.ts", false],
    ["server/session/connection.ts", "harness/raw_client.ts", false],
    ["protocol/mod.ts", "harness/bytes.ts", false],
    ["bench/upload_memory.ts", "harness/raw_client.ts", true],
    ["tests/server_upload_test.ts", "harness/raw_client.ts", true],
    ["protocol/frames.ts", "protocol/header.ts", true],
    ["server/session/connection.ts", "protocol/mod.ts", true],
    ["client/upload.ts", "protocol/mod.ts", true],
    ["tests/server_protocol_test.ts", "server/server.ts", true],
    ["tests/support/raw_client.ts", "tests/support/bytes.ts", true],
    ["bench/transfer.ts", "scripts/permissions.ts", true],
    ["tests/compile_binaries_test.ts", "scripts/compile.ts", true],
  ];
  for (const [from, to, allowed] of cases) {
    await t.step(`${from} -> ${to}: ${allowed ? "allowed" : "refused"}`, () => {
      assert.equal(brokenRule({ from, to }) === undefined, allowed);
    });
  }
});

Deno.test("the module graph shows forbidden imports, and only real ones", async () => {
  const root = await Deno.makeTempDir({ prefix: "check_imports_" });
  try {
    const files: Record<string, string> = {
      "protocol/a.ts": 'export * from "../server/b.ts";\n',
      "server/b.ts": 'import type { C } from "../client/c.ts";\nexport type B = C;\n',
      "client/c.ts": "/** ```ts\n * import '../server/b.ts';\n * ``` */\nexport type C = number;\n",
      "scripts/d.ts": 'import "../tests/support/e.ts";\n',
      "tests/support/e.ts": 'import "../../protocol/a.ts";\n',
    };
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(join(root, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(root, path), text);
    }
    const edges = await importEdges(root, await sourceFiles(root));
    const broken = edges.filter((edge) => brokenRule(edge) !== undefined)
      .map((edge) => `${edge.from} -> ${edge.to}`).sort();
    assert.deepEqual(broken, [
      "protocol/a.ts -> server/b.ts",
      "scripts/d.ts -> tests/support/e.ts",
      "server/b.ts -> client/c.ts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("each room of server/ may import what its mod.ts says, and nothing else", async (t) => {
  const { rooms, missing } = await serverRooms(ROOT);
  assert.deepEqual(missing, [], "every room has a mod.ts");
  const cases: Array<[string, string, boolean]> = [
    ["server/net/listen.ts", "server/session/connection.ts", false],
    ["server/net/timed_conn.ts", "server/upload/upload.ts", false],
    ["server/net/tls_listener.ts", "server/identity/tls_identity.ts", true],
    ["server/storage/storage.ts", "server/upload/commit.ts", false],
    ["server/storage/registry_sqlite.ts", "server/errors.ts", true],
    ["server/upload/commit.ts", "server/storage/registry.ts", true],
    ["server/upload/upload.ts", "server/session/connection.ts", false],
    ["server/upload/upload.ts", "server/server.ts", false],
    ["server/log/logging.ts", "server/storage/registry.ts", false],
    ["server/log/logging.ts", "common/write_all.ts", true],
    ["server/identity/tls_identity.ts", "server/net/listen.ts", false],
    ["server/session/connection.ts", "server/upload/upload.ts", true],
    ["server/session/connection.ts", "server/net/timed_conn.ts", true],
    ["server/session/requests/register.ts", "server/session/scope.ts", true],
    ["server/session/connection.ts", "server/cli/serve.ts", false],
    ["server/session/connection.ts", "server/server.ts", false],
    ["server/session/connection.ts", "server/connection_pool.ts", false],
    ["server/observe/metrics.ts", "server/storage/registry.ts", true],
    ["server/observe/metrics.ts", "server/storage/storage.ts", true],
    ["server/observe/metrics.ts", "server/session/connection.ts", false],
    ["server/session/connection.ts", "server/observe/metrics.ts", false],
    ["server/net/listen.ts", "server/observe/http_listener.ts", false],
    ["server/cli/serve.ts", "server/observe/metrics.ts", true],
    ["server/session/requests/get_file.ts", "server/retrieval/stream_file.ts", true],
    ["server/retrieval/stream_file.ts", "server/storage/file_store.ts", true],
    ["server/retrieval/stream_file.ts", "server/session/scope.ts", false],
    ["server/cli/serve.ts", "server/server.ts", true],
    ["server/cli/serve.ts", "server/identity/deployment_identity.ts", true],
    ["server/server.ts", "server/session/connection.ts", true],
    ["server/main.ts", "server/cli/serve.ts", true],
  ];
  for (const [from, to, allowed] of cases) {
    await t.step(`${from} -> ${to}: ${allowed ? "allowed" : "refused"}`, () => {
      assert.equal(brokenRoomRule({ from, to }, rooms) === undefined, allowed);
    });
  }
});

Deno.test("a room without a mod.ts, and an import its mod.ts does not allow, are found", async () => {
  const root = await Deno.makeTempDir({ prefix: "check_rooms_" });
  try {
    const files: Record<string, string> = {
      "server/low/mod.ts":
        'export const ROOM = { folder: "server/low/", mayImport: ["protocol/"] };\n',
      "server/low/a.ts": 'import "../high/b.ts";\nimport "../../protocol/c.ts";\n',
      "server/high/mod.ts":
        'export const ROOM = { folder: "server/high/", mayImport: ["server/low/"] };\n',
      "server/high/b.ts": 'import "../low/a.ts";\n',
      "server/bare/d.ts": "export const D = 1;\n",
      "protocol/c.ts": "export const C = 1;\n",
    };
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(join(root, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(root, path), text);
    }
    const { rooms, missing } = await serverRooms(root);
    assert.deepEqual(missing, ["server/bare/"]);
    const edges = await importEdges(root, await sourceFiles(root));
    const broken = edges.filter((edge) => brokenRoomRule(edge, rooms) !== undefined)
      .map((edge) => `${edge.from} -> ${edge.to}`);
    assert.deepEqual(broken, ["server/low/a.ts -> server/high/b.ts"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
