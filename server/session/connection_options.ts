/**
 * What a server connection (`ServerConnection`, `connection.ts`)
 * is given by the server: who it is, what every connection shares, how its
 * dialect is chosen, its deadlines and caps.
 *
 * @module
 */

import type { SessionContext } from "./scope.ts";
import type { DialectChoice } from "./request_table.ts";
import type { IdentityConnections } from "./identity_connections.ts";
import type { Clock } from "./deadlines.ts";

/** What a connection is given. */
export interface ConnectionOptions {
  /** A number naming the connection in the log. */
  id: number;
  /** The peer address, for the log. */
  peer: string;
  /** The peer's address without the port, for per-address caps; `peer` when omitted. */
  address?: string;
  /** What every connection shares. */
  context: SessionContext;
  /** The connection's dialect, chosen from its first request header. */
  dialects: DialectChoice;
  /** On the secure port: the certificate's fingerprint, to which key proofs are bound. */
  secure?: { fingerprint: Uint8Array };
  /** How long the connection may stay open without a client signed in (`deadlines.ts`). */
  signInTimeoutMs: number;
  /**
   * How long a client may take to answer a 1603 (900, 901 or 902), or to
   * send its file again after 901 (`deadlines.ts`); no limit when omitted.
   */
  verdictTimeoutMs?: number;
  /** The connections signed in under each identity, with their cap; no cap when omitted. */
  identities?: IdentityConnections;
  /** Called when the server closes it to make room or at a deadline: its slot is free at once. */
  onEvicted?: () => void;
  /** The timers of its deadlines; the system's by default. */
  clock?: Clock;
}
