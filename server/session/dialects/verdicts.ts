/**
 * The verdict requests of the other dialects (CRC ok, bad and resend, bad
 * and abort), served by the reference's handlers (`requests/crc_*.ts`:
 * commit on CRC ok, discard otherwise) under the family's codes and payloads:
 *
 * | family | codes          | payload                                | CRC bad, resend answered |
 * |--------|----------------|----------------------------------------|--------------------------|
 * | A      | 900, 901, 902  | file name[255]                         | no                       |
 * | B, D   | 1029-1031      | file name[255]                         | no                       |
 * | C      | 1104-1106      | id[16] + file name[255], size 271 or 0 | yes: 2104, empty         |
 *
 * Family A per packet: some clients send CRC ok or abort again when they
 * miss the answer they expect (up to 3 sends); a repeat of the verdict last
 * acknowledged on the connection is acknowledged again, not refused
 * ({@linkcode repeatAcknowledged}).
 *
 * @module
 */

import { bytesEqual, ProtocolError, type Response, ResponseCode } from "../../../protocol/mod.ts";
import { C_VERDICT_PAYLOAD_SIZE, cVerdictPayloadSize } from "../../../protocol/dialects/mod.ts";
import { exactPayload, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import type { ConnectionDialect } from "./connection_dialect.ts";
import { crcAbortRequest } from "../requests/crc_abort.ts";
import { crcOkRequest } from "../requests/crc_ok.ts";
import { crcRetryRequest } from "../requests/crc_retry.ts";

/** Which verdict. */
export type Verdict = "crcOk" | "crcRetry" | "crcAbort";

const REFERENCE_ENTRIES: Record<Verdict, RequestEntry> = {
  crcOk: crcOkRequest,
  crcRetry: crcRetryRequest,
  crcAbort: crcAbortRequest,
};

/** What happens around the reference handler. */
export interface VerdictOptions {
  /** Family C: the payload is id + file name, its size 271 or 0. */
  withId?: boolean;
  /** Family C: a resend announced is acknowledged. */
  answerRetry?: boolean;
}

/** The verdict entry of `verdict` under `code`. */
export function verdictEntry(
  verdict: Verdict,
  code: number,
  options: VerdictOptions = {},
): RequestEntry {
  const inner = REFERENCE_ENTRIES[verdict];
  const fixed = exactPayload(255, `request ${code}`);
  return {
    code,
    name: inner.name,
    servedWhileResendDue: inner.servedWhileResendDue,
    payloadSize: (header) =>
      options.withId ? cVerdictPayloadSize(header.payloadSize) : fixed(header),
    decode: (payload, header) => {
      if (options.withId) {
        if (payload.length !== C_VERDICT_PAYLOAD_SIZE) {
          throw new ProtocolError(`Cannot decode request ${code}: ${payload.length} bytes`);
        }
        if (!bytesEqual(payload.subarray(0, 16), header.clientId)) {
          throw new ProtocolError(
            `Cannot decode request ${code}: its client id is not its header's`,
          );
        }
        payload = payload.subarray(16);
      }
      const handle = inner.decode(payload, header);
      return async (scope) => {
        await handle(scope);
        const state = scope.client;
        if (
          options.answerRetry && verdict === "crcRetry" && state.kind === "signed-in" &&
          state.upload?.kind === "resend-due"
        ) {
          await scope.send({ code: ResponseCode.Ack, clientId: state.client.clientId });
        }
      };
    },
  };
}

/**
 * Family A's CRC ok or abort (`entry`, the reference's), with a repeat of the
 * verdict last acknowledged on a per-packet connection acknowledged again.
 */
export function repeatAcknowledged(
  entry: RequestEntry,
  verdict: "crcOk" | "crcAbort",
  dialect: ConnectionDialect,
): RequestEntry {
  return {
    ...entry,
    decode: (payload, header) => {
      const handle = entry.decode(payload, header);
      return async (scope) => {
        const state = dialect.state;
        const client = scope.client;
        if (
          state.kind !== "A" || state.upload !== "per-packet" || client.kind !== "signed-in"
        ) {
          return await handle(scope);
        }
        if (
          state.acknowledged === verdict && client.upload === undefined &&
          bytesEqual(header.clientId, client.client.clientId)
        ) {
          scope.logger.info("Request {code} again: acknowledged again", { code: header.code });
          await scope.send({ code: ResponseCode.Ack, clientId: client.client.clientId });
          return;
        }
        let acknowledged = false;
        const watched: RequestScope = Object.create(scope, {
          send: {
            value: async (response: Response) => {
              acknowledged ||= response.code === ResponseCode.Ack;
              await scope.send(response);
            },
          },
        });
        await handle(watched);
        dialect.set(
          acknowledged
            ? { kind: "A", upload: "per-packet", acknowledged: verdict }
            : { kind: "A", upload: "per-packet" },
        );
      };
    },
  };
}
