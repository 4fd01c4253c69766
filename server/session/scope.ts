/**
 * What a request handler sees of its connection ({@linkcode RequestScope}),
 * and what every connection of a server shares ({@linkcode SessionContext}).
 * Handlers (`requests/*.ts`) read and replace the connection's state through
 * the scope, answer through it, and never see the socket.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { ClientId, ExactReader, Response } from "../../protocol/mod.ts";
import type { BufferBudget } from "../upload/buffer_budget.ts";
import type { CommitOptions } from "../upload/commit.ts";
import type { DiscardReason, FileStore } from "../storage/file_store.ts";
import type { Activity, ClientState } from "./connection_state.ts";
import type { KeyProofGate } from "./tls_proof.ts";
import type { RegistrationRate } from "../net/registration_rate.ts";

/** What every connection of a server shares. */
export interface SessionContext {
  /** Where uploads are staged and stored. */
  store: FileStore;
  /** Largest original file size accepted. */
  maxFileSize: number;
  /** The registry, the per-client limits and this instance, for commits. */
  commit: CommitOptions;
  /** The memory every upload's batch buffers come from. */
  uploadBuffers: BufferBudget;
  /** The cap on registrations per address; none when omitted. */
  registrations?: RegistrationRate;
}

/** One connection, as its request handlers see it. */
export interface RequestScope {
  /** What every connection shares. */
  readonly context: SessionContext;
  /** The connection's log, naming the client once one signed in. */
  readonly logger: Logger;
  /** The connection, positioned after the request's payload (an upload's packets follow 828). */
  readonly reader: ExactReader;
  /** On the secure port: the key proof owed after each AES key sent; else `undefined`. */
  readonly proofGate: KeyProofGate | undefined;
  /** Who is on the connection. */
  readonly client: ClientState;
  /** Replaces who is on the connection; a newly signed-in client's name goes into the log. */
  setClient(client: ClientState): void;
  /** Says what the connection is doing (an upload being received, or done). */
  setActivity(activity: Activity): void;
  /** Sends a response, encoded in the connection's dialect. */
  send(response: Response): Promise<void>;
  /** Sends bytes already encoded (the discovery answer). */
  sendBytes(bytes: Uint8Array): Promise<void>;
  /** Answers 1607 with `reason` and counts the rejection; the connection goes on. */
  reject(code: number, reason: string): Promise<void>;
  /**
   * Discards the upload the client has in hand, if any (for `why`, default
   * `superseded`: a new upload or sign-in replaces it), and releases the
   * connection's reservation; never touches a stored file.
   */
  forgetUpload(why?: DiscardReason): Promise<void>;
  /**
   * Reserves an upload's declared size against the client's limits for this
   * connection (`admission` in `commit.ts`), replacing its earlier one: the
   * 1607 text when it does not fit, else `undefined`. Released by
   * {@linkcode RequestScope.forgetUpload} and when the connection ends.
   * `takesPartial`: the upload stands for the path's kept partial upload
   * (an 853 takes it; an 828 or a dialect's upload supersedes it when it
   * commits), whose bytes are then not counted beside it
   * (`Reservation.takesPartial`).
   */
  reserveUpload(
    clientId: ClientId,
    fileName: string,
    size: number,
    takesPartial?: boolean,
  ): Promise<string | undefined>;
  /**
   * The token of the connection's reservation, if it holds one: a cut upload
   * hands it to `Registry.keepPartial`, which drops it as the kept bytes are
   * recorded (they count once).
   */
  heldReservation?(): string | undefined;
  /**
   * Counts a registration from this connection's address; `false` when the
   * address is over its cap ({@linkcode SessionContext.registrations}).
   */
  takeRegistration?(): boolean;
}
