/**
 * `transfer.log` in the client's folder: every run appends what it did, so a
 * client started without a terminal (a double-click, a scheduled task) still
 * leaves an answer beside `transfer.info`.
 *
 * ```text
 * 2026-12-03T15:04:05.678Z run: client 1.0.0, 2 files to 127.0.0.1:1256 as "Alice"
 * 2026-12-03T15:04:05.901Z pinned 127.0.0.1:1256: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
 * 2026-12-03T15:04:06.112Z stored a.bin (5 B, cksum 1220704766) as "a.bin"
 * 2026-12-03T15:04:06.113Z skipped b.bin: already stored (same size and SHA-256)
 * 2026-12-03T15:04:06.114Z failed c.bin: Cannot send c.bin: ...
 * 2026-12-03T15:04:06.115Z result: 1 stored, 1 skipped, 1 failed; exit code 4
 * ```
 *
 * The file is created 0600 (it names the user's files and servers). Each line
 * is appended as it happens, synchronously, so an interrupted run (Ctrl-C)
 * keeps what it wrote. A log that cannot be written is said once on stderr
 * and never stops a transfer.
 *
 * @example
 * ```ts
 * import { TransferLog } from "./transfer_log.ts";
 *
 * const folder = await Deno.makeTempDir();
 * const log = new TransferLog(folder, (problem) => console.error(problem));
 * log.line("run: a test");
 * console.log(await Deno.readTextFile(log.path)); // "<time> run: a test\n"
 * await Deno.remove(folder, { recursive: true });
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { errorMessage } from "../common/error_message.ts";

/** The log's file name, in the client's folder. */
export const TRANSFER_LOG = "transfer.log";

/** Appends result lines to `transfer.log`. */
export class TransferLog {
  /** The log's path. */
  readonly path: string;
  #onProblem: (problem: string) => void;
  #broken = false;
  #encoder = new TextEncoder();

  /**
   * Prepares the log in `folder`; nothing is written before the first line.
   *
   * @param onProblem Told once, in one line, if the log cannot be written.
   */
  constructor(folder: string, onProblem: (problem: string) => void) {
    this.path = join(folder, TRANSFER_LOG);
    this.#onProblem = onProblem;
  }

  /** Appends `text` (one line; line ends inside become spaces) with the time. */
  line(text: string): void {
    if (this.#broken) return;
    const line = `${new Date().toISOString()} ${text.replace(/[\r\n]+/g, " ")}\n`;
    try {
      Deno.writeFileSync(this.path, this.#encoder.encode(line), {
        append: true,
        create: true,
        mode: 0o600,
      });
    } catch (error) {
      this.#broken = true;
      this.#onProblem(
        `Cannot write ${this.path}: ${errorMessage(error)}. ` +
          "The run goes on; its result is only on the screen",
      );
    }
  }
}
