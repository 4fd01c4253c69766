/**
 * Reading and writing the client's identity files in its folder:
 * `me.info` (or the reference client's `info.me`) and `priv.key`, in the
 * formats of `docs/protocol.md` §10 (codecs in `protocol/identity.ts`).
 *
 * Files are written atomically (a temporary file in the same folder, then a
 * rename) and readable by the owner only (mode 0600) where the system has
 * permissions.
 *
 * @module
 */

import { errorMessage } from "../common/error_message.ts";
import { join } from "node:path";
import {
  clientIdToHex,
  formatMeInfo,
  formatPrivateKey,
  type Identity,
  IdentitySyntaxError,
  parseMeInfo,
  parsePrivateKey,
} from "../protocol/mod.ts";
import { exists } from "../common/exists.ts";
import { ConfigError } from "./client_error.ts";

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

function cannotRead(path: string, error: unknown): ConfigError {
  return new ConfigError({
    action: `read ${path}`,
    reason: errorMessage(error),
    hint: "Check the file's permissions",
  }, { cause: error });
}

/**
 * Reads a text file of the client's folder.
 *
 * @returns `undefined` when it does not exist.
 * @throws {ConfigError} if it exists but cannot be read.
 */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw cannotRead(path, error);
  }
}

function syntaxReason(error: IdentitySyntaxError): string {
  return error.where === undefined ? error.reason : `${error.where}: ${error.reason}`;
}

/**
 * Loads the identity from `folder`: `me.info`, else `info.me`; the private
 * key from `priv.key` when it exists, else from the identity file.
 *
 * @returns `undefined` when neither `me.info` nor `info.me` exists.
 * @throws {ConfigError} if a file cannot be read or parsed.
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
    if (!(error instanceof IdentitySyntaxError)) throw error;
    throw new ConfigError({
      action: `read ${path}`,
      reason: syntaxReason(error),
      hint: "Fix the file, or move it and priv.key away to register under a new name",
    }, { cause: error });
  }
  const keyPath = join(folder, PRIV_KEY);
  const keyText = await readOptional(keyPath);
  if (keyText !== undefined) {
    try {
      identity.privateKeyDer = parsePrivateKey(keyText);
    } catch (error) {
      if (!(error instanceof IdentitySyntaxError)) throw error;
      throw new ConfigError({
        action: `read ${keyPath}`,
        reason: syntaxReason(error),
        hint: `Restore it from ${path} (its lines 3 and on) or delete it to use the key in ${path}`,
      }, { cause: error });
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

/** Whether `path` exists; a failure to look is a {@linkcode ConfigError} naming the path. */
async function existing(path: string): Promise<boolean> {
  try {
    return await exists(path);
  } catch (error) {
    throw cannotRead(path, error);
  }
}

/** A name beside `path` that is not taken: `<path>.<tag>.old`, then `.old-2`, ... */
async function freeName(path: string, tag: string): Promise<string> {
  for (let n = 1;; n++) {
    const candidate = `${path}.${tag}.old${n === 1 ? "" : `-${n}`}`;
    if (!(await existing(candidate))) return candidate;
  }
}

/**
 * Moves the identity files that a new registration would replace (`me.info`
 * and `priv.key`) aside, under names that carry the old client id:
 * `me.info.<id hex>.old` and `priv.key.<id hex>.old` (`priv.key.no-id.old`
 * for a key without a `me.info`). The reference's `info.me` is never
 * replaced, so it stays where it is.
 *
 * @param previous The identity loaded before, if any (its id names the copies).
 * @returns The paths the files were moved to; empty when there was nothing.
 * @throws {ConfigError} if a file cannot be moved.
 */
export async function setAsideIdentity(
  folder: string,
  previous: Identity | undefined,
): Promise<string[]> {
  const tag = previous === undefined ? "no-id" : clientIdToHex(previous.clientId);
  const moved: string[] = [];
  for (const name of [ME_INFO, PRIV_KEY]) {
    const path = join(folder, name);
    if (!(await existing(path))) continue;
    const target = await freeName(path, tag);
    try {
      await Deno.rename(path, target);
    } catch (error) {
      throw new ConfigError({
        action: `keep a copy of ${path}`,
        reason: errorMessage(error),
        hint: "Make the client's folder writable and run the client again",
      }, { cause: error });
    }
    moved.push(target);
  }
  return moved;
}

/**
 * Writes `priv.key` then `me.info` into `folder`, each atomically with mode
 * 0600. `me.info` comes last: its presence means the identity is complete.
 * Whatever they replace must have been set aside first
 * ({@linkcode setAsideIdentity}).
 *
 * @throws {ConfigError} if a file cannot be written.
 */
export async function saveIdentity(folder: string, identity: Identity): Promise<void> {
  const files = [
    [PRIV_KEY, formatPrivateKey(identity.privateKeyDer)],
    [ME_INFO, formatMeInfo(identity)],
  ] as const;
  for (const [name, text] of files) await writeClientFile(join(folder, name), text);
}

/**
 * Writes a file of the client's folder atomically (mode 0600).
 *
 * @throws {ConfigError} if it cannot be written.
 */
export async function writeClientFile(path: string, text: string): Promise<void> {
  try {
    await writeAtomically(path, text);
  } catch (error) {
    throw new ConfigError({
      action: `write ${path}`,
      reason: errorMessage(error),
      hint: "Make the client's folder writable and run the client again",
    }, { cause: error });
  }
}
