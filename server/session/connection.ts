/**
 * One client connection on the server ({@linkcode ServerConnection}): reads
 * request headers, serves each through its dialect's request table
 * (`request_table.ts`; the reference dialect's codes and handlers are in
 * `reference_dialect.ts`), keeps the connection's state
 * (`connection_state.ts`), and ends for one of the reasons of
 * `end_reason.ts`, under the deadlines of `deadlines.ts`.
 *
 * On the secure port (TLS), 828, 900, 901 and 902 need the key proof (851)
 * first, and the 828 content is the padded plaintext, not AES-CBC.
 *
 * Errors: a request that makes no sense here, or whose payload does not
 * decode (a bad name, a bad key), gets 1607 and the connection goes on. An
 * unknown code gets 1607; a payload of up to 4 KiB is skipped and the
 * connection goes on, a larger one closes it. After `MAX_REJECTIONS` such
 * 1607s the connection is closed. A frame that cannot be parsed (a payload
 * size wrong for its code, a bad packet, 828 before a key exchange) gets 1607
 * and the connection is closed. An upload the server cannot store (disk full,
 * folder unwritable) is read to its end, then gets 1607 instead of 1603; one
 * that would take the client past its limits (checked at the first packet,
 * again at commit) gets its 1607 at the first packet, and the rest of it is
 * read and dropped; either way the connection goes on.
 *
 * Limits of issue 17: a sign-in past the cap on connections per identity
 * (`identity_connections.ts`) gets 1607 and the connection closes; an upload
 * in hand (after 1603, or a resend due after 901) has the verdict deadline
 * (`deadlines.ts`), after which it is discarded and the connection closed;
 * only requests that do work (not 850, not a refused one) renew the idle
 * timer. Which connection makes room for a newcomer goes by its
 * unproductive time, kept by its `TimedConn` (`net/connection_slots.ts`):
 * a 1603 left unanswered, like any wait for the peer, runs it up.
 *
 * What becomes of an upload: kept (cksum == trailer, right padding), its
 * staged file waits, sealed, for the verdict; not kept, it is discarded and
 * the 1603 carries the complement of the trailer (`server/upload/verdict.ts`).
 * 900 commits a kept upload; 901, 902, a new 828, a new sign-in or the end
 * of the connection discard it. They never touch a stored file.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import {
  clientIdToHex,
  encodeResponse,
  ExactReader,
  ProtocolError,
  readRequestHeader,
  type Response,
  ResponseCode,
} from "../../protocol/mod.ts";
import { connectionLogger, forClient } from "../log/log_context.ts";
import type { TimedConn } from "../net/timed_conn.ts";
import {
  type Activity,
  type ClientState,
  describeActivity,
  type Ending,
  isBusy,
} from "./connection_state.ts";
import { SignInDeadline, VerdictDeadline } from "./deadlines.ts";
import {
  describeEnd,
  type EndReason,
  endReasonOf,
  type Eviction,
  logEnd,
  MAX_REJECTIONS,
} from "./end_reason.ts";
import { type Dialect, serveRequest } from "./request_table.ts";
import type { RequestScope } from "./scope.ts";
import { shortText } from "./short_text.ts";
import { KeyProofGate } from "./tls_proof.ts";
import type { ConnectionOptions } from "./connection_options.ts";

export type { ConnectionOptions } from "./connection_options.ts";
import { UploadReservation } from "./upload_reservation.ts";

/** Rejected requests on one connection logged in full; the rest are counted in one line. */
export const LOGGED_REJECTIONS = 1;

/**
 * The connection's read buffer. Requests are at most 438 bytes, and upload
 * batches are read straight into their own buffer, so a small buffer is
 * enough; many short connections then leave little garbage behind.
 */
const READ_BUFFER_SIZE = 4096;

/**
 * Serves one connection until the peer leaves, breaks the protocol, times
 * out, or the server ends it.
 */
export class ServerConnection {
  readonly #conn: TimedConn;
  readonly #options: ConnectionOptions;
  readonly #reader: ExactReader;
  readonly #proofGate: KeyProofGate | undefined;
  readonly #signInDeadline: SignInDeadline;
  readonly #scope: RequestScope;
  #logger: Logger;
  #client: ClientState = { kind: "unsigned" };
  readonly #reservation: UploadReservation;
  #activity: Activity = { kind: "handling" };
  #ending: Ending | undefined;
  #dialect: Dialect | undefined;
  #rejections = 0;
  /** When the last request that did work ended (`performance.now()`): the idle time starts there. */
  #workSince = performance.now();
  readonly #verdict: VerdictDeadline;
  /** The identity this connection is counted under (client id, hex). */
  #identity: string | undefined;

  /**
   * Creates a connection; {@linkcode ServerConnection.run} serves it.
   *
   * @param conn The connection, owned by this object from now on.
   * @param options Who it is, what it shares, its dialect and deadlines.
   */
  constructor(conn: TimedConn, options: ConnectionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#reader = new ExactReader(conn, READ_BUFFER_SIZE);
    this.#proofGate = options.secure === undefined
      ? undefined
      : new KeyProofGate(options.secure.fingerprint);
    this.#logger = connectionLogger(options.id).with({ peer: options.peer });
    this.#signInDeadline = new SignInDeadline(
      options.signInTimeoutMs,
      () => this.evict({ kind: "sign-in-deadline", timeoutMs: options.signInTimeoutMs }),
      options.clock,
    );
    this.#verdict = new VerdictDeadline(options.verdictTimeoutMs, {
      idle: () => this.#activity.kind === "waiting",
      passed: () => this.#verdictPassed(),
    }, options.clock);
    this.#reservation = new UploadReservation(options.context.commit, () => this.#logger);
    this.#scope = this.#makeScope();
    conn.onTimeout = () => {
      this.#logger.warn("Timed out: no data in time");
    };
  }

  /**
   * Whether the connection is in the middle of an upload or its verdict:
   * a shutdown lets it finish, up to the grace period.
   */
  get busy(): boolean {
    return isBusy(this.#client, this.#activity);
  }

  /**
   * What a busy connection is doing, for the shutdown message:
   * `connection 3 (Alice) receiving report.pdf`; `undefined` when not busy.
   */
  get activity(): string | undefined {
    return describeActivity(this.#options.id, this.#client, this.#activity);
  }

  /**
   * Whether the connection waits for a request, not one byte of it read,
   * and is not busy (no upload in hand): closing it loses no work under way.
   */
  get betweenRequests(): boolean {
    return this.#activity.kind === "waiting" && this.#conn.awaitingRequest && !this.busy;
  }

  /**
   * The connection's unproductive time at `now` (`performance.now()`), in
   * milliseconds: by it a newcomer's room is made (`net/timed_conn.ts`).
   */
  unproductiveMs(now: number = performance.now()): number {
    return this.#conn.unproductiveMs(now);
  }

  /**
   * Whether a client signed in on this connection (826 or 827 accepted; on
   * the secure port, and its key proven).
   */
  get signedIn(): boolean {
    return this.#client.kind === "signed-in" && (this.#proofGate?.proven ?? true);
  }

  /**
   * Asks the connection to end: at once if it is waiting for a request and
   * not busy, otherwise as soon as it is no longer busy.
   */
  shutdown(): void {
    this.#ending ??= { kind: "shutdown" };
    if (this.#activity.kind === "waiting" && !this.busy) this.#conn.close();
  }

  /** Closes the connection for `eviction` (to make room for a new one, say). */
  evict(eviction: Eviction): void {
    if (this.#ending?.kind !== "evicted") this.#ending = { kind: "evicted", eviction };
    this.#options.onEvicted?.();
    this.#conn.close();
  }

  /** Ends the connection now, busy or not. */
  abort(): void {
    this.#ending ??= { kind: "shutdown" };
    this.#conn.close();
  }

  /** Serves requests until the end; never rejects. */
  async run(): Promise<void> {
    this.#logger.info("Opened from {peer}");
    this.#signInDeadline.start();
    let reason: EndReason;
    try {
      reason = await this.#serve();
      if (this.#ending?.kind === "shutdown" && !this.#conn.closed) reason = { kind: "shutdown" };
    } catch (error) {
      reason = await this.#failed(error);
    } finally {
      this.#signInDeadline.stop();
      const ending = this.#ending;
      await this.#scope.forgetUpload(
        ending?.kind === "evicted" && ending.eviction.kind === "verdict-deadline"
          ? "verdict_timeout"
          : "connection_ended",
      );
      this.#setClient({ kind: "unsigned" }); // stops the verdict deadline, frees the identity
      this.#conn.close();
    }
    if (this.#rejections > LOGGED_REJECTIONS) {
      this.#logger.warn("{count} more rejections from {peer}", {
        count: this.#rejections - LOGGED_REJECTIONS,
      });
    }
    this.#logger.info("Closed: {reason}", { reason: describeEnd(reason) });
  }

  /** Serves request after request; returns why it stopped without an error. */
  async #serve(): Promise<EndReason> {
    let rejectionsBefore = 0;
    const hooks = {
      endHeader: () => this.#conn.endHeader(),
      resendDue: () =>
        this.#client.kind === "signed-in" && this.#client.upload?.kind === "resend-due",
      worked: () => {
        if (this.#rejections === rejectionsBefore) this.#workSince = performance.now();
      },
    };
    while (!(this.#ending?.kind === "shutdown" && !this.busy)) {
      this.#activity = { kind: "waiting", since: performance.now() };
      this.#conn.beginRequest(this.#workSince);
      rejectionsBefore = this.#rejections;
      const header = await readRequestHeader(this.#reader);
      this.#activity = { kind: "handling" };
      if (header === null) return { kind: "client-closed" };
      this.#signInDeadline.requestStarted();
      this.#dialect ??= this.#options.dialects(header);
      const goOn = await serveRequest(this.#scope, this.#dialect.requests, header, hooks);
      if (!goOn) return { kind: "closed-after-error" };
      if (this.#rejections >= MAX_REJECTIONS) return { kind: "rejections" };
      this.#signInDeadline.requestDone(this.signedIn);
      this.#verdict.requestDone();
      this.#conn.endRequest();
    }
    return { kind: "shutdown" };
  }

  /** Why a read or write failed, logged; a protocol error is answered with 1607. */
  async #failed(error: unknown): Promise<EndReason> {
    const ending = this.#ending;
    const reason = endReasonOf(error, {
      eviction: ending?.kind === "evicted" ? ending.eviction : undefined,
      expired: this.#conn.expired,
      stopping: ending?.kind === "shutdown",
      closed: this.#conn.closed,
      secure: this.#proofGate !== undefined,
      betweenRequests: this.#activity.kind === "waiting" && this.#conn.awaitingRequest,
    });
    logEnd(this.#logger, reason);
    if (reason.kind === "protocol-error") {
      await this.#send({ code: ResponseCode.GeneralError, text: shortText(reason.message) })
        .catch(() => {});
    }
    return reason;
  }

  /**
   * Replaces who is on the connection: counts it under its identity (a
   * sign-in past the cap is a `ProtocolError`: 1607, and the connection
   * closes), and runs the verdict deadline while an upload is in hand.
   */
  #setClient(client: ClientState): void {
    const identity = client.kind === "signed-in"
      ? clientIdToHex(client.client.clientId)
      : undefined;
    const identities = this.#options.identities;
    if (identity !== this.#identity && identities !== undefined) {
      if (this.#identity !== undefined) identities.release(this.#identity, this);
      this.#identity = undefined;
      if (identity !== undefined && !identities.take(identity, this)) {
        this.#client = { kind: "unsigned" };
        this.#verdict.stop();
        throw new ProtocolError(
          `Cannot sign in: ${identities.max} connections are signed in as this client already`,
        );
      }
      this.#identity = identity;
    }
    this.#client = client;
    if (client.kind === "signed-in" && client.upload !== undefined) this.#verdict.start();
    else this.#verdict.stop();
  }

  /** The verdict deadline passed with the upload still in hand, no request in progress. */
  #verdictPassed(): void {
    const timeoutMs = this.#options.verdictTimeoutMs ?? 0;
    if (this.#client.kind === "signed-in" && this.#client.upload !== undefined) {
      this.evict({ kind: "verdict-deadline", timeoutMs });
    }
  }

  async #send(response: Response): Promise<void> {
    await this.#conn.write((this.#dialect?.encodeResponse ?? encodeResponse)(response));
  }

  /** What the request handlers see of this connection. */
  #makeScope(): RequestScope {
    // The scope's getters read this connection's private state.
    // deno-lint-ignore no-this-alias
    const connection = this;
    return {
      context: this.#options.context,
      reader: this.#reader,
      proofGate: this.#proofGate,
      get logger() {
        return connection.#logger;
      },
      get client() {
        return connection.#client;
      },
      setClient(client) {
        const before = connection.#client;
        if (
          client.kind === "signed-in" &&
          (before.kind !== "signed-in" || before.client !== client.client)
        ) {
          connection.#logger = forClient(connection.#logger, client.client.name);
        }
        connection.#setClient(client);
      },
      setActivity(activity) {
        connection.#activity = activity;
      },
      send: (response) => this.#send(response),
      sendBytes: (bytes) => this.#conn.write(bytes),
      reject: async (code, reason) => {
        if (++this.#rejections <= LOGGED_REJECTIONS) {
          this.#logger.warn("Rejected request {code}: {reason}", { code, reason });
        }
        await this.#send({ code: ResponseCode.GeneralError, text: shortText(reason) });
      },
      takeRegistration: () =>
        this.#options.context.registrations?.take(this.#options.address ?? this.#options.peer) ??
          true,
      reserveUpload: (clientId, fileName, size, takesPartial) =>
        this.#reservation.reserve(clientId, fileName, size, takesPartial),
      heldReservation: () => this.#reservation.token,
      forgetUpload: async (why = "superseded") => {
        await this.#reservation.release();
        const state = this.#client;
        if (state.kind !== "signed-in" || state.upload === undefined) return;
        this.#setClient({ kind: "signed-in", client: state.client });
        if (state.upload.kind === "awaiting-verdict") {
          await state.upload.upload.staged?.discard(why).catch(() => {});
        }
      },
    };
  }
}
