/**
 * Checks that no folder imports one it should not, from the real module
 * graph (`deno info --json`, so comments and examples do not count, and
 * re-exports and dynamic imports with a literal specifier do):
 *
 * | importer                  | may not import     | why                                                  |
 * | ------------------------- | ------------------ | ---------------------------------------------------- |
 * | `protocol/`               | `server/`, `client/` | the protocol layer lies below both sides            |
 * | `server/`                 | `client/`          | the two sides share only `protocol/`                 |
 * | `client/`                 | `server/`          | the two sides share only `protocol/`                 |
 * | `protocol/`, `server/`, `client/` | `harness/` | the programs never depend on test tooling   |
 * | anything outside `tests/` | `tests/`           | tests depend on the code, never the other way round |
 * | `common/`                 | any other folder   | the general helpers lie below every other folder     |
 * | `server/` rooms but `cli/` | `server/observe/` | health and metrics watch a server from outside; only the command line composes them |
 * | `server/observe/`         | `server/session/`  | the metrics read the storage seams and the server's snapshot, never a session's insides |
 *
 * `harness/` holds what tests, benchmarks and soak runs share (the raw-bytes
 * client), so that none of them needs to import `tests/`.
 *
 * ```text
 * deno run --allow-read --allow-run scripts/check_imports.ts   (part of `deno task check`)
 * ```
 *
 * Prints one line per forbidden import and exits with 1 when there is one.
 *
 * @module
 */

import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ROOT } from "./permissions.ts";

/** One import between two files of the repository, as paths relative to its root. */
export interface ImportEdge {
  /** The importing file, e.g. `server/session/connection.ts`. */
  from: string;
  /** The imported file, e.g. `protocol/mod.ts`. */
  to: string;
}

/** A folder that may not import another, and why. */
export interface ImportRule {
  /** The importer's folder (with a trailing `/`), or `*` for any folder but `to`. */
  from: string;
  /** The folder it may not import, with a trailing `/`. */
  to: string;
  /** Why not, for the message. */
  reason: string;
}

/** The rules of the table above. */
export const IMPORT_RULES: readonly ImportRule[] = [
  { from: "protocol/", to: "server/", reason: "the protocol layer lies below both sides" },
  { from: "protocol/", to: "client/", reason: "the protocol layer lies below both sides" },
  { from: "server/", to: "client/", reason: "the two sides share only protocol/" },
  { from: "client/", to: "server/", reason: "the two sides share only protocol/" },
  { from: "protocol/", to: "harness/", reason: "the programs never depend on test tooling" },
  { from: "server/", to: "harness/", reason: "the programs never depend on test tooling" },
  { from: "client/", to: "harness/", reason: "the programs never depend on test tooling" },
  { from: "*", to: "tests/", reason: "nothing outside tests/ depends on the tests" },
  { from: "common/", to: "protocol/", reason: "common/ lies below every other folder" },
  { from: "common/", to: "server/", reason: "common/ lies below every other folder" },
  { from: "common/", to: "client/", reason: "common/ lies below every other folder" },
  { from: "common/", to: "harness/", reason: "common/ lies below every other folder" },
  ...["net/", "session/", "upload/", "storage/", "identity/", "log/"].map((room) => ({
    from: `server/${room}`,
    to: "server/observe/",
    reason: "health and metrics watch a server from outside; only server/cli/ composes them",
  })),
  {
    from: "server/observe/",
    to: "server/session/",
    reason:
      "the metrics read the storage seams and the server's snapshot, never a session's insides",
  },
];

/** The rule `edge` breaks, or `undefined`. */
export function brokenRule(
  edge: ImportEdge,
  rules: readonly ImportRule[] = IMPORT_RULES,
): ImportRule | undefined {
  return rules.find((rule) =>
    edge.to.startsWith(rule.to) &&
    (rule.from === "*" ? !edge.from.startsWith(rule.to) : edge.from.startsWith(rule.from))
  );
}

/** Folders that hold no source of ours. */
const SKIPPED = new Set([".git", ".tools", "node_modules", "dist", ".data", ".client"]);

/** Every `.ts` file under `root`, as absolute paths. */
export async function sourceFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    const path = join(root, entry.name);
    if (entry.isDirectory && !SKIPPED.has(entry.name)) files.push(...await sourceFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

interface ModuleInfo {
  specifier: string;
  dependencies?: Array<{ code?: { specifier?: string }; type?: { specifier?: string } }>;
}

/**
 * The imports between the repository's own files, from `deno info --json`
 * over all of `files` at once.
 *
 * @throws {Error} if `deno info` fails (a file that does not parse, an
 * import that does not resolve).
 */
export async function importEdges(root: string, files: readonly string[]): Promise<ImportEdge[]> {
  const entry = "data:application/typescript," +
    files.map((file) => `import ${JSON.stringify(pathToFileURL(file).href)};`).join("");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`Cannot read the module graph: ${new TextDecoder().decode(stderr).trim()}`);
  }
  const graph = JSON.parse(new TextDecoder().decode(stdout)) as { modules: ModuleInfo[] };
  const inRepo = (specifier: string | undefined): string | undefined => {
    if (specifier === undefined || !specifier.startsWith("file:")) return undefined;
    const path = relative(root, fileURLToPath(specifier)).split(sep).join("/");
    return path.startsWith("..") ? undefined : path;
  };
  const edges: ImportEdge[] = [];
  for (const module of graph.modules) {
    const from = inRepo(module.specifier);
    if (from === undefined) continue;
    for (const dependency of module.dependencies ?? []) {
      for (const to of new Set([dependency.code?.specifier, dependency.type?.specifier])) {
        const target = inRepo(to);
        if (target !== undefined) edges.push({ from, to: target });
      }
    }
  }
  return edges;
}

async function main(): Promise<number> {
  const edges = await importEdges(ROOT, await sourceFiles(ROOT));
  let broken = 0;
  for (const edge of edges) {
    const rule = brokenRule(edge);
    if (rule === undefined) continue;
    broken++;
    console.error(`check_imports: ${edge.from} imports ${edge.to}: ${rule.reason}`);
  }
  if (broken === 0) console.error(`check_imports: ${edges.length} imports, none forbidden`);
  return broken === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
