/**
 * The operator commands, on the registry a server uses (also while it runs):
 *
 * | command                          | what it does                                               |
 * |----------------------------------|------------------------------------------------------------|
 * | `server clients [--forget-unused-after H]` | lists the clients: name, id, dialect family, registered, last seen, files, bytes, bytes kept of cut uploads; then, for each client without files, when its name is freed unless it signs in or stores a file (`storage/unused_names.ts`) |
 * | `server files [NAME]`            | lists the stored files (of one client): client, name, size, cksum, verified, stored, path |
 * | `server forget NAME [--delete-files]` | forgets a client, so its name is free again; with `--delete-files`, deletes its files too |
 *
 * Tables are for people (times in UTC, sizes in human units); `--json`
 * prints the same rows as JSON, exact, for scripts.
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { join } from "node:path";
import { clientIdToHex } from "../../protocol/mod.ts";
import { formatBytes, plural } from "../../common/units.ts";
import type { FileStore } from "../storage/file_store.ts";
import type { ClientRecord, FileRecord, Registry, Usage } from "../storage/registry.ts";
import { DATABASE_FILE, openLocalStorage } from "../storage/storage.ts";
import { DEFAULT_FORGET_UNUSED_AFTER_MS } from "../storage/unused_names.ts";
import {
  environment,
  isDefaultSelection,
  mayReadEnvironment,
  openStorage,
  storageSelection,
} from "../storage/storage_selection.ts";
import { OperatorError } from "./report.ts";
import { outsidePermissions } from "./serve.ts";

/** What the operator commands need of the server's storage. */
export interface OperatorStorage {
  /** The registry. */
  registry: Registry;
  /**
   * The file store: to delete a forgotten client's files and discard what its
   * cut uploads kept, and to say where a file is.
   */
  store: Pick<FileStore, "delete" | "describe" | "discardStaged">;
}

/** One client as `server clients --json` prints it. */
export interface ClientRow {
  /** Its name. */
  name: string;
  /** Its id, 32 hex digits. */
  id: string;
  /** The family of dialects it registered in: A (reference or per packet), B, C or D. */
  dialect: string;
  /** When it registered, ISO 8601 UTC. */
  registered: string;
  /** When it was last seen, ISO 8601 UTC. */
  lastSeen: string;
  /** How many files it stores. */
  files: number;
  /** Their total size in bytes. */
  bytes: number;
  /** Bytes kept of cut uploads for a resume (counted against the client's limit too). */
  partialBytes: number;
  /**
   * For a client without files: when its name is freed unless it signs in
   * or stores a file first (last seen + `--forget-unused-after`), ISO 8601
   * UTC. Absent for a client with files, which is never freed.
   */
  freedAt?: string;
  /** Bytes reserved by its uploads in progress, staged until confirmed (counted too). */
  stagedBytes: number;
}

/** One file as `server files --json` prints it. */
export interface FileRow {
  /** The owner's name. */
  client: string;
  /** The file name. */
  name: string;
  /** Its size in bytes. */
  size: number;
  /** Its POSIX cksum. */
  cksum: number;
  /** Whether the client confirmed the cksum. */
  verified: boolean;
  /** When it was stored, ISO 8601 UTC. */
  stored: string;
  /** Where it is. */
  path: string;
}

/**
 * Opens the storage of the data folder `dir` for an operator command. The
 * folder must hold a server's database: an operator command never creates one.
 *
 * @throws {OperatorError} when `dir` holds no `server.db`.
 * @throws {RegistryError} when the database cannot be opened.
 */
export async function openOperatorStorage(
  dir: string,
  options: { registry?: string | undefined; store?: string | undefined } = {},
): Promise<OperatorStorage & AsyncDisposable> {
  // A shared registry or another store (--registry, --store, FT_*): see storage_selection.ts.
  const selection = storageSelection(options, environment, mayReadEnvironment);
  if (!isDefaultSelection(selection)) {
    const shared = await openStorage(dir, selection);
    return {
      registry: shared.registry,
      store: shared.store,
      [Symbol.asyncDispose]: () => shared.close(),
    };
  }
  const database = join(dir, DATABASE_FILE);
  try {
    await Deno.stat(database);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? `there is no ${DATABASE_FILE} in ${dir}; --dir names the server's data folder`
      : error instanceof Deno.errors.NotCapable
      ? outsidePermissions(dir)
      : errorMessage(error);
    throw new OperatorError(`Cannot open the registry in ${dir}: ${reason}`, { cause: error });
  }
  const storage = await openLocalStorage(dir);
  return {
    registry: storage.registry,
    store: storage.store,
    [Symbol.asyncDispose]: () => storage.close(),
  };
}

/**
 * The rows of `server clients`; `unusedForMs` is the server's
 * `--forget-unused-after` (default 7 days), for {@linkcode ClientRow.freedAt}.
 */
export async function clientRows(
  registry: Registry,
  unusedForMs: number = DEFAULT_FORGET_UNUSED_AFTER_MS,
): Promise<ClientRow[]> {
  return (await registry.listClients()).map((
    client: ClientRecord & Usage & { stagedBytes: number },
  ) => ({
    name: client.name,
    id: clientIdToHex(client.id),
    dialect: client.dialect,
    registered: isoTime(client.registeredAt),
    lastSeen: isoTime(client.lastSeen),
    files: client.files,
    bytes: client.bytes,
    partialBytes: client.partialBytes,
    stagedBytes: client.stagedBytes,
    ...(client.files === 0 ? { freedAt: isoTime(client.lastSeen + unusedForMs) } : {}),
  }));
}

/**
 * The rows of `server files [NAME]`.
 *
 * @throws {OperatorError} when `clientName` names no client.
 */
export async function fileRows(storage: OperatorStorage, clientName?: string): Promise<FileRow[]> {
  if (clientName !== undefined && await storage.registry.clientByName(clientName) === undefined) {
    throw new OperatorError(`Cannot list the files of ${clientName}: ${noSuchClient(clientName)}`);
  }
  return (await storage.registry.listFiles(clientName)).map((file) => fileRow(storage, file));
}

function fileRow(storage: OperatorStorage, file: FileRecord & { clientName: string }): FileRow {
  return {
    client: file.clientName,
    name: file.fileName,
    size: file.size,
    cksum: file.cksum,
    verified: file.verified,
    stored: isoTime(file.time),
    path: storage.store.describe(file.location),
  };
}

/**
 * Forgets the client called `name`: its name is free again, its id no longer
 * signs in. Its files stay where they are unless `deleteFiles`. Returns what
 * to print.
 *
 * @throws {OperatorError} when `name` names no client.
 */
export async function forgetClient(
  storage: OperatorStorage,
  name: string,
  deleteFiles: boolean,
): Promise<string> {
  const forgotten = await storage.registry.forgetClient(name);
  if (forgotten === undefined) {
    throw new OperatorError(`Cannot forget ${name}: ${noSuchClient(name)}`);
  }
  const { client, files, partials } = forgotten;
  // What its cut uploads kept is nobody's now (best effort: the server's sweep of staged files
  // removes what is left).
  for (const partial of partials) {
    await storage.store.discardStaged(partial.clientId, partial.fileName, partial.stagingRef)
      .catch(() => {});
  }
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  const one = files.length === 1;
  const what = `${one ? "file" : `${files.length} files`} (${formatBytes(bytes)})`;
  let fate: string;
  if (files.length === 0) {
    fate = "it stored no files";
  } else if (deleteFiles) {
    for (const file of files) await storage.store.delete(file.location);
    fate = `its ${what} ${one ? "is" : "are"} deleted`;
  } else {
    const folder = storage.store.describe(files[0]!.location).replace(/[/\\][^/\\]*$/, "");
    fate = `its ${what} ${one ? "stays" : "stay"} in ${folder} (--delete-files deletes ${
      one ? "it" : "them"
    })`;
  }
  return `Forgot ${client.name} (${clientIdToHex(client.id)}): the name is free again; ${fate}\n`;
}

function noSuchClient(name: string): string {
  return `no client is called ${JSON.stringify(name)} (server clients lists them)`;
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** `2026-11-27T07:40:12.345Z` as `2026-11-27 07:40:12`. */
function shortTime(iso: string): string {
  return iso.slice(0, 19).replace("T", " ");
}

/** The clients as a table, or a line saying there are none. */
export function clientsTable(rows: ClientRow[]): string {
  if (rows.length === 0) return "No clients are registered.\n";
  return table(
    [
      "name",
      "id",
      "dialect",
      "registered (UTC)",
      "last seen (UTC)",
      "files",
      "bytes",
      "partial",
      "staged",
    ],
    rows.map((row) => [
      row.name,
      row.id,
      row.dialect,
      shortTime(row.registered),
      shortTime(row.lastSeen),
      String(row.files),
      formatBytes(row.bytes),
      formatBytes(row.partialBytes),
      formatBytes(row.stagedBytes),
    ]),
    [false, false, false, false, false, true, true, true, true],
  ) + `${plural(rows.length, "client")}\n` + freedNames(rows);
}

/** The lines saying when each name without files is freed, or nothing when every client has files. */
function freedNames(rows: ClientRow[]): string {
  const unused = rows.filter((row) => row.freedAt !== undefined);
  if (unused.length === 0) return "";
  return "Names freed unless their client signs in or stores a file first (UTC):\n" +
    unused.map((row) => `  ${row.name}: ${shortTime(row.freedAt!)}\n`).join("");
}

/** The files as a table, or a line saying there are none. */
export function filesTable(rows: FileRow[], clientName?: string): string {
  if (rows.length === 0) {
    return clientName === undefined ? "No files are stored.\n" : `${clientName} stores no files.\n`;
  }
  const bytes = rows.reduce((sum, row) => sum + row.size, 0);
  return table(
    ["client", "name", "size", "cksum", "verified", "stored (UTC)", "path"],
    rows.map((row) => [
      row.client,
      row.name,
      formatBytes(row.size),
      String(row.cksum),
      row.verified ? "yes" : "no",
      shortTime(row.stored),
      row.path,
    ]),
    [false, false, true, true, false, false, false],
  ) + `${plural(rows.length, "file")}, ${formatBytes(bytes)}\n`;
}

/** Aligned columns, two spaces apart; `right` aligns numbers right. */
function table(header: string[], rows: string[][], right: boolean[]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => row[i]!.length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd() + "\n";
  return line(header) + rows.map(line).join("");
}
