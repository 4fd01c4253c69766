/**
 * `protocol/mod.ts` states its rule and keeps it: it re-exports every module
 * of `protocol/` and nothing from another folder (the general helpers are
 * imported from `common/` directly).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const PROTOCOL = fileURLToPath(new URL("../protocol/", import.meta.url));

Deno.test("protocol/mod.ts re-exports every protocol module and nothing else", async () => {
  const modules: string[] = [];
  for await (const entry of Deno.readDir(PROTOCOL)) {
    if (entry.isFile && entry.name.endsWith(".ts") && entry.name !== "mod.ts") {
      modules.push(`./${entry.name}`);
    }
  }
  const text = await Deno.readTextFile(`${PROTOCOL}mod.ts`);
  const exported = [...text.matchAll(/^export \* from "([^"]+)";$/gm)].map((match) => match[1]!);
  assert.deepEqual([...exported].sort(), modules.sort());
  assert.doesNotMatch(text, /^export (?!\* from "\.\/[a-z0-9_]+\.ts";$)/m, "only `export * from`");
});
