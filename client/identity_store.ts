/**
 * Reading and writing the client's identity files in its folder:
 * `me.info` (or the reference client's `info.me`) and `priv.key`, in the
 * formats of `PROTOCOL.md` (codecs in `protocol/identity.ts`).
 *
 * Files are written atomically (a temporary file in the same folder, then a
 * rename) and readable by the owner only (mode 0600) where the system has
 * permissions.
 *
 * @module
 */

import { join } from "node:path";
import {
  formatMeInfo,
  formatPrivateKey,
  type Identity,
  parseMeInfo,
  parsePrivateKey,
} from "../protocol/mod.ts";
import { ClientError, ExitCode } from "./client_error.ts";

/** The identity file our client writes. */
export const ME_INFO = "me.info";
/** The identity file the reference client writes; read when `me.info` is missing. */
export const REFERENCE_ME_INFO = "info.me";
/** The private key file. */
export const PRIV_KEY = "priv.key";

/** An identity and the file it came from. */
export interface LoadedIdentity {
  /** The identity; its key is from `priv.key` when that file exists. */
  identity: Identity;
  /** The path of the `me.info` (or `info.me`) it came from. */
  path: string;
}

/**
 * Reads a text file of the client's folder.
 *
 * @returns `undefined` when it does not exist.
 * @throws {ClientError} (exit code 2) if it exists but cannot be read.
 */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ClientError(
      ExitCode.Config,
      `Cannot read ${path}: ${(error as Error).message}. Check the file's permissions`,
      { cause: error },
    );
  }
}

/**
 * Loads the identity from `folder`: `me.info`, else `info.me`; the private
 * key from `priv.key` when it exists, else from the identity file.
 *
 * @returns `undefined` when neither `me.info` nor `info.me` exists.
 * @throws {ClientError} (exit code 2) if a file cannot be read or parsed.
 */
export async function loadIdentity(folder: string): Promise<LoadedIdentity | undefined> {
  let path = join(folder, ME_INFO);
  let text = await readOptional(path);
  if (text === undefined) {
    path = join(folder, REFERENCE_ME_INFO);
    text = await readOptional(path);
  }
  if (text === undefined) return undefined;
  let identity: Identity;
  try {
    identity = parseMeInfo(text);
  } catch (error) {
    throw new ClientError(
      ExitCode.Config,
      `Cannot read ${path}: ${(error as Error).message.replace(/^Cannot parse /, "")}. ` +
        "Fix the file, or move it and priv.key away to register under a new name",
      { cause: error },
    );
  }
  const keyPath = join(folder, PRIV_KEY);
  const keyText = await readOptional(keyPath);
  if (keyText !== undefined) {
    try {
      identity.privateKeyDer = parsePrivateKey(keyText);
    } catch (error) {
      throw new ClientError(
        ExitCode.Config,
        `Cannot read ${keyPath}: ${
          (error as Error).message.replace(/^Cannot parse private key: /, "")
        }. ` +
          `Restore it from ${path} (its lines 3 and on) or delete it to use the key in ${path}`,
        { cause: error },
      );
    }
  }
  return { identity, path };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, { mode: 0o600, createNew: true });
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, 0o600);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Writes `priv.key` then `me.info` into `folder`, each atomically with mode
 * 0600. `me.info` comes last: its presence means the identity is complete.
 *
 * @throws {ClientError} (exit code 2) if a file cannot be written.
 */
export async function saveIdentity(folder: string, identity: Identity): Promise<void> {
  for (
    const [name, text] of [[PRIV_KEY, formatPrivateKey(identity.privateKeyDer)], [
      ME_INFO,
      formatMeInfo(identity),
    ]] as const
  ) {
    await writeClientFile(join(folder, name), text);
  }
}

/**
 * Writes a file of the client's folder atomically (mode 0600).
 *
 * @throws {ClientError} (exit code 2) if it cannot be written.
 */
export async function writeClientFile(path: string, text: string): Promise<void> {
  try {
    await writeAtomically(path, text);
  } catch (error) {
    throw new ClientError(
      ExitCode.Config,
      `Cannot write ${path}: ${(error as Error).message}. ` +
        "Make the client's folder writable and run the client again",
      { cause: error },
    );
  }
}
