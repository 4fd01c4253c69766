/**
 * The codec of a reference request (825-828, 900-902) for a table row: the
 * exact payload size and the decoder of `protocol/requests.ts`, narrowed to
 * the one code.
 *
 * @example
 * ```ts
 * import { RequestCode } from "../../../protocol/mod.ts";
 * import { referenceCodec } from "./reference_codec.ts";
 *
 * const codec = referenceCodec(RequestCode.Register);
 * console.assert(codec.code === 825);
 * ```
 *
 * @module
 */

import {
  decodeRequest,
  type Request,
  type RequestHeader,
  requestPayloadSize,
} from "../../../protocol/mod.ts";
import { exactPayload } from "../request_table.ts";

/** A reference request of code `C`, decoded. */
export type ReferenceRequest<C extends Request["code"]> = Extract<Request, { code: C }>;

/** The code, payload size and decoder of reference request `code`. */
export function referenceCodec<C extends Request["code"]>(code: C): {
  code: C;
  payloadSize: (header: RequestHeader) => number;
  decode: (payload: Uint8Array) => ReferenceRequest<C>;
} {
  const size = requestPayloadSize(code);
  if (size === undefined) throw new RangeError(`Cannot make codec: ${code} is no request code`);
  return {
    code,
    payloadSize: exactPayload(size, `request ${code}`),
    // decodeRequest returns the request of the code it was given.
    decode: (payload) => decodeRequest(code, payload) as ReferenceRequest<C>,
  };
}
