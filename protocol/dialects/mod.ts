/**
 * The other dialects of the protocol (`docs/protocol.md` §15): the code
 * tables of the four families, recognition from the first bytes, request
 * plans and payloads, the answers every client of a family accepts, the
 * per-packet and whole-file upload framings, AES keys of 16 or 32 bytes and
 * client ids without zero bytes. Pure: no sockets, no files.
 *
 * @module
 */

export * from "./client_ids.ts";
export * from "./families.ts";
export * from "./file_names.ts";
export * from "./keys.ts";
export * from "./per_packet.ts";
export * from "./recognition.ts";
export * from "./requests.ts";
export * from "./responses.ts";
export * from "./whole_file.ts";
