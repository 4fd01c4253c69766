/**
 * The protocol layer, shared by server and client: pure codecs, frame
 * readers and the packet encoder and decoder, the cksum and the
 * cryptography. No sockets and no files. The contract it implements is
 * `docs/protocol.md`.
 *
 * The rule: this module re-exports every module directly in `protocol/`, and
 * nothing else. A subfolder (`dialects/`) has its own `mod.ts`, imported as
 * such, so that the reference dialect's names stay unambiguous. The general
 * helpers that both sides also use (deadlines, writing a whole buffer,
 * lost-connection errors, units) live in `common/` and are imported from
 * there. `tests/protocol_mod_exports_test.ts` checks this list against the
 * folder.
 *
 * @module
 */

export * from "./aes_cbc.ts";
export * from "./cksum.ts";
export * from "./constants.ts";
export * from "./discovery.ts";
export * from "./errors.ts";
export * from "./exact_reader.ts";
export * from "./fields.ts";
export * from "./fingerprint.ts";
export * from "./frames.ts";
export * from "./header.ts";
export * from "./identity.ts";
export * from "./key_proof.ts";
export * from "./names.ts";
export * from "./packet.ts";
export * from "./packet_decoder.ts";
export * from "./packet_encoder.ts";
export * from "./packet_writer.ts";
export * from "./padded_content.ts";
export * from "./pem.ts";
export * from "./requests.ts";
export * from "./responses.ts";
export * from "./retrieval.ts";
export * from "./rsa.ts";
export * from "./sha256.ts";
export * from "./transfers.ts";
