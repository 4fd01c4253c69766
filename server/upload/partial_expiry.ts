/**
 * The sweep that removes what cut uploads kept once it is older than the time
 * to keep it (`--partial-ttl`, see `partials.ts`): at start-up and then every
 * tenth of that time (at least every second, at most every minute), each
 * removal logged.
 *
 * @example
 * ```ts
 * import { startPartialExpiry } from "./partial_expiry.ts";
 * import { openLocalStorage } from "../storage/storage.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const storage = await openLocalStorage(dir);
 * const expiry = startPartialExpiry(storage, 24 * 60 * 60 * 1000);
 * await expiry.stop();
 * await storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { clientIdToHex } from "../../protocol/mod.ts";
import { Periodic } from "../../common/periodic.ts";
import { formatBytes } from "../../common/units.ts";
import type { FileStore } from "../storage/file_store.ts";
import type { Registry } from "../storage/registry.ts";
import { expirePartials } from "./partials.ts";

/** A running sweep. */
export interface PartialExpiry {
  /** Stops sweeping; settles once a sweep in progress is done. */
  stop(): Promise<void>;
}

/** Starts sweeping `storage` for kept partial uploads older than `ttlMs`. */
export function startPartialExpiry(
  storage: { registry: Registry; store: FileStore },
  ttlMs: number,
): PartialExpiry {
  const logger = getLogger(["server", "partials"]);
  const periodic = new Periodic({
    intervalMs: Math.min(Math.max(ttlMs / 10, 1000), 60_000),
    run: async () => {
      for (const partial of await expirePartials(storage, ttlMs)) {
        logger.info(
          "Removed the {bytes} kept of a cut upload of {fileName} (client {clientId}): " +
            "kept longer than {hours} h",
          {
            bytes: formatBytes(partial.received),
            fileName: partial.fileName,
            clientId: clientIdToHex(partial.clientId),
            hours: Number((ttlMs / 3_600_000).toFixed(3)),
          },
        );
      }
    },
    onError: (error) =>
      logger.warn("Cannot remove expired partial uploads now: {error}", { error }),
  });
  periodic.start({ now: true });
  return periodic;
}
