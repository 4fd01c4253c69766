/**
 * The request table: every request code a connection serves, with its codec
 * and its handler, and the one dispatch over it ({@linkcode serveRequest}).
 * No request is special-cased outside the table.
 *
 * For each request header the dispatch does, in order:
 *
 * | step | what                                                            | on failure                                   |
 * |------|-----------------------------------------------------------------|----------------------------------------------|
 * | 1    | find the code in the connection's table                         | 1607; a payload of up to 4 KiB is skipped and the connection goes on, a larger one closes it |
 * | 2    | check the header's payload size ({@linkcode RequestEntry.payloadSize}) | `ProtocolError`: 1607 and the connection closes |
 * | 3    | read the payload; the header deadline ends (the request deadline goes on: each MiB received or sent restarts it, so a download's answer is held to the same minimum rate as an upload) | the connection ends (truncated, timed out)   |
 * | 4    | after a 901, refuse anything but the resend ({@linkcode RequestEntry.servedWhileResendDue}) | 1607, the upload in hand is dropped; goes on |
 * | 5    | decode the payload ({@linkcode RequestEntry.decode})            | `ProtocolError`: 1607, the connection goes on |
 * | 6    | run the handler ({@linkcode RequestEntry.handle})               | a `ProtocolError` closes the connection with 1607; the handler answers anything else it refuses |
 * | 7    | a request that works ({@linkcode RequestEntry.renewsIdle}) renews the idle timer | |
 *
 * A table belongs to a {@linkcode Dialect}: the codes it serves and how its
 * answers are encoded. A connection is served in one dialect, chosen from its
 * first request header ({@linkcode DialectChoice}); another dialect of the
 * protocol is another table, not branches in handlers. The reference
 * dialect's table is in `reference_dialect.ts`.
 *
 * ## Adding a request
 *
 * 1. Write its handler in `requests/<name>.ts`: one exported entry made with
 *    {@linkcode defineRequest} (code, name, payload size, decode, handle),
 *    with the codec from `protocol/` and the state it needs read and replaced
 *    through the {@linkcode RequestScope} (`scope.ts`).
 * 2. Add the entry to its dialect's table (for the reference dialect,
 *    `REFERENCE_REQUESTS` or, for requests of the secure port only, the list
 *    in {@linkcode referenceDialect}, in `reference_dialect.ts`).
 *
 * Nothing else changes: the dispatch, the deadlines and the end reasons apply
 * to it as they are. A property every request has (whether it renews the idle
 * timer, say) is a field of {@linkcode RequestEntry} read in
 * {@linkcode serveRequest}.
 *
 * @example
 * ```ts
 * import { defineRequest, exactPayload, requestTable } from "./request_table.ts";
 *
 * const ping = defineRequest({
 *   code: 4000,
 *   name: "ping",
 *   payloadSize: exactPayload(0, "ping"),
 *   decode: () => ({}),
 *   handle: async (scope) => await scope.reject(4000, "no pings here"),
 * });
 * const table = requestTable([ping]);
 * console.assert(table.get(4000)?.name === "ping");
 * ```
 *
 * @module
 */

import { ProtocolError, type RequestHeader, type Response } from "../../protocol/mod.ts";
import type { RequestScope } from "./scope.ts";

/** Largest payload of an unknown request that is skipped rather than closing the connection. */
export const MAX_SKIPPED_PAYLOAD = 4096;

/** How one request code is read, decoded and handled: one row of a table. */
export interface RequestSpec<R> {
  /** The request code. */
  readonly code: number;
  /** What it is, for logs and docs: `register`, `key proof`. */
  readonly name: string;
  /**
   * How many payload bytes to read for `header`, before a byte is read.
   *
   * @throws {ProtocolError} when the header's payload size is wrong for the
   * code: 1607, and the connection closes.
   */
  payloadSize(header: RequestHeader): number;
  /**
   * Decodes the payload.
   *
   * @throws {ProtocolError} for a payload that does not decode (a bad name):
   * 1607, and the connection goes on.
   */
  decode(payload: Uint8Array, header: RequestHeader): R;
  /**
   * Serves the decoded request: checks it against the connection's state,
   * acts, answers. Throws a `ProtocolError` to close the connection with
   * 1607; refuses anything else itself (`scope.reject`).
   */
  handle(scope: RequestScope, request: R, header: RequestHeader): Promise<void>;
  /**
   * Whether it is served while a resend is due (after 901), when every other
   * request is refused and drops the upload in hand. Default `false`.
   */
  readonly servedWhileResendDue?: boolean;
  /**
   * Whether serving it counts as work: the idle deadline starts again after
   * it (unless it was refused). Default `true`; the discovery request (850)
   * does no work, so a client cannot keep a connection open by repeating it
   * (issue 17). Which connection makes room for a newcomer does not go by
   * this, but by its slot debt (`net/timed_conn.ts`), which no request
   * clears: only bytes moved pay it back.
   */
  readonly renewsIdle?: boolean;
}

/** A row of a table: a {@linkcode RequestSpec} whose request type is sealed inside. */
export interface RequestEntry {
  /** The request code. */
  readonly code: number;
  /** What it is, for logs and docs. */
  readonly name: string;
  /** See {@linkcode RequestSpec.payloadSize}. */
  payloadSize(header: RequestHeader): number;
  /** Decodes the payload and returns the handler bound to it (see {@linkcode RequestSpec.decode}). */
  decode(payload: Uint8Array, header: RequestHeader): (scope: RequestScope) => Promise<void>;
  /** See {@linkcode RequestSpec.servedWhileResendDue}. */
  readonly servedWhileResendDue: boolean;
  /** See {@linkcode RequestSpec.renewsIdle}; `true` when omitted. */
  readonly renewsIdle?: boolean;
}

/** The requests a dialect serves, by code. */
export type RequestTable = ReadonlyMap<number, RequestEntry>;

/** A dialect of the protocol: the requests it serves and how its answers are encoded. */
export interface Dialect {
  /** Its name, for logs: `reference`. */
  readonly name: string;
  /** The requests it serves. */
  readonly requests: RequestTable;
  /** Encodes an answer. */
  encodeResponse(response: Response): Uint8Array;
}

/** Chooses a connection's dialect from its first request header. */
export type DialectChoice = (first: RequestHeader) => Dialect;

/** Seals a request's spec into a table row. */
export function defineRequest<R>(spec: RequestSpec<R>): RequestEntry {
  return {
    code: spec.code,
    name: spec.name,
    payloadSize: (header) => spec.payloadSize(header),
    decode: (payload, header) => {
      const request = spec.decode(payload, header);
      return (scope) => spec.handle(scope, request, header);
    },
    servedWhileResendDue: spec.servedWhileResendDue ?? false,
    renewsIdle: spec.renewsIdle ?? true,
  };
}

/**
 * A payload of exactly `size` bytes; any other size is a `ProtocolError`
 * naming `what`: `Cannot accept request 825: payload size 3 instead of 255`.
 */
export function exactPayload(size: number, what: string): (header: RequestHeader) => number {
  return (header) => {
    if (header.payloadSize !== size) {
      throw new ProtocolError(
        `Cannot accept ${what}: payload size ${header.payloadSize} instead of ${size}`,
      );
    }
    return size;
  };
}

/**
 * A payload of at most `max` bytes (a request whose fields have lengths);
 * a larger one is a `ProtocolError` naming `what`, before a byte is read.
 */
export function boundedPayload(max: number, what: string): (header: RequestHeader) => number {
  return (header) => {
    if (header.payloadSize > max) {
      throw new ProtocolError(
        `Cannot accept ${what}: payload size ${header.payloadSize}, more than ${max}`,
      );
    }
    return header.payloadSize;
  };
}

/**
 * A table of `entries`.
 *
 * @throws {RangeError} if two entries have the same code.
 */
export function requestTable(entries: readonly RequestEntry[]): RequestTable {
  const table = new Map<number, RequestEntry>();
  for (const entry of entries) {
    if (table.has(entry.code)) {
      throw new RangeError(`Cannot build request table: code ${entry.code} appears twice`);
    }
    table.set(entry.code, entry);
  }
  return table;
}

/** What the connection needs besides the scope to serve one request. */
export interface DispatchHooks {
  /** The request's header and payload are in: the header deadline ends. */
  endHeader(): void;
  /** Whether the client announced a resend (901) and the next request must be 828. */
  resendDue(): boolean;
  /** A request that renews the idle timer ({@linkcode RequestSpec.renewsIdle}) was served. */
  worked?(): void;
}

/**
 * Serves one request whose header was read, through `table` (the steps in the
 * module documentation).
 *
 * @returns Whether the connection goes on.
 * @throws {ProtocolError} when the connection must close with 1607.
 */
export async function serveRequest(
  scope: RequestScope,
  table: RequestTable,
  header: RequestHeader,
  hooks: DispatchHooks,
): Promise<boolean> {
  const entry = table.get(header.code);
  if (entry === undefined) return await skipUnknown(scope, header);
  const size = entry.payloadSize(header);
  const payload = await scope.reader.readExact(size, size);
  hooks.endHeader();
  if (hooks.resendDue() && !entry.servedWhileResendDue) {
    await scope.forgetUpload();
    await scope.reject(header.code, "after 901 the next request must be 828");
    return true;
  }
  let handle: (scope: RequestScope) => Promise<void>;
  try {
    handle = entry.decode(payload, header);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    await scope.reject(header.code, error.message);
    return true;
  }
  await handle(scope);
  if (entry.renewsIdle !== false) hooks.worked?.();
  return true;
}

/** An unknown code: 1607, then its payload is skipped (small) or the connection closed. */
async function skipUnknown(scope: RequestScope, header: RequestHeader): Promise<boolean> {
  const { code, payloadSize } = header;
  await scope.reject(code, `unknown request code ${code}`);
  if (payloadSize > MAX_SKIPPED_PAYLOAD) {
    scope.logger.warn("Closing: a payload of {payloadSize} bytes is too large to skip", {
      payloadSize,
    });
    return false;
  }
  await scope.reader.skip(payloadSize);
  return true;
}
