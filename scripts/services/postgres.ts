/**
 * A throwaway PostgreSQL cluster: `initdb` in a temporary folder, one
 * `postgres` on 127.0.0.1 at a free port (its unix socket in the same folder),
 * trust authentication for the user `ft`, durability off (it is thrown away).
 * As root, both run as the `postgres` user, since PostgreSQL refuses root.
 *
 * @example
 * ```ts ignore
 * await using pg = await startPostgres();
 * const url = await pg.createDatabase("t1"); // postgres://ft@127.0.0.1:<port>/t1
 * ```
 *
 * @module
 */

import postgres from "postgres";
import { join } from "node:path";
import {
  Daemon,
  freePort,
  removeFolder,
  requireProgram,
  run,
  ServiceError,
  serviceFolder,
} from "./daemon.ts";

/** The superuser every throwaway cluster has. */
export const POSTGRES_USER = "ft";

/** A running throwaway cluster. */
export interface PostgresService extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** URL of its `postgres` database. */
  readonly url: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** The programs this service needs, with their Debian package. */
export const POSTGRES_PROGRAMS = [["initdb", "postgresql"], ["postgres", "postgresql"]] as const;

async function isRoot(): Promise<boolean> {
  return (await run("id", ["-u"], "ask who runs this")).trim() === "0";
}

/** Whether a query goes through at `url` (the server is past its start-up). */
async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Starts a throwaway cluster; throws a {@linkcode ServiceError} (with its log) when it cannot. */
export async function startPostgres(): Promise<PostgresService> {
  const initdb = requireProgram("initdb", "postgresql");
  const server = requireProgram("postgres", "postgresql");
  const root = await isRoot();
  const asUser = root ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] : [];
  const dir = await serviceFolder("pg", root ? "postgres" : undefined);
  const data = join(dir, "data");
  const logPath = join(dir, "postgres.log");
  let daemon: Daemon | undefined;
  try {
    const [program, ...prefix] = [...asUser, initdb];
    await run(program!, [
      ...prefix,
      "-D",
      data,
      "-U",
      POSTGRES_USER,
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ], "initialise a PostgreSQL cluster");
    const port = freePort();
    const args = [
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=300",
    ];
    daemon = root
      ? Daemon.spawn("PostgreSQL", "setpriv", [...asUser.slice(1), server, ...args], logPath)
      : Daemon.spawn("PostgreSQL", server, args, logPath);
    const url = `postgres://${POSTGRES_USER}@127.0.0.1:${port}/postgres`;
    await daemon.waitUntil("answering queries", () => answers(url), 30_000, 50);
    const running = daemon;
    const stop = async () => {
      await running.stop("SIGINT"); // fast shutdown
      await removeFolder(dir);
    };
    return {
      port,
      url,
      async createDatabase(name: string): Promise<string> {
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
          throw new ServiceError(`Cannot create database ${name}: not a plain lower-case name`);
        }
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        try {
          await sql.unsafe(`CREATE DATABASE ${name}`);
        } finally {
          await sql.end();
        }
        return `postgres://${POSTGRES_USER}@127.0.0.1:${port}/${name}`;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await daemon?.stop("SIGINT");
    await removeFolder(dir);
    throw error;
  }
}
