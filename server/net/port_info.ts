/**
 * The server's `port.info`: one line holding the TCP port to listen on.
 *
 * @module
 */

import { join } from "node:path";
import { DEFAULT_PORT } from "../../protocol/mod.ts";

/** Name of the port file in the data folder. */
export const PORT_INFO_FILE = "port.info";

/** What {@linkcode readPortInfo} found. */
export interface PortInfo {
  /** The port to listen on: the file's, or {@linkcode DEFAULT_PORT}. */
  port: number;
  /** Why the default was used instead of the file, when it was. */
  problem?: string;
}

/**
 * Reads `port.info` from `dir`. A missing, unreadable or invalid file is not
 * an error: the result is the default port 1256 with the reason in `problem`.
 */
export async function readPortInfo(dir: string): Promise<PortInfo> {
  const path = join(dir, PORT_INFO_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "it does not exist" : String(error);
    return { port: DEFAULT_PORT, problem: `Cannot read ${path}: ${reason}` };
  }
  const line = text.split(/\r?\n/, 1)[0]!.trim();
  const port = /^[0-9]{1,5}$/.test(line) ? Number(line) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    return {
      port: DEFAULT_PORT,
      problem: `Cannot use ${path}: ${JSON.stringify(line.slice(0, 20))} is not a port (1-65535)`,
    };
  }
  return { port };
}
