/**
 * The one error type for a peer that breaks the protocol: a frame that cannot
 * be parsed, a size beyond what the code allows, a response that makes no sense
 * at that point of the conversation.
 *
 * Malformed *values* handed to an encoder by our own code are programming
 * errors and raise the built-in `TypeError` / `RangeError` instead.
 *
 * @module
 */

/** A peer sent something the protocol does not allow. */
export class ProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message A sentence of the form `Cannot <action>: <reason>`.
   * @param options Standard error options; pass `cause` to keep the origin.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}
