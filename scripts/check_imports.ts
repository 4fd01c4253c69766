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
 *
 * `harness/` holds what tests, benchmarks and soak runs share (the raw-bytes
 * client), so that none of them needs to import `tests/`.
 *
 * Inside `server/`, each folder is a room with a `mod.ts` that says what it
 * holds and declares, as `ROOM`, what its files may import besides the
 * room's own ({@linkcode serverRooms}): an import of a repository file that
 * is neither in the room nor in its list is refused, and so is a room
 * without a `mod.ts`. The files at the top of `server/` (`server.ts` and the
 * files it composes, `errors.ts`, `main.ts`) are no room.
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

/** A room of `server/`: its folder and what its files may import besides the room's own. */
export interface Room {
  /** The room's folder, with a trailing `/`: `server/net/`. */
  readonly folder: string;
  /** Folders (with a trailing `/`) and files its files may import. */
  readonly mayImport: readonly string[];
}

/** The folder under `server/` whose rooms are checked. */
const ROOMS_UNDER = "server/";

/**
 * The rooms of `server/` under `root`, each from its `mod.ts`'s `ROOM`, and
 * the folders of `server/` that have no `mod.ts`.
 *
 * @throws {TypeError} if a `mod.ts` declares no `ROOM`, or one for another folder.
 */
export async function serverRooms(root: string): Promise<{ rooms: Room[]; missing: string[] }> {
  const rooms: Room[] = [];
  const missing: string[] = [];
  const entries = [];
  for await (const entry of Deno.readDir(join(root, ROOMS_UNDER))) entries.push(entry);
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory) continue;
    const folder = `${ROOMS_UNDER}${entry.name}/`;
    const doc = join(root, folder, "mod.ts");
    try {
      await Deno.stat(doc);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      missing.push(folder);
      continue;
    }
    const { ROOM } = await import(pathToFileURL(doc).href) as { ROOM?: Room };
    if (ROOM?.folder !== folder || !Array.isArray(ROOM.mayImport)) {
      throw new TypeError(`Cannot read room ${folder}: its mod.ts must export ROOM for ${folder}`);
    }
    rooms.push(ROOM);
  }
  return { rooms, missing };
}

/** The room whose rule `edge` breaks, or `undefined`. */
export function brokenRoomRule(edge: ImportEdge, rooms: readonly Room[]): Room | undefined {
  const room = rooms.find((room) => edge.from.startsWith(room.folder));
  if (room === undefined || edge.to.startsWith(room.folder)) return undefined;
  return room.mayImport.some((allowed) => edge.to.startsWith(allowed)) ? undefined : room;
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
  const { rooms, missing } = await serverRooms(ROOT);
  let broken = 0;
  for (const folder of missing) {
    broken++;
    console.error(`check_imports: ${folder} has no mod.ts saying what it holds and may import`);
  }
  for (const edge of edges) {
    const rule = brokenRule(edge);
    const room = brokenRoomRule(edge, rooms);
    if (rule === undefined && room === undefined) continue;
    broken++;
    const reason = rule?.reason ??
      `${room!.folder} may import only ${room!.mayImport.join(", ")} besides its own files`;
    console.error(`check_imports: ${edge.from} imports ${edge.to}: ${reason}`);
  }
  if (broken === 0) console.error(`check_imports: ${edges.length} imports, none forbidden`);
  return broken === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
