/**
 * The protocol layer, shared by server and client: pure codecs, frame
 * readers and the packet encoder and decoder, the cksum and the
 * cryptography. No sockets and no files. The contract it implements is
 * `docs/protocol.md`.
 *
 * @module
 */

export * from "./aes_cbc.ts";
export * from "./cksum.ts";
export * from "../common/connection_lost.ts";
export * from "./constants.ts";
export * from "../common/deadline.ts";
export * from "./errors.ts";
export * from "./exact_reader.ts";
export * from "./fields.ts";
export * from "./frames.ts";
export * from "./header.ts";
export * from "./identity.ts";
export * from "./names.ts";
export * from "./packet.ts";
export * from "./packet_decoder.ts";
export * from "./packet_encoder.ts";
export * from "./packet_writer.ts";
export * from "../common/release_buffer.ts";
export * from "./requests.ts";
export * from "./responses.ts";
export * from "./rsa.ts";
export * from "./sha256.ts";
export * from "../common/write_all.ts";
