/**
 * Accepting connections on one listener until the server closes: a peer
 * gone before it was accepted (a load balancer's health check) is skipped,
 * any other failure is logged and retried after a pause.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Listener, NetConn } from "./net/listen.ts";

const logger = getLogger(["server"]);

/** Pause after an accept failure that is not the peer's, before trying again. */
const ACCEPT_RETRY_MS = 100;

/** What the loop asks and tells its owner. */
export interface AcceptHooks {
  /** Whether the server is closing: the loop ends, and a connection just accepted is closed. */
  closing(): boolean;
  /** A connection was accepted. */
  accepted(conn: NetConn): void;
}

/** Accepts connections on `listener` until it closes or `hooks.closing()`; never rejects. */
export async function acceptLoop(listener: Listener, hooks: AcceptHooks): Promise<void> {
  while (!hooks.closing()) {
    let conn: NetConn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (hooks.closing() || error instanceof Deno.errors.BadResource) return;
      if (
        error instanceof Deno.errors.NotConnected ||
        error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.ConnectionAborted
      ) {
        // The peer left before we took its connection (a load balancer's health check).
        logger.debug("A connection was gone before it was accepted: {error}", { error });
        continue;
      }
      logger.error("Cannot accept a connection: {error}", { error });
      await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
      continue;
    }
    if (hooks.closing()) {
      conn.close();
      return;
    }
    hooks.accepted(conn);
  }
}
