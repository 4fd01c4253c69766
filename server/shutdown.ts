/**
 * A clean shutdown of the open connections:
 *
 * | step | what                                                                      |
 * |------|---------------------------------------------------------------------------|
 * | 1    | say how many uploads it waits for, for how long, and which                |
 * | 2    | ask every connection to end: idle ones close at once, busy ones when done |
 * | 3    | wait for them, up to the grace period (`session/deadlines.ts`)            |
 * | 4    | say which are still busy, and close every one that is left               |
 *
 * The listeners are closed before, the storage after (`server.ts`).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { plural } from "../common/units.ts";
import type { ConnectionPool } from "./connection_pool.ts";

const logger = getLogger(["server"]);

/** Ends every connection of `pool`, letting busy ones finish for up to `graceMs`. */
export async function shutDownConnections(pool: ConnectionPool, graceMs: number): Promise<void> {
  announceShutdown(pool, graceMs);
  for (const connection of pool.connections()) connection.shutdown();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([pool.ended(), grace]);
  clearTimeout(timer);
  if (pool.size > 0) {
    const busy = pool.activities();
    logger.warn("Grace period over: closing {connections}{which}", {
      connections: plural(pool.size, "connection"),
      which: busy.length === 0 ? "" : `: ${busy.join("; ")}`,
    });
  }
  for (const connection of pool.connections()) connection.abort();
  await pool.ended();
}

/** Says how many uploads the shutdown waits for, for how long, and which. */
function announceShutdown(pool: ConnectionPool, graceMs: number): void {
  const busy = pool.activities();
  const idle = pool.size - busy.length;
  const closing = idle === 0 ? "" : `; closing ${plural(idle, "idle connection")}`;
  if (busy.length === 0) {
    logger.info("Shutting down: no upload in progress{closing}", { closing });
    return;
  }
  logger.info("Shutting down: waiting up to {seconds} s for {uploads}{closing}: {which}", {
    seconds: graceMs / 1000,
    uploads: plural(busy.length, "upload"),
    closing,
    which: busy.join("; "),
  });
}
