/**
 * A plain-port connection's dialect, from its first request's code
 * (`protocol/dialects/recognition.ts`, `docs/protocol.md` §15.2): 1100 and
 * 1101 are family C, 1025 and 1027 family B or D, anything else family A,
 * whose table is the reference's (with one 828 per packet beside the
 * reference's upload). A family not served (`--dialects`) is not
 * recognised: its first request goes to family A's table, which answers it
 * as the reference always did (an unknown code). The secure port serves the
 * reference dialect alone.
 *
 * @example
 * ```ts
 * import { DIALECTS } from "../../../protocol/dialects/mod.ts";
 * import { dialectChoice } from "./choose_dialect.ts";
 * const choose = dialectChoice({}, new Set(DIALECTS));
 * const first = { clientId: new Uint8Array(16), version: 3, code: 1100, payloadSize: 255 };
 * console.log(choose(first).name); // "family C"
 * ```
 *
 * @module
 */

import { familyOfFirstRequest } from "../../../protocol/dialects/mod.ts";
import type { DialectChoice } from "../request_table.ts";
import type { ReferencePort } from "../reference_dialect.ts";
import {
  familyADialect,
  familyBdDialect,
  familyCDialect,
  type ServedDialects,
} from "./family_tables.ts";

/** Chooses each connection's dialect among `served`, on a port of the reference's `port`. */
export function dialectChoice(port: ReferencePort, served: ServedDialects): DialectChoice {
  return (first) => {
    const family = familyOfFirstRequest(first.code);
    if (family === "C" && served.has("c")) return familyCDialect();
    if (family === "B or D" && (served.has("b") || served.has("d"))) {
      return familyBdDialect(served);
    }
    return familyADialect(port, served);
  };
}
