/**
 * The folder import check: every rule of its table refuses what it should and
 * allows the rest, and it finds a forbidden import in a real module graph,
 * re-exports and type-only imports included, comments not.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { brokenRule, importEdges, sourceFiles } from "../scripts/check_imports.ts";

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
    ["server/session/connection.ts", "server/observe/metrics.ts", false],
    ["server/cli/serve.ts", "server/observe/metrics.ts", true],
    ["server/observe/metrics.ts", "server/session/connection.ts", false],
    ["server/observe/metrics.ts", "server/storage/storage.ts", true],
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
