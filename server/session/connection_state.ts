/**
 * A server connection's state, as two discriminated unions: who is on the
 * connection ({@linkcode ClientState}) and what the connection is doing now
 * ({@linkcode Activity}). Whether it is busy, what it is doing in words, and
 * whether it is between requests are derived from them, never stored.
 *
 * | client state | reached by                          | left by                                 |
 * |--------------|-------------------------------------|-----------------------------------------|
 * | `unsigned`   | a new connection                    | 825 (registering), 827 (signed in)      |
 * | `registering`| 825 with a free name                | 826 (signed in), 827 (signed in)        |
 * | `signed-in`  | 826 or 827 accepted                 | 827 again (signed in anew)              |
 *
 * The server may also want the connection to end ({@linkcode Ending}): at
 * once, or, for a shutdown, as soon as it is no longer busy.
 *
 * A signed-in client may have an upload in hand ({@linkcode UploadInHand}):
 * one that awaits the client's verdict (after 1603), or a resend the client
 * announced (901). Either makes the connection busy: a shutdown lets it
 * finish, up to the grace period.
 *
 * | activity    | from                               | to                                  |
 * |-------------|------------------------------------|-------------------------------------|
 * | `waiting`   | the end of a request               | a request header's arrival          |
 * | `handling`  | a request header's arrival         | the end of the request              |
 * | `receiving` | an 828 accepted                    | its last packet (back to `handling`)|
 *
 * @example
 * ```ts
 * import { type Activity, type ClientState, isBusy } from "./connection_state.ts";
 *
 * const client: ClientState = { kind: "unsigned" };
 * const activity: Activity = { kind: "waiting", since: 0 };
 * console.assert(!isBusy(client, activity));
 * ```
 *
 * @module
 */

import type { ClientId } from "../../protocol/mod.ts";
import type { UploadResult } from "../upload/upload.ts";
import type { Eviction } from "./end_reason.ts";

/** The client signed in on a connection and its key. */
export interface SignedInClient {
  /** The client's id. */
  readonly clientId: ClientId;
  /** The client's name. */
  readonly name: string;
  /** The AES key sent to it on this connection (1602 or 1605). */
  readonly aesKey: CryptoKey;
}

/** An upload a signed-in client has in hand. */
export type UploadInHand =
  /** Received and answered with 1603: 900, 901 or 902 is due. */
  | { readonly kind: "awaiting-verdict"; readonly upload: UploadResult }
  /** The client answered 901: the next request must be 828. */
  | { readonly kind: "resend-due" };

/** Who is on the connection. */
export type ClientState =
  /** Nobody yet. */
  | { readonly kind: "unsigned" }
  /** An 825 offered `clientId` for `name`; its key (826) is awaited. */
  | { readonly kind: "registering"; readonly clientId: ClientId; readonly name: string }
  /** A client signed in (826 or 827), with the upload it has in hand, if any. */
  | {
    readonly kind: "signed-in";
    readonly client: SignedInClient;
    readonly upload?: UploadInHand;
  };

/** What the connection is doing now. */
export type Activity =
  /** Waiting for a request, since `since` (`performance.now()`). */
  | { readonly kind: "waiting"; readonly since: number }
  /** Reading or answering a request whose header arrived. */
  | { readonly kind: "handling" }
  /** Receiving an upload's packets; `fileName` once its first packet is read. */
  | { readonly kind: "receiving"; readonly fileName?: string };

/** Why the server wants the connection to end, once it does. */
export type Ending =
  /** The server is shutting down: the connection ends once it is not busy. */
  | { readonly kind: "shutdown" }
  /** The server closed it to make room, or at a deadline (`end_reason.ts`). */
  | { readonly kind: "evicted"; readonly eviction: Eviction };

/**
 * Whether the connection is in the middle of an upload or its verdict: a
 * shutdown lets it finish, up to the grace period.
 */
export function isBusy(client: ClientState, activity: Activity): boolean {
  return activity.kind === "receiving" ||
    (client.kind === "signed-in" && client.upload !== undefined);
}

/**
 * What a busy connection is doing, for the shutdown message:
 * `connection 3 (Alice) receiving report.pdf`; `undefined` when not busy.
 *
 * @param id The connection's number in the log.
 */
export function describeActivity(
  id: number,
  client: ClientState,
  activity: Activity,
): string | undefined {
  if (!isBusy(client, activity)) return undefined;
  const who = client.kind === "signed-in"
    ? `connection ${id} (${client.client.name})`
    : `connection ${id}`;
  if (activity.kind === "receiving") return `${who} receiving ${activity.fileName ?? "a file"}`;
  const upload = client.kind === "signed-in" ? client.upload : undefined;
  if (upload?.kind === "awaiting-verdict") {
    return `${who}: ${upload.upload.fileName} awaits the client's confirmation`;
  }
  return `${who}: the client is to send its file again`;
}

/** The signed-in client, or `undefined`. */
export function signedInClient(client: ClientState): SignedInClient | undefined {
  return client.kind === "signed-in" ? client.client : undefined;
}
