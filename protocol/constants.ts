/**
 * Numbers fixed by the wire protocol, version 3 (see `docs/protocol.md`).
 *
 * @module
 */

/** Wire protocol version, sent in every header (not the program version). */
export const PROTOCOL_VERSION = 3;

/** Size of a request header: client id, version, code, payload size. */
export const REQUEST_HEADER_SIZE = 23;
/** Size of a response header: version, code, payload size. */
export const RESPONSE_HEADER_SIZE = 7;

/** Size of a client id. */
export const CLIENT_ID_SIZE = 16;
/** Size of the fixed, NUL-padded name field. */
export const NAME_FIELD_SIZE = 255;
/** Size of the fixed, NUL-padded file name field. */
export const FILE_NAME_FIELD_SIZE = 255;
/** Size of an RSA-1024 SubjectPublicKeyInfo with a small exponent. */
export const PUBLIC_KEY_SIZE = 160;
/** Size of an RSA-1024 OAEP ciphertext (the wrapped AES key). */
export const WRAPPED_KEY_SIZE = 128;
/** Size of the AES-256 key. */
export const AES_KEY_SIZE = 32;
/** AES block size. */
export const AES_BLOCK_SIZE = 16;

/** Longest client name, in bytes. */
export const MAX_NAME_LENGTH = 100;
/** Longest file name, in bytes. */
export const MAX_FILE_NAME_LENGTH = 255;

/** Size of the header in front of every 828 packet. */
export const PACKET_HEADER_SIZE = 267;
/** Size of every 828 chunk but the last. Fixed by the reference server. */
export const PACKET_CHUNK_SIZE = 7925;
/** Size of the cksum trailer at the end of the 828 content. */
export const CKSUM_TRAILER_SIZE = 4;

/** Default file size limit: 800 MB. */
export const DEFAULT_MAX_FILE_SIZE = 800 * 1000 * 1000;

/**
 * The largest original file size the 4-byte content size field can carry:
 * PKCS#7 adds 1 to 16 bytes and the trailer 4, and the result must fit a u32.
 */
export const MAX_ENCODABLE_FILE_SIZE =
  Math.floor((0xffff_ffff - CKSUM_TRAILER_SIZE) / AES_BLOCK_SIZE) * AES_BLOCK_SIZE - 1;

/** Default server port when `port.info` is missing or invalid. */
export const DEFAULT_PORT = 1256;

/** Request codes (client to server). */
export const RequestCode = {
  /** Register a new client by name. */
  Register: 825,
  /** Send the client's public key; answered with a wrapped AES key. */
  PublicKey: 826,
  /** Reconnect a known client; answered with a fresh wrapped AES key. */
  Reconnect: 827,
  /** Send a file: payload size 0, raw packets follow. */
  SendFile: 828,
  /** The server's cksum matched. */
  CrcOk: 900,
  /** The cksum did not match; the client sends the file again. No answer. */
  CrcRetry: 901,
  /** The cksum did not match for the fourth time; the client gives up. */
  CrcAbort: 902,
} as const;

/** A request code. */
export type RequestCode = typeof RequestCode[keyof typeof RequestCode];

/** Response codes (server to client). */
export const ResponseCode = {
  /** Registered: payload is the new client id. */
  Registered: 1600,
  /** Registration failed (name taken). */
  RegisterFailed: 1601,
  /** Public key accepted: client id and wrapped AES key. */
  KeyAccepted: 1602,
  /** File received: client id, content size, file name, cksum. */
  FileReceived: 1603,
  /** Message received: client id. */
  Ack: 1604,
  /** Reconnect approved: client id and wrapped AES key. */
  ReconnectApproved: 1605,
  /** Reconnect denied; the client registers again. */
  ReconnectDenied: 1606,
  /** General error. */
  GeneralError: 1607,
} as const;

/** A response code. */
export type ResponseCode = typeof ResponseCode[keyof typeof ResponseCode];
