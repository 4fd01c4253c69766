/**
 * A raw client per family of the other dialects, for driving a real server
 * in tests (`docs/protocol.md` §15). Each {@linkcode DialectProfile} sends
 * its requests as a client of that family does (codes, pre-registration
 * filler, upload framing, payload sizes) and reacts to an answer it does
 * not expect as the clients examined do: a family B client reads it whole
 * and sends the same request again; a family D client reads only its
 * header and sends the request again; family A and C clients give up.
 *
 * | profile           | family | upload                                               |
 * |-------------------|--------|------------------------------------------------------|
 * | `A_REEFJO`        | A      | one 828 per packet, 8192-byte chunks, numbered from 1 |
 * | `A_AYALA`         | A      | one 828 per packet, 4096-byte chunks, numbered from 1 |
 * | `A_PADDED`        | A      | 1024-byte chunks from 0, the last one zero-padded     |
 * | `B_B0RIK`         | B      | one 1028, AES-128                                    |
 * | `C_AVIV`          | C      | one 1103 whose payload size leaves out the ciphertext |
 * | `C_COUNTED`       | C      | one 1103 counting it; verdicts with payload size 0   |
 * | `D_H3NGO1U`       | D      | one 1028 per packet, 1024 bytes from 1, an empty last packet |
 *
 * @module
 */

import assert from "node:assert/strict";
import { writeAll } from "../common/write_all.ts";
import {
  AesCbcEncryptor,
  aesEncrypt,
  cipherSizeFor,
  Cksum,
  cksum,
  type ClientId,
  decodeResponseHeader,
  encodeRequestHeader,
  ExactReader,
  PACKET_HEADER_SIZE,
  type RsaKeyPair,
  writePacketHeader,
} from "../protocol/mod.ts";
import {
  type AesKeySize,
  decodeDialectResponse,
  type DialectRequest,
  type DialectResponse,
  encodeBUpload,
  encodeCUpload,
  encodeDialectRequest,
  encodePerPacketUpload,
  type Family,
  FAMILY_TABLES,
  importDialectAesKey,
  type PerPacketLayout,
  responseMeaning,
  unwrapDialectAesKey,
} from "../protocol/dialects/mod.ts";
import { concat } from "./bytes.ts";
import { fillPattern } from "./raw_client.ts";

/** How one kind of client of a family behaves on the wire. */
export interface DialectProfile {
  /** A label for test names. */
  label: string;
  /** Its family. */
  family: Family;
  /** The byte its header id is filled with before it has an id. */
  filler: number;
  /** How it uploads. */
  upload:
    | { kind: "per-packet"; layout: PerPacketLayout }
    | { kind: "b" }
    | { kind: "c"; counted: boolean };
  /** Family C: the payload size its 1104-1106 headers say (271, or 0). */
  cVerdictSize?: 0 | 271;
  /** Sends of one request before giving up on answers it does not expect. */
  tries: number;
}

/** reefjo/defensive-programming-final: one 828 per packet, 8192 bytes from 1. */
export const A_REEFJO: DialectProfile = {
  label: "A per packet (8192, from 1)",
  family: "A",
  filler: 0x61,
  upload: { kind: "per-packet", layout: { code: 828, chunkSize: 8192, base: 1 } },
  tries: 1,
};
/** AyalaHakarmi/Secure-file-transfer-system: one 828 per packet, 4096 bytes from 1. */
export const A_AYALA: DialectProfile = {
  label: "A per packet (4096, from 1)",
  family: "A",
  filler: 0x00,
  upload: { kind: "per-packet", layout: { code: 828, chunkSize: 4096, base: 1 } },
  tries: 1,
};
/** A family A client that pads every chunk to 1024 bytes and numbers from 0. */
export const A_PADDED: DialectProfile = {
  label: "A per packet (1024 padded, from 0)",
  family: "A",
  filler: 0x00,
  upload: {
    kind: "per-packet",
    layout: { code: 828, chunkSize: 1024, base: 0, paddedLast: true },
  },
  tries: 1,
};
/** b0rik/defensive-prog-mmn15: family B. */
export const B_B0RIK: DialectProfile = {
  label: "B",
  family: "B",
  filler: 0xaa,
  upload: { kind: "b" },
  tries: 4,
};
/** AvivNaaman/Maman15: family C, the ciphertext outside the payload size. */
export const C_AVIV: DialectProfile = {
  label: "C (ciphertext not counted)",
  family: "C",
  filler: 0x00,
  upload: { kind: "c", counted: false },
  cVerdictSize: 271,
  tries: 1,
};
/** A family C client that counts the ciphertext and sends verdicts with payload size 0. */
export const C_COUNTED: DialectProfile = {
  label: "C (ciphertext counted, verdict size 0)",
  family: "C",
  filler: 0x00,
  upload: { kind: "c", counted: true },
  cVerdictSize: 0,
  tries: 1,
};
/** H3NGO1U/Defensive-Programming-Project: family D. */
export const D_H3NGO1U: DialectProfile = {
  label: "D (1024, from 1, empty last packet)",
  family: "D",
  filler: 0x30,
  upload: {
    kind: "per-packet",
    layout: { code: 1028, chunkSize: 1024, base: 1, emptyLast: true },
  },
  tries: 4,
};

/** Every profile, for tables of tests. */
export const DIALECT_PROFILES: readonly DialectProfile[] = [
  A_REEFJO,
  A_AYALA,
  A_PADDED,
  B_B0RIK,
  C_AVIV,
  C_COUNTED,
  D_H3NGO1U,
];

/** An answer as read. */
export interface DialectAnswer {
  /** Its code. */
  code: number;
  /** Its payload. */
  payload: Uint8Array;
  /** Decoded in the client's family. */
  response: DialectResponse;
}

/** A file-received answer. */
export type DialectFileReceived = Extract<DialectResponse, { meaning: "fileReceived" }>;

/** One connection of one kind of client. */
export class DialectClient implements Disposable {
  /** The connection. */
  readonly conn: Deno.Conn;
  /** How this client behaves. */
  readonly profile: DialectProfile;
  readonly #reader: ExactReader;

  private constructor(conn: Deno.Conn, profile: DialectProfile) {
    this.conn = conn;
    this.profile = profile;
    this.#reader = new ExactReader(conn);
  }

  /** Connects to `hostname`:`port` (127.0.0.1 unless told). */
  static async connect(
    port: number,
    profile: DialectProfile,
    hostname = "127.0.0.1",
  ): Promise<DialectClient> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return new DialectClient(conn, profile);
  }

  /** The family's AES key size. */
  get aesKeySize(): AesKeySize {
    return FAMILY_TABLES[this.profile.family].aesKeySize;
  }

  /** The header id before registration. */
  get filler(): ClientId {
    return new Uint8Array(16).fill(this.profile.filler);
  }

  /** Sends raw bytes. */
  async send(bytes: Uint8Array): Promise<void> {
    await writeAll(this.conn, bytes);
  }

  /** Encodes and sends a small request. */
  async request(clientId: ClientId, request: DialectRequest): Promise<void> {
    const size = request.meaning.startsWith("crc") ? this.profile.cVerdictSize : undefined;
    await this.send(encodeDialectRequest(this.profile.family, clientId, request, size));
  }

  /** Reads an answer's header, or `null` if the server closed first. */
  async readHeader(): Promise<{ code: number; payloadSize: number } | null> {
    let bytes;
    try {
      bytes = await this.#reader.readExactOrEnd(7, 7);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return null;
      throw error;
    }
    if (bytes === null) return null;
    const header = decodeResponseHeader(bytes);
    assert.equal(header.version, 3, "every answer says version 3");
    return header;
  }

  /** Reads `size` payload bytes. */
  async readPayload(size: number): Promise<Uint8Array> {
    return await this.#reader.readExact(size, 1024);
  }

  /** Reads a whole answer of the family, held to its exact shape. */
  async readAnswer(): Promise<DialectAnswer> {
    const header = await this.readHeader();
    assert.ok(header !== null, "the server closed the connection instead of answering");
    return await this.#readAnswerAfter(header);
  }

  /** Reads the payload of the answer whose header was read, and decodes it in the family. */
  async #readAnswerAfter(header: { code: number; payloadSize: number }): Promise<DialectAnswer> {
    const payload = await this.readPayload(header.payloadSize);
    const response = decodeDialectResponse(this.profile.family, header.code, payload);
    return { code: header.code, payload, response };
  }

  /**
   * Sends `frame` until an answer with one of `meanings` comes, reacting to
   * others as the family's clients do (see the module documentation).
   */
  async exchange(frame: Uint8Array, meanings: readonly string[]): Promise<DialectAnswer> {
    for (let send = 1;; send++) {
      await this.send(frame);
      const header = await this.readHeader();
      assert.ok(header !== null, "the server closed the connection instead of answering");
      const meaning = responseMeaning(this.profile.family, header.code);
      if (meaning !== undefined && meanings.includes(meaning)) {
        return await this.#readAnswerAfter(header);
      }
      // Not what it waits for: B reads it whole, D reads nothing more.
      if (this.profile.family === "B") await this.readPayload(header.payloadSize);
      if (send >= this.profile.tries) {
        assert.fail(`${this.profile.label}: answer ${header.code} instead of ${meanings}`);
      }
    }
  }

  /** Registers `name`; returns the id. */
  async register(name: string): Promise<ClientId> {
    const frame = encodeDialectRequest(this.profile.family, this.filler, {
      meaning: "register",
      name,
    });
    const answer = await this.exchange(frame, ["registered"]);
    return (answer.response as { clientId: ClientId }).clientId;
  }

  /** Sends the public key; returns the unwrapped AES key, of the family's size. */
  async sendPublicKey(clientId: ClientId, name: string, keys: RsaKeyPair): Promise<Uint8Array> {
    const request = { meaning: "publicKey", name, publicKey: keys.publicKey } as const;
    return await this.#exchangeKey(clientId, request, "keyAccepted", keys);
  }

  /**
   * Signs in again with a stored identity: 827/1027, or for family C the
   * public-key request again with the stored id. Returns the new AES key.
   */
  async reconnect(clientId: ClientId, name: string, keys: RsaKeyPair): Promise<Uint8Array> {
    if (this.profile.family === "C") return await this.sendPublicKey(clientId, name, keys);
    const request = { meaning: "reconnect", name } as const;
    return await this.#exchangeKey(clientId, request, "reconnectApproved", keys);
  }

  /**
   * Sends `request` until its answer `expected` comes (see {@linkcode
   * DialectClient.exchange}), which must name `clientId`; returns the AES key
   * it wraps, unwrapped with `keys`, of the family's size.
   */
  async #exchangeKey(
    clientId: ClientId,
    request: DialectRequest,
    expected: "keyAccepted" | "reconnectApproved",
    keys: RsaKeyPair,
  ): Promise<Uint8Array> {
    const frame = encodeDialectRequest(this.profile.family, clientId, request);
    const answer = await this.exchange(frame, [expected]);
    const response = answer.response as { clientId: ClientId; wrappedKey: Uint8Array };
    assert.deepEqual(response.clientId, clientId);
    return await unwrapDialectAesKey(keys.privateKey, response.wrappedKey, this.aesKeySize);
  }

  /** The bytes of an upload of `data` as this client sends it. */
  async uploadBytes(
    clientId: ClientId,
    aesKey: Uint8Array,
    fileNameField: Uint8Array,
    data: Uint8Array,
  ): Promise<Uint8Array> {
    const cipher = await aesEncrypt(await importDialectAesKey(aesKey), data);
    const upload = this.profile.upload;
    switch (upload.kind) {
      case "per-packet":
        return concat(
          encodePerPacketUpload(clientId, cipher, data.length, fileNameField, upload.layout),
        );
      case "b":
        return encodeBUpload(clientId, cipher, fileNameField);
      case "c":
        return encodeCUpload(clientId, cipher, fileNameField, upload.counted);
    }
  }

  /**
   * Sends a per-packet upload of a file of `size` bytes whose content is
   * `fillPattern`, generated and encrypted on the fly in constant memory
   * (files past the u16 packet counter's wrap); returns the file's cksum.
   * Read the answer with {@linkcode DialectClient.readAnswer}.
   */
  async streamPerPacketUpload(
    clientId: ClientId,
    aesKey: Uint8Array,
    fileNameField: Uint8Array,
    size: number,
  ): Promise<number> {
    const upload = this.profile.upload;
    if (upload.kind !== "per-packet") {
      throw new TypeError("Cannot stream: not a per-packet profile");
    }
    const { chunkSize: k, base, code } = upload.layout;
    const c = cipherSizeFor(size);
    const count = upload.layout.emptyLast ? Math.floor(c / k) + 1 : Math.ceil(c / k);
    const encryptor = new AesCbcEncryptor(await importDialectAesKey(aesKey));
    const sum = new Cksum();
    const plain = new Uint8Array(1024 * 1024);
    let pending: Uint8Array = new Uint8Array(0);
    let produced = 0;
    let finished = false;
    let packet = 0;
    const frames: Uint8Array[] = [];
    let framed = 0;
    while (packet < count) {
      // Enough ciphertext for the next chunk, or everything that is left.
      while (pending.length < k && !finished) {
        let more: Uint8Array;
        if (produced < size) {
          const part = plain.subarray(0, Math.min(plain.length, size - produced));
          fillPattern(part, produced);
          sum.update(part);
          produced += part.length;
          more = await encryptor.update(part);
        } else {
          more = await encryptor.finish();
          finished = true;
        }
        pending = concat([pending, more]);
      }
      const chunk = pending.subarray(0, Math.min(k, pending.length));
      pending = pending.subarray(chunk.length);
      const length = upload.layout.paddedLast ? k : chunk.length;
      const frame = new Uint8Array(23 + PACKET_HEADER_SIZE + length);
      frame.set(encodeRequestHeader(clientId, code, PACKET_HEADER_SIZE + length), 0);
      writePacketHeader(frame, 23, {
        contentSize: c,
        originalSize: size,
        packetNumber: base + packet,
        totalPackets: count,
        fileNameField,
      });
      frame.set(chunk, 23 + PACKET_HEADER_SIZE);
      frames.push(frame);
      framed += frame.length;
      packet++;
      if (framed >= 1024 * 1024 || packet === count) {
        await this.send(concat(frames));
        frames.length = 0;
        framed = 0;
      }
    }
    return sum.digest();
  }

  /** Uploads `data`; asserts the file-received answer and returns it. */
  async upload(
    clientId: ClientId,
    aesKey: Uint8Array,
    fileNameField: Uint8Array,
    data: Uint8Array,
  ): Promise<DialectFileReceived> {
    await this.send(await this.uploadBytes(clientId, aesKey, fileNameField, data));
    const answer = await this.readAnswer();
    assert.equal(
      answer.response.meaning,
      "fileReceived",
      `${this.profile.label}: answer ${answer.code} to the upload`,
    );
    const received = answer.response as DialectFileReceived;
    assert.deepEqual(received.clientId, clientId);
    assert.deepEqual(received.fileNameField, fileNameField);
    assert.equal(received.cksum, cksum(data));
    return received;
  }

  /**
   * Sends a verdict (CRC ok, retry or abort). Returns the answer, or
   * `undefined` after a retry in the families that answer nothing to it.
   */
  async verdict(
    clientId: ClientId,
    meaning: "crcOk" | "crcRetry" | "crcAbort",
    fileNameField: Uint8Array,
  ): Promise<DialectAnswer | undefined> {
    await this.request(clientId, { meaning, fileNameField });
    if (meaning === "crcRetry" && this.profile.family !== "C") return undefined;
    return await this.readAnswer();
  }

  /** Waits for the server to close, asserting it sent nothing more. */
  async readEnd(): Promise<void> {
    const header = await this.readHeader();
    assert.equal(header, null, `expected the connection to close, got ${header?.code}`);
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}
