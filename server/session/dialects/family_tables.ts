/**
 * The request tables of the other dialects, one per family, each made per
 * connection around its {@linkcode ConnectionDialect} (`docs/protocol.md`
 * §15). The dispatch (`request_table.ts`) and every rule of the reference's
 * handlers stay as they are; a family is its codes, its codecs, and the few
 * handlers its rules need:
 *
 * | meaning          | A (reference, per packet)      | B, D                  | C                          |
 * |------------------|--------------------------------|-----------------------|----------------------------|
 * | register         | 825: the reference's           | 1025 `sign_up.ts`     | 1100 `sign_up.ts`          |
 * | public key       | 826: the reference's           | 1026 `sign_up.ts`     | 1101 `sign_up.ts`, or a key reconnect (`reconnect.ts`) |
 * | reconnect        | 827: the reference's           | 1027 `reconnect.ts`   | none                       |
 * | send file        | 828: size 0 the reference's, 267 and more `send_file.ts` | 1028 `send_file.ts` (D per packet, B whole) | 1103 `send_file.ts` |
 * | CRC ok/bad/abort | 900-902: the reference's (per packet: a repeat of an acknowledged one acknowledged again) | 1029-1031 (`verdicts.ts`) | 1104-1106 (`verdicts.ts`) |
 *
 * B and D share one table: the connection answers as D until the client
 * shows which it is (`connection_dialect.ts`). Answers are encoded in the
 * family's shapes (`family_answers.ts`); a family A connection keeps the
 * reference's answers unless it uploads one 828 per packet.
 *
 * @module
 */

import type { Dialect as DialectName } from "../../../protocol/dialects/mod.ts";

export { familyADialect } from "./family_a.ts";
export { familyBdDialect } from "./family_bd.ts";
export { familyCDialect } from "./family_c.ts";

/** Which dialects a server serves (`--dialects`). */
export type ServedDialects = ReadonlySet<DialectName>;
