/**
 * Uploads in the other dialects (`docs/protocol.md` §15.3-15.5): one request
 * per packet (family A per packet, family D) or the whole file in one
 * request (B's 1028, C's 1103). The request's head is read and checked here
 * with the dialect codecs, the ciphertext by `server/upload/dialect_upload.ts`;
 * what follows is the reference's (`requests/send_file.ts`): the upload
 * waits, staged, for the client's verdict, and is answered as received with
 * the content size c (no trailer in these dialects), the file name field
 * echoed byte for byte, and our cksum (its complement when not kept).
 *
 * | state on arrival                       | answer                                    |
 * |----------------------------------------|-------------------------------------------|
 * | signed in, the header's id its own     | file received; awaiting the verdict       |
 * | signed in, over its limits                | 1607 at once (at the head, or the first packet), then the rest is read and dropped |
 * | signed in, the store fails                | 1607 after reading the upload to its end  |
 * | not signed in, another id, a head that does not decode, a packet out of line | 1607, and the connection closes |
 *
 * @module
 */

import {
  bytesEqual,
  decodePacketHeader,
  PACKET_HEADER_SIZE,
  ProtocolError,
  type RequestHeader,
  ResponseCode,
} from "../../../protocol/mod.ts";
import {
  B_UPLOAD_HEAD_SIZE,
  C_UPLOAD_HEAD_SIZE,
  decodeBUploadHead,
  decodeCUploadHead,
  dialectFileName,
  MAX_PACKET_CHUNK,
  PerPacketUpload,
  type WholeFileUpload,
} from "../../../protocol/dialects/mod.ts";
import { isTemporaryName } from "../../storage/file_store_local.ts";
import {
  type CipherSource,
  PacketSource,
  receiveDialectUpload,
  WholeFileSource,
} from "../../upload/dialect_upload.ts";
import { UploadRefusedError, type UploadResult } from "../../upload/upload.ts";
import { answeredCksum } from "../../upload/verdict.ts";
import type { SignedInClient } from "../connection_state.ts";
import type { RequestScope } from "../scope.ts";
import { storageFailed } from "../requests/checks.ts";

/** How a dialect uploads. */
export type UploadFraming = "per-packet" | "B" | "C";

/**
 * The bytes the dispatch reads after an upload's header: none (the handler
 * reads the head and what follows), once the header's payload size fits the
 * framing.
 *
 * @throws {ProtocolError} for a payload size the framing never has.
 */
export function uploadPayloadSize(framing: UploadFraming, header: RequestHeader): number {
  const size = header.payloadSize;
  const [low, high] = framing === "per-packet"
    ? [PACKET_HEADER_SIZE, PACKET_HEADER_SIZE + MAX_PACKET_CHUNK]
    : [framing === "B" ? B_UPLOAD_HEAD_SIZE : C_UPLOAD_HEAD_SIZE, 0xffff_ffff];
  if (size < low || size > high) {
    throw new ProtocolError(
      `Cannot accept file: payload size ${size} is outside ${low} to ${high} for request ${header.code}`,
    );
  }
  return 0;
}

/** Receives the upload that follows `header` and answers it. */
export async function receiveDialectFile(
  scope: RequestScope,
  framing: UploadFraming,
  header: RequestHeader,
): Promise<void> {
  const state = scope.client;
  if (state.kind !== "signed-in") {
    throw new ProtocolError("Cannot accept file: no key exchange on this connection");
  }
  const { client } = state;
  if (!bytesEqual(header.clientId, client.clientId)) {
    throw new ProtocolError("Cannot accept file: the header's client id is not this connection's");
  }
  await scope.forgetUpload();
  scope.setActivity({ kind: "receiving" });
  let upload: UploadResult;
  try {
    upload = await receive(scope, framing, header, client);
  } catch (error) {
    await scope.forgetUpload(); // releases its reservation, if it got one (a store that failed)
    if (error instanceof UploadRefusedError) {
      if (!error.answered) await scope.reject(header.code, error.message);
      return;
    }
    await storageFailed(scope, error, header.code);
    return;
  } finally {
    scope.setActivity({ kind: "handling" });
  }
  scope.setClient({ kind: "signed-in", client, upload: { kind: "awaiting-verdict", upload } });
  await scope.context.commit.registry.touchClient(client.clientId);
  scope.logger.info("Received {fileName}: {size} bytes, cksum {cksum}; {outcome}", {
    fileName: upload.fileName,
    size: upload.originalSize,
    cksum: upload.cksum,
    outcome: upload.refusal === undefined
      ? "kept aside until the client confirms it"
      : `not kept: ${upload.refusal}`,
  });
  await scope.send({
    code: ResponseCode.FileReceived,
    clientId: client.clientId,
    contentSize: upload.contentSize,
    fileNameField: upload.fileNameField,
    cksum: answeredCksum(upload),
  });
}

/** Reads the head, then hands the ciphertext to the dialect upload pipeline. */
async function receive(
  scope: RequestScope,
  framing: UploadFraming,
  header: RequestHeader,
  client: SignedInClient,
): Promise<UploadResult> {
  const { context, reader } = scope;
  let source: CipherSource;
  let head: WholeFileUpload;
  let originalSize: number | undefined;
  if (framing === "per-packet") {
    const packet = decodePacketHeader(
      await reader.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE),
    );
    const upload = new PerPacketUpload(packet, header.payloadSize, context.maxFileSize);
    const first = upload.accept(packet, header.payloadSize);
    source = new PacketSource(reader, upload, first, header.code, client.clientId);
    head = { contentSize: packet.contentSize, fileNameField: packet.fileNameField };
    originalSize = packet.originalSize;
  } else {
    const size = framing === "B" ? B_UPLOAD_HEAD_SIZE : C_UPLOAD_HEAD_SIZE;
    const bytes = await reader.readExact(size, size);
    head = framing === "B"
      ? decodeBUploadHead(header.payloadSize, bytes, context.maxFileSize)
      : decodeCUploadHead(header.payloadSize, bytes, context.maxFileSize);
    if (head.clientId !== undefined && !bytesEqual(head.clientId, client.clientId)) {
      throw new ProtocolError(
        "Cannot accept file: the request's client id is not this connection's",
      );
    }
    source = new WholeFileSource(reader, head.contentSize);
  }
  const fileName = dialectFileName(head.fileNameField);
  if (isTemporaryName(fileName)) {
    throw new ProtocolError("Cannot accept file: the file name is reserved for temporary files");
  }
  return await receiveDialectUpload({
    source,
    clientId: client.clientId,
    aesKey: client.aesKey,
    fileNameField: head.fileNameField,
    fileName,
    ...(originalSize === undefined ? {} : { originalSize }),
    store: context.store,
    buffers: context.uploadBuffers,
    logger: scope.logger,
    admit: (name, size) => {
      scope.setActivity({ kind: "receiving", fileName: name });
      return scope.reserveUpload(client.clientId, name, size, true); // stands for a kept partial
    },
    answerRefusal: (reason) => scope.reject(header.code, reason),
  });
}
