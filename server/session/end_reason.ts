/**
 * Why a connection ended: every reason, in one place. The connection's log
 * ends with `Closed: <reason>`, after a line saying more where there is more
 * to say.
 *
 * | reason                | when                                                    | said                                    |
 * |-----------------------|---------------------------------------------------------|-----------------------------------------|
 * | `client-closed`       | the client closed between two requests                  | the client closed it                    |
 * | `closed-after-error`  | a request the server cannot go on from (a huge unknown one) | the server closed it after an error |
 * | `rejections`          | {@linkcode MAX_REJECTIONS} requests got 1607            | 32 requests were rejected               |
 * | `shutdown`            | the server is shutting down                             | the server is shutting down             |
 * | `evicted`             | the server made room, nobody signed in in time, or a 1603 went unanswered ({@linkcode Eviction}) | the eviction's words |
 * | `request-timeout`     | a request's header or whole did not arrive in time (`server/net/timed_conn.ts`) | request timeout |
 * | `idle-timeout`        | a read or write waited longer than the idle deadline    | idle timeout                            |
 * | `protocol-error`      | a frame that cannot be parsed; the client gets 1607     | protocol error                          |
 * | `tls-error`           | TLS failed on the secure port                           | TLS error                               |
 * | `truncated`           | the connection ended inside a request                   | truncated frame                         |
 * | `lost`                | the network failed (reset, broken pipe)                 | connection lost                         |
 * | `internal`            | anything else: a bug                                    | internal error                          |
 *
 * The deadlines behind `request-timeout`, `idle-timeout` and the sign-in
 * eviction are listed in `deadlines.ts`. A new reason the server closes a
 * well-behaved connection (a cap on one identity's connections, a verdict
 * not sent in time) is a new {@linkcode Eviction} kind with its words in
 * {@linkcode describeEviction}, passed to `ServerConnection.evict`.
 *
 * @example
 * ```ts
 * import { describeEnd, endReasonOf } from "./end_reason.ts";
 *
 * const reason = endReasonOf(new Deno.errors.ConnectionReset("reset"), {
 *   eviction: undefined,
 *   expired: undefined,
 *   stopping: false,
 *   closed: true,
 *   secure: false,
 *   betweenRequests: true,
 * });
 * console.assert(describeEnd(reason) === "connection lost");
 * ```
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { isConnectionLost } from "../../common/connection_lost.ts";
import { ProtocolError } from "../../protocol/mod.ts";
import type { Expired } from "../net/timed_conn.ts";

/**
 * Rejected requests (1607) after which a connection is closed: a client that
 * resends a request the server does not accept gets nowhere, and the log
 * grows by less than what it sends.
 */
export const MAX_REJECTIONS = 32;

/** Why the server closed a connection that was not misbehaving. */
export type Eviction =
  /** Nobody signed in within the sign-in deadline (`deadlines.ts`). */
  | { readonly kind: "sign-in-deadline"; readonly timeoutMs: number }
  /**
   * A connection cap was reached and this connection made room for `peer`;
   * `debtMs`, its slot debt then, when a client was signed in on it.
   */
  | { readonly kind: "room"; readonly cap: string; readonly peer: string; readonly debtMs?: number }
  /** The client did not answer a 1603 (900, 901 or 902) in time (`deadlines.ts`). */
  | { readonly kind: "verdict-deadline"; readonly timeoutMs: number };

/** Why a connection ended. */
export type EndReason =
  | { readonly kind: "client-closed" }
  | { readonly kind: "closed-after-error" }
  | { readonly kind: "rejections" }
  | { readonly kind: "shutdown" }
  | { readonly kind: "evicted"; readonly eviction: Eviction }
  | { readonly kind: "request-timeout" }
  | { readonly kind: "idle-timeout" }
  | { readonly kind: "protocol-error"; readonly message: string }
  | { readonly kind: "tls-error"; readonly message: string }
  | { readonly kind: "truncated"; readonly message: string }
  | { readonly kind: "lost"; readonly error: unknown }
  | { readonly kind: "internal"; readonly error: unknown };

/** What is known of a connection when a read or write failed. */
export interface EndFacts {
  /** Why the server closed it, if it did to make room or at a deadline. */
  eviction: Eviction | undefined;
  /** Which per-read deadline passed, if one did (`server/net/timed_conn.ts`). */
  expired: Expired | undefined;
  /** Whether the server asked the connection to end (shutdown). */
  stopping: boolean;
  /** Whether the server closed the socket. */
  closed: boolean;
  /** Whether it is a TLS connection (the secure port). */
  secure: boolean;
  /** Whether it was waiting for a request, not one byte of it read. */
  betweenRequests: boolean;
}

/** Why a connection whose read or write failed with `error` ended. */
export function endReasonOf(error: unknown, facts: EndFacts): EndReason {
  if (facts.eviction !== undefined) return { kind: "evicted", eviction: facts.eviction };
  if (facts.expired === "header" || facts.expired === "request") return { kind: "request-timeout" };
  if (facts.expired === "idle") return { kind: "idle-timeout" };
  if (facts.stopping && facts.closed) return { kind: "shutdown" };
  if (error instanceof ProtocolError) return { kind: "protocol-error", message: error.message };
  if (error instanceof Deno.errors.InvalidData && facts.secure) {
    return { kind: "tls-error", message: error.message };
  }
  if (error instanceof Deno.errors.UnexpectedEof) {
    // TLS without close_notify, between two requests: frames are
    // self-delimiting, so nothing was cut; as a plain close.
    if (facts.secure && facts.betweenRequests) return { kind: "client-closed" };
    return { kind: "truncated", message: error.message };
  }
  if (isConnectionLost(error)) return { kind: "lost", error };
  return { kind: "internal", error };
}

/** The words of `Closed: <reason>`. */
export function describeEnd(reason: EndReason): string {
  switch (reason.kind) {
    case "client-closed":
      return "the client closed it";
    case "closed-after-error":
      return "the server closed it after an error";
    case "rejections":
      return `${MAX_REJECTIONS} requests were rejected`;
    case "shutdown":
      return "the server is shutting down";
    case "evicted":
      return describeEviction(reason.eviction);
    case "request-timeout":
      return "request timeout";
    case "idle-timeout":
      return "idle timeout";
    case "protocol-error":
      return "protocol error";
    case "tls-error":
      return "TLS error";
    case "truncated":
      return "truncated frame";
    case "lost":
      return "connection lost";
    case "internal":
      return "internal error";
  }
}

/** The words of an eviction. */
export function describeEviction(eviction: Eviction): string {
  switch (eviction.kind) {
    case "sign-in-deadline":
      return `nobody signed in within ${eviction.timeoutMs / 1000} s`;
    case "room":
      return `${eviction.cap}: room made for ${eviction.peer}${
        eviction.debtMs === undefined
          ? ""
          : ` (this one owed ${(eviction.debtMs / 1000).toFixed(1)} s of slot debt)`
      }`;
    case "verdict-deadline":
      return `no verdict (900, 901 or 902) within ${
        eviction.timeoutMs / 1000
      } s of a 1603; the upload was discarded`;
  }
}

/**
 * Logs what there is to say about `reason` before the `Closed:` line (an
 * idle timeout was logged when it fired; a plain close needs no more).
 */
export function logEnd(logger: Logger, reason: EndReason): void {
  switch (reason.kind) {
    case "evicted":
      logger.warn("Closed by the server: {reason}", { reason: describeEviction(reason.eviction) });
      return;
    case "request-timeout":
      logger.warn("Connection {connection} from {peer} too slow: a request did not arrive in time");
      return;
    case "protocol-error":
      logger.warn("Rejected: {reason}; closing", { reason: reason.message });
      return;
    case "tls-error":
      logger.warn("Connection {connection} from {peer}: TLS failed: {reason}", {
        reason: reason.message,
      });
      return;
    case "truncated":
      logger.warn("Ended in the middle of a request: {reason}", { reason: reason.message });
      return;
    case "lost":
      logger.warn("Lost: {reason}", { reason: String(reason.error) });
      return;
    case "internal":
      logger.error("Failed: {error}", { error: reason.error });
      return;
    default:
      return;
  }
}
