/**
 * Runs `client/main.ts` as a subprocess with exactly the permissions the
 * compiled client gets (`CLIENT_PERMISSION_FLAGS`), and prepares client
 * folders.
 *
 * @module
 */

import { join } from "node:path";
import { CLIENT_PERMISSION_FLAGS, ROOT } from "../../scripts/permissions.ts";

/** What a client run produced. */
export interface ClientRun {
  /** Exit code. */
  code: number;
  /** Everything on stdout. */
  stdout: string;
  /** Everything on stderr. */
  stderr: string;
}

/** The path of the client's entry point. */
export const CLIENT_MAIN: string = join(ROOT, "client/main.ts");

/**
 * Runs the client with `args`, in `cwd` (the system temp folder by default),
 * with stdin closed. Fast retries unless `args` says otherwise.
 */
export async function runClient(
  args: string[],
  options: { cwd?: string; fastRetries?: boolean } = {},
): Promise<ClientRun> {
  const extra = options.fastRetries === false ? [] : ["--retry-delay", "20"];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLIENT_PERMISSION_FLAGS, CLIENT_MAIN, ...args, ...extra],
    cwd: options.cwd ?? Deno.makeTempDirSync({ prefix: "client-cwd-" }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Writes `transfer.info` (and, when given, the file to send) into `dir`. */
export async function writeTransferInfo(
  dir: string,
  port: number,
  name: string,
  filePath: string,
  contents?: Uint8Array,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  if (contents !== undefined) await Deno.writeFile(join(dir, filePath), contents);
  await Deno.writeTextFile(join(dir, "transfer.info"), `127.0.0.1:${port}\n${name}\n${filePath}\n`);
}

/** Deterministic pseudo-random bytes. */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}
