/**
 * A connection's dialect as the client shows it (`docs/protocol.md` §15.2):
 * one discriminated union, replaced as requests come.
 *
 * | state                  | reached by                                   | answers in |
 * |------------------------|----------------------------------------------|------------|
 * | A (no 828 yet)         | a first request of no other family           | the reference's shapes |
 * | A, reference           | an 828 of payload size 0                     | the reference's shapes |
 * | A, per packet          | an 828 of payload size 267 or more           | family A's shapes (§15.7) |
 * | A, per packet, acknowledged | CRC ok or abort answered with 1604      | the same; that request again gets 1604 again |
 * | B or D (answered as D) | a first 1025 or 1027                          | D          |
 * | B                      | the same request again after a D answer, or a reconnect of a B client | B |
 * | D                      | another request after a D answer, or a reconnect of a D client | D |
 * | C                      | a first 1100 or 1101                          | C          |
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { BdRequest, Family, FamilyAUpload } from "../../../protocol/dialects/mod.ts";

/** What the connection knows of its client's dialect. */
export type DialectState =
  | {
    readonly kind: "A";
    readonly upload?: FamilyAUpload;
    /** One 828 per packet: the verdict last acknowledged, which a repeat gets again. */
    readonly acknowledged?: "crcOk" | "crcAbort";
  }
  | {
    readonly kind: "B or D";
    /** The request last answered as D, whose repeat would mean B. */
    readonly answeredAsD?: BdRequest;
  }
  | { readonly kind: "B" }
  | { readonly kind: "C" }
  | { readonly kind: "D" };

/** How a state reads in the log and in `server clients`. */
export function describeDialect(state: DialectState): string {
  switch (state.kind) {
    case "A":
      return state.upload === "per-packet"
        ? "family A, one 828 per packet"
        : state.upload === "reference"
        ? "the reference dialect"
        : "family A";
    case "B or D":
      return "family B or D (answered as D until it shows which)";
    default:
      return `family ${state.kind}`;
  }
}

/** One connection's dialect state, and the family its answers are in. */
export class ConnectionDialect {
  #state: DialectState;
  #logged: string | undefined;

  /** Starts in `state`, chosen from the first request. */
  constructor(state: DialectState) {
    this.#state = state;
  }

  /** The current state. */
  get state(): DialectState {
    return this.#state;
  }

  /** The family whose answers are sent now: D while B or D is undecided. */
  get answering(): Family {
    const kind = this.#state.kind;
    return kind === "B or D" ? "D" : kind;
  }

  /** Replaces the state. */
  set(state: DialectState): void {
    this.#state = state;
  }

  /** Logs the dialect when it is new to the log (not for the reference's connections). */
  announce(logger: Logger, why: string): void {
    const text = describeDialect(this.#state);
    if (text === this.#logged || text === "the reference dialect") return;
    this.#logged = text;
    logger.info("Dialect: {dialect} ({why})", { dialect: text, why });
  }
}
