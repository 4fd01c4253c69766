/**
 * A test client that speaks the protocol as raw bytes, for driving a real
 * server in tests, benchmarks and soak runs (hence `harness/`, which all of
 * them may import): it sends whatever frames a test builds (valid or not)
 * and reads response frames with the protocol codecs.
 *
 * - {@linkcode RawClient}: one connection; `send` raw bytes, `request` a
 *   well-formed frame, `readResponse` the next response, `readEnd` to see the
 *   server close the connection.
 * - High-level steps that assert the happy path: `register`,
 *   `sendPublicKey`, `reconnect`, `upload`, and {@linkcode signUp} for all of
 *   register + key exchange.
 * - Upload builders: {@linkcode encryptContent} (ciphertext || cksum),
 *   {@linkcode buildPackets} (the packets, one array each, to reorder or
 *   corrupt) and {@linkcode uploadStream} (a whole 828 upload of any size,
 *   generated on the fly in constant memory). Both cut packets with the
 *   protocol's `PacketEncoder`; tests that need packets a correct encoder
 *   never makes corrupt these bytes afterwards, on purpose.
 *
 * @module
 */

import { connectSecure } from "../client/tls_connect.ts";
import { PaddingEncryptor } from "../protocol/padded_content.ts";
import assert from "node:assert/strict";
import { writeAll } from "../common/write_all.ts";
import {
  AesCbcEncryptor,
  aesEncrypt,
  chunkLength,
  Cksum,
  cksum,
  CKSUM_TRAILER_SIZE,
  type ClientId,
  contentSizeFor,
  decodeResponse,
  encodeFileNameField,
  encodeRequest,
  encodeRequestHeader,
  ExactReader,
  FULL_PACKET_SIZE,
  generateRsaKeyPair,
  importAesKey,
  maxResponsePayloadSize,
  PACKET_HEADER_SIZE,
  packetCount,
  PacketEncoder,
  readResponseFrameOrEnd,
  type Request,
  RequestCode,
  type Response,
  ResponseCode,
  type RsaKeyPair,
  unwrapAesKey,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { concat } from "./bytes.ts";

/** A response frame as read from the wire. */
export interface RawResponse {
  /** Response code from the header. */
  code: number;
  /** The payload bytes. */
  payload: Uint8Array;
  /** The decoded response. */
  response: Response;
}

/** One raw connection to a server. */
export class RawClient {
  /** The underlying connection. */
  readonly conn: Deno.Conn;
  #reader: ExactReader;
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#reader = new ExactReader(conn);
  }

  /** Connects to `hostname:port` (default 127.0.0.1). */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawClient> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true); // a header and its packets go in separate writes
    return new RawClient(conn);
  }

  /** Connects to the secure port `port` on 127.0.0.1, trusting only `certificate` (DER). */
  static async connectSecure(port: number, certificate: Uint8Array): Promise<RawClient> {
    return new RawClient(await connectSecure("127.0.0.1", port, certificate, 10_000));
  }

  /** Sends raw bytes. */
  async send(bytes: Uint8Array): Promise<void> {
    await writeAll(this.conn, bytes);
  }

  /** Sends a well-formed request frame. */
  async request(clientId: ClientId, request: Request): Promise<void> {
    await this.send(encodeRequest(clientId, request));
  }

  /** Sends a request header alone, with any code and payload size. */
  async sendHeader(clientId: ClientId, code: number, payloadSize: number): Promise<void> {
    await this.send(encodeRequestHeader(clientId, code, payloadSize));
  }

  /** Reads the next response frame; fails if the server closes first. */
  async readResponse(): Promise<RawResponse> {
    const frame = await this.readResponseOrEnd();
    assert.ok(frame !== null, "the server closed the connection instead of answering");
    return frame;
  }

  /**
   * Reads the next response frame, or `null` if the server closed (or reset)
   * the connection before its first byte.
   */
  async readResponseOrEnd(): Promise<RawResponse | null> {
    let frame;
    try {
      frame = await readResponseFrameOrEnd(this.#reader);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return null;
      throw error;
    }
    if (frame === null) return null;
    const { header, payload } = frame;
    return { code: header.code, payload, response: decodeResponse(header.code, payload) };
  }

  /**
   * Reads the next frame undecoded, with an extension's payload limits
   * (`limitOf`; the reference codes' for any other code): `null` if the
   * server closed first.
   */
  async readFrame(
    limitOf: (code: number) => number | undefined,
  ): Promise<{ code: number; payload: Uint8Array } | null> {
    const frame = await readResponseFrameOrEnd(
      this.#reader,
      (code) => limitOf(code) ?? maxResponsePayloadSize(code),
    );
    return frame === null ? null : { code: frame.header.code, payload: frame.payload };
  }

  /** Reads a response and asserts its code. */
  async expect(code: number): Promise<RawResponse> {
    const frame = await this.readResponse();
    if (frame.code !== code) {
      const text = "text" in frame.response ? `: ${frame.response.text}` : "";
      assert.fail(`expected response ${code}, got ${frame.code}${text}`);
    }
    return frame;
  }

  /** Reads a 1607 and returns its text. */
  async expectError(): Promise<string> {
    const frame = await this.expect(ResponseCode.GeneralError);
    return (frame.response as { text: string }).text;
  }

  /**
   * Waits for the server to close the connection and asserts that it sent
   * nothing more before closing.
   */
  async readEnd(): Promise<void> {
    const frame = await this.readResponseOrEnd();
    assert.equal(frame, null, `expected the connection to close, got ${frame?.code}`);
  }

  /** Registers `name`; asserts 1600 and returns the new id. */
  async register(name: string): Promise<ClientId> {
    await this.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name });
    const frame = await this.expect(ResponseCode.Registered);
    return (frame.response as { clientId: ClientId }).clientId;
  }

  /** Sends a public key (826); asserts 1602 and returns the unwrapped AES key. */
  async sendPublicKey(clientId: ClientId, name: string, keys: RsaKeyPair): Promise<Uint8Array> {
    await this.request(clientId, { code: RequestCode.PublicKey, name, publicKey: keys.publicKey });
    const frame = await this.expect(ResponseCode.KeyAccepted);
    const response = frame.response as { clientId: ClientId; wrappedKey: Uint8Array };
    assert.deepEqual(response.clientId, clientId);
    return await unwrapAesKey(keys.privateKey, response.wrappedKey);
  }

  /** Reconnects (827); asserts 1605 and returns the unwrapped AES key. */
  async reconnect(clientId: ClientId, name: string, privateKey: CryptoKey): Promise<Uint8Array> {
    await this.request(clientId, { code: RequestCode.Reconnect, name });
    const frame = await this.expect(ResponseCode.ReconnectApproved);
    const response = frame.response as { clientId: ClientId; wrappedKey: Uint8Array };
    assert.deepEqual(response.clientId, clientId);
    return await unwrapAesKey(privateKey, response.wrappedKey);
  }

  /**
   * Uploads `data` as `fileName` (828) and returns the 1603 response.
   * `trailer` overrides the cksum the client claims.
   */
  async upload(
    clientId: ClientId,
    aesKey: Uint8Array | null,
    fileName: string,
    data: Uint8Array,
    options: { trailer?: number } = {},
  ): Promise<FileReceived> {
    const content = await encryptContent(aesKey, data, options.trailer);
    await this.sendHeader(clientId, RequestCode.SendFile, 0);
    await this.send(concat(buildPackets(content, data.length, encodeFileNameField(fileName))));
    return (await this.expect(ResponseCode.FileReceived)).response as FileReceived;
  }

  /** Closes the connection; does nothing if it is closed already. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Closes the connection (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A decoded 1603 response. */
export type FileReceived = Extract<Response, { code: typeof ResponseCode.FileReceived }>;

/** A client that has registered and exchanged keys. */
export interface TestIdentity {
  /** Its name. */
  name: string;
  /** The id the server gave. */
  clientId: ClientId;
  /** Its RSA key pair. */
  keys: RsaKeyPair;
  /** The AES key of the connection's key exchange. */
  aesKey: Uint8Array;
}

/**
 * Registers `name` and exchanges keys on `client`'s connection. The key pair
 * is made before the 825, so a short idle timeout never fires between 825 and
 * 826; pass `keys` made before connecting when even the first request must
 * come quickly (a server with an idle timeout of a few hundred ms).
 */
export async function signUp(
  client: RawClient,
  name: string,
  keys?: RsaKeyPair,
): Promise<TestIdentity> {
  keys ??= await generateRsaKeyPair();
  const clientId = await client.register(name);
  const aesKey = await client.sendPublicKey(clientId, name, keys);
  return { name, clientId, keys, aesKey };
}

/**
 * The 828 content of `data`: AES-256-CBC ciphertext (with `aesKey` null, the
 * secure port's padded plaintext) followed by the cksum (or `trailer`, to lie
 * about it) as u32 LE.
 */
export async function encryptContent(
  aesKey: Uint8Array | null,
  data: Uint8Array,
  trailer: number = cksum(data),
): Promise<Uint8Array> {
  const cipher = aesKey === null
    ? await padOnly(data)
    : await aesEncrypt(await importAesKey(aesKey), data);
  const content = new Uint8Array(cipher.length + CKSUM_TRAILER_SIZE);
  content.set(cipher, 0);
  new DataView(content.buffer).setUint32(cipher.length, trailer, true);
  return content;
}

/**
 * The bytes of a whole 828 upload of `data`, header included, to send in
 * parts; with `aesKey` null, as on the secure port (see {@linkcode encryptContent}).
 */
export async function uploadBytes(
  me: { clientId: Uint8Array; aesKey: Uint8Array | null },
  name: string,
  data: Uint8Array,
): Promise<Uint8Array> {
  const content = await encryptContent(me.aesKey, data);
  return concat([
    encodeRequestHeader(me.clientId, RequestCode.SendFile, 0),
    ...buildPackets(content, data.length, encodeFileNameField(name)),
  ]);
}

/** The secure port's content body: `data` and its PKCS#7 padding. */
async function padOnly(data: Uint8Array): Promise<Uint8Array> {
  const padding = new PaddingEncryptor();
  return concat([await padding.update(data), await padding.finish()]);
}

/**
 * Cuts `content` into packets, one array each (header + chunk), with the
 * fields a correct client sends; tests may then reorder or corrupt them.
 */
export function buildPackets(
  content: Uint8Array,
  originalSize: number,
  fileNameField: Uint8Array,
): Uint8Array[] {
  const encoder = new PacketEncoder({ contentSize: content.length, originalSize, fileNameField });
  const packets: Uint8Array[] = [];
  for (let i = 0; i < packetCount(content.length); i++) {
    const packet = new Uint8Array(PACKET_HEADER_SIZE + chunkLength(content.length, i));
    const { written } = encoder.encodeInto(content.subarray(encoder.contentEncoded), packet);
    assert.equal(written, packet.length);
    packets.push(packet);
  }
  encoder.finish();
  return packets;
}

/** A deterministic pseudo-random byte pattern: byte `i` of a stream. */
export function fillPattern(target: Uint8Array, offset: number): void {
  for (let i = 0; i < target.length; i++) {
    const x = offset + i;
    target[i] = (x * 31 + (x >>> 8) * 7 + (x >>> 16)) & 0xff;
  }
}

/**
 * Generates a whole 828 upload (request header and every packet) of a file of
 * `size` bytes whose content is {@linkcode fillPattern}, in pieces of about
 * 1 MiB, in constant memory. Each piece is valid until the next one is
 * requested. Returns the pieces and a promise of the file's cksum, settled
 * once the last piece has been generated.
 */
export function uploadStream(
  clientId: ClientId,
  aesKey: Uint8Array,
  fileName: string,
  size: number,
): { frames: AsyncGenerator<Uint8Array>; cksum: Promise<number> } {
  let resolveCksum!: (value: number) => void;
  const sumPromise = new Promise<number>((resolve) => resolveCksum = resolve);
  const contentSize = contentSizeFor(size);
  const fileNameField = encodeFileNameField(fileName);

  async function* content(): AsyncGenerator<Uint8Array> {
    const encryptor = new AesCbcEncryptor(await importAesKey(aesKey));
    const sum = new Cksum();
    const plain = new Uint8Array(1024 * 1024);
    for (let produced = 0; produced < size;) {
      const part = plain.subarray(0, Math.min(plain.length, size - produced));
      fillPattern(part, produced);
      sum.update(part);
      produced += part.length;
      yield await encryptor.update(part);
    }
    yield await encryptor.finish();
    const trailer = new Uint8Array(CKSUM_TRAILER_SIZE);
    new DataView(trailer.buffer).setUint32(0, sum.digest(), true);
    resolveCksum(sum.digest());
    yield trailer;
  }

  async function* frames(): AsyncGenerator<Uint8Array> {
    yield encodeRequestHeader(clientId, RequestCode.SendFile, 0);
    const encoder = new PacketEncoder({ contentSize, originalSize: size, fileNameField });
    const out = new Uint8Array(128 * FULL_PACKET_SIZE);
    let used = 0;
    for await (const piece of content()) {
      for (let offset = 0; offset < piece.length;) {
        const { read, written } = encoder.encodeInto(piece.subarray(offset), out.subarray(used));
        offset += read;
        used += written;
        if (offset < piece.length) { // the batch is full
          yield out.subarray(0, used);
          used = 0;
        }
      }
    }
    encoder.finish();
    if (used > 0) yield out.subarray(0, used);
  }
  return { frames: frames(), cksum: sumPromise };
}

/** `size` random bytes (any size; `crypto.getRandomValues` stops at 64 KiB). */
export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}
