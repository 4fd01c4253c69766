import assert from "node:assert/strict";
import {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
} from "../protocol/header.ts";
import { decodeRequest, encodeRequest, requestPayloadSize } from "../protocol/requests.ts";
import {
  decodeResponse,
  encodeResponse,
  maxResponsePayloadSize,
  type Response,
} from "../protocol/responses.ts";
import {
  checkUploadSizes,
  chunkLength,
  contentSizeFor,
  decodeFileNameField,
  decodePacketHeader,
  encodeFileNameField,
  encodePacketHeader,
  packetCount,
} from "../protocol/packet.ts";
import { clientIdFromHex, clientIdToHex, encodeStringField } from "../protocol/fields.ts";
import { fileNameProblem, nameProblem } from "../protocol/names.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { MAX_ENCODABLE_FILE_SIZE, RequestCode, ResponseCode } from "../protocol/constants.ts";

const ID = clientIdFromHex("2a3d65eef69243b7ae0d6f7ffe362c48");

Deno.test("request header round-trips and has the reference layout", () => {
  const bytes = encodeRequestHeader(ID, 825, 255);
  assert.equal(bytes.length, 23);
  assert.deepEqual([...bytes.subarray(16)], [3, 0x39, 0x03, 0xff, 0, 0, 0]);
  const header = decodeRequestHeader(bytes);
  assert.deepEqual(header, { clientId: ID, version: 3, code: 825, payloadSize: 255 });
  assert.throws(() => decodeRequestHeader(bytes.subarray(0, 22)), ProtocolError);
  assert.throws(() => encodeRequestHeader(new Uint8Array(15), 825, 0), RangeError);
  assert.throws(() => encodeRequestHeader(ID, 70_000, 0), RangeError);
  assert.throws(() => encodeRequestHeader(ID, 825, 2 ** 32), RangeError);
});

Deno.test("headers decode from a slice with a byte offset", () => {
  const frame = new Uint8Array(40);
  frame.set(encodeResponseHeader(1603, 279), 11);
  assert.deepEqual(decodeResponseHeader(frame.subarray(11)), {
    version: 3,
    code: 1603,
    payloadSize: 279,
  });
  assert.throws(() => decodeResponseHeader(frame.subarray(34)), ProtocolError);
});

Deno.test("every request round-trips with its exact payload size", async (t) => {
  const publicKey = new Uint8Array(160).fill(7);
  const requests = [
    { code: RequestCode.Register, name: "Golden User" },
    { code: RequestCode.PublicKey, name: "Golden User", publicKey },
    { code: RequestCode.Reconnect, name: "x" },
    { code: RequestCode.SendFile },
    { code: RequestCode.CrcOk, fileName: "/home/user/sample.bin" },
    { code: RequestCode.CrcRetry, fileName: "sample.bin" },
    { code: RequestCode.CrcAbort, fileName: "sample.bin" },
  ] as const;
  for (const request of requests) {
    await t.step(`${request.code}`, () => {
      const frame = encodeRequest(ID, request);
      const header = decodeRequestHeader(frame);
      assert.equal(header.payloadSize, requestPayloadSize(request.code));
      assert.equal(frame.length, 23 + header.payloadSize);
      assert.deepEqual(decodeRequest(header.code, frame.subarray(23)), request);
    });
  }
});

Deno.test("malformed requests are refused", () => {
  const name = encodeStringField("ok", 255);
  assert.throws(() => decodeRequest(999, new Uint8Array(0)), /unknown request code 999/);
  assert.throws(() => decodeRequest(825, name.subarray(0, 254)), /254 bytes instead of 255/);
  assert.throws(() => decodeRequest(825, new Uint8Array(255)), /name is empty/);
  assert.throws(() => decodeRequest(825, new Uint8Array(255).fill(0x41)), /more than 100/);
  const nonAscii = name.slice();
  nonAscii[1] = 0xe9;
  assert.throws(() => decodeRequest(827, nonAscii), ProtocolError);
  assert.throws(() => encodeRequest(ID, { code: 825, name: "" }), TypeError);
  assert.throws(() => encodeRequest(ID, { code: 825, name: "é" }), TypeError);
  assert.throws(
    () => encodeRequest(ID, { code: 826, name: "a", publicKey: new Uint8Array(162) }),
    RangeError,
  );
});

Deno.test("names: 1 to 100 bytes of printable ASCII", () => {
  assert.equal(nameProblem("a".repeat(100)), undefined);
  assert.match(nameProblem("a".repeat(101))!, /more than 100/);
  assert.match(nameProblem("")!, /empty/);
  assert.match(nameProblem("tab\there")!, /not printable/);
});

Deno.test("file names: one safe path component", async (t) => {
  for (const ok of ["sample.bin", "a..b", "..hidden", "x".repeat(255), "naïve.txt", "COM10"]) {
    await t.step(`${JSON.stringify(ok.slice(0, 20))} is accepted`, () => {
      assert.equal(fileNameProblem(ok), undefined, ok);
    });
  }
  const bad = [
    "",
    ".",
    "..",
    "../x",
    "a/b",
    "a\\b",
    "a\0b",
    "bell\x07",
    "x".repeat(256),
    "é".repeat(128),
    "CON",
    "nul.txt",
    "Com1",
    "LPT9.log",
    "trailing.",
    "trailing ",
    "a:b",
    "what?",
  ];
  for (const name of bad) {
    await t.step(`${JSON.stringify(name.slice(0, 20))} is refused`, () => {
      assert.notEqual(fileNameProblem(name), undefined, JSON.stringify(name));
    });
  }
});

Deno.test("every response round-trips", async (t) => {
  const wrappedKey = new Uint8Array(128).fill(9);
  const responses: Response[] = [
    { code: ResponseCode.Registered, clientId: ID },
    { code: ResponseCode.RegisterFailed, text: "name taken" },
    { code: ResponseCode.KeyAccepted, clientId: ID, wrappedKey },
    {
      code: ResponseCode.FileReceived,
      clientId: ID,
      contentSize: 20020,
      fileNameField: encodeFileNameField("sample.bin"),
      cksum: 858054355,
    },
    { code: ResponseCode.Ack, clientId: ID },
    { code: ResponseCode.ReconnectApproved, clientId: ID, wrappedKey },
    { code: ResponseCode.ReconnectDenied, text: "Sign in failed. Please register." },
    { code: ResponseCode.ReconnectDenied, clientId: ID, text: "" },
    { code: ResponseCode.GeneralError, text: "" },
  ];
  for (const [i, response] of responses.entries()) {
    await t.step(`${response.code} (${i})`, () => {
      const frame = encodeResponse(response);
      const header = decodeResponseHeader(frame);
      assert.equal(header.code, response.code);
      assert.ok(header.payloadSize <= maxResponsePayloadSize(header.code)!);
      assert.deepEqual(decodeResponse(header.code, frame.subarray(7)), response);
    });
  }
  // The reference's non-printable bytes never reach the user as such.
  const weird = decodeResponse(1607, new Uint8Array([0x6f, 0x6b, 0x0a, 0x1b]));
  assert.deepEqual(weird, { code: 1607, text: "ok??" });
});

Deno.test("malformed responses are refused", () => {
  assert.throws(() => decodeResponse(1600, new Uint8Array(15)), /15 bytes instead of 16/);
  assert.throws(() => decodeResponse(1602, new Uint8Array(143)), ProtocolError);
  assert.throws(() => decodeResponse(1603, new Uint8Array(280)), /more than 279/);
  assert.throws(() => decodeResponse(1607, new Uint8Array(1025)), /more than 1024/);
  assert.throws(() => decodeResponse(1234, new Uint8Array(0)), /unknown code 1234/);
  assert.equal(maxResponsePayloadSize(1234), undefined);
});

Deno.test("content size and packet count follow the reference framing", () => {
  assert.equal(contentSizeFor(0), 20);
  assert.equal(contentSizeFor(15), 20);
  assert.equal(contentSizeFor(16), 36);
  assert.equal(contentSizeFor(20000), 20020);
  assert.equal(packetCount(20020), 3);
  assert.deepEqual([0, 1, 2].map((i) => chunkLength(20020, i)), [7925, 7925, 4170]);
  assert.equal(packetCount(7925), 1);
  assert.equal(packetCount(7926), 2);
  assert.equal(contentSizeFor(MAX_ENCODABLE_FILE_SIZE), 0xffff_fff4);
  assert.throws(() => contentSizeFor(MAX_ENCODABLE_FILE_SIZE + 1), RangeError);
  assert.throws(() => contentSizeFor(-1), RangeError);
});

Deno.test("packet headers round-trip, and u16 fields wrap above 65535 packets", () => {
  const originalSize = 800_000_000;
  const contentSize = contentSizeFor(originalSize);
  const total = packetCount(contentSize);
  assert.ok(total > 65_535);
  const fileNameField = encodeFileNameField("big.bin");
  const bytes = encodePacketHeader({
    contentSize,
    originalSize,
    packetNumber: 70_000,
    totalPackets: total,
    fileNameField,
  });
  assert.equal(bytes.length, 267);
  const header = decodePacketHeader(bytes);
  assert.equal(header.packetNumber, 70_000 - 65_536);
  assert.equal(header.totalPackets, total % 65_536);
  assert.equal(decodeFileNameField(header.fileNameField), "big.bin");
  checkUploadSizes(header, 800_000_000);
  assert.throws(() => checkUploadSizes(header, 799_999_999), /over the limit/);
  assert.throws(() => decodePacketHeader(bytes.subarray(1)), ProtocolError);
});

Deno.test("upload sizes that do not describe a real upload are refused", () => {
  const header = (contentSize: number, originalSize: number, totalPackets: number) =>
    decodePacketHeader(encodePacketHeader({
      contentSize,
      originalSize,
      packetNumber: 0,
      totalPackets,
      fileNameField: encodeFileNameField("f"),
    }));
  checkUploadSizes(header(20020, 20000, 3), 800e6);
  assert.throws(() => checkUploadSizes(header(20, 20000, 1), 800e6), /does not match original/);
  assert.throws(() => checkUploadSizes(header(20036, 20000, 3), 800e6), /does not match original/);
  assert.throws(() => checkUploadSizes(header(20020, 20000, 2), 800e6), /total packets 2/);
});

Deno.test("packet file name fields with hostile contents are refused", () => {
  const raw = (bytes: number[]) => {
    const field = new Uint8Array(255);
    field.set(bytes);
    return field;
  };
  const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
  assert.equal(decodeFileNameField(raw(ascii("ok.txt"))), "ok.txt");
  assert.equal(decodeFileNameField(new Uint8Array(255).fill(0x61)), "a".repeat(255));
  assert.throws(() => decodeFileNameField(raw([])), /empty/);
  assert.throws(() => decodeFileNameField(raw(ascii("../etc/passwd"))), /separator/);
  assert.throws(() => decodeFileNameField(raw([...ascii("a.txt"), 0, ...ascii("x")])), /NUL/);
  assert.throws(() => decodeFileNameField(raw([0xff, 0xfe])), /UTF-8/);
  assert.throws(() => decodeFileNameField(raw(ascii("aux"))), /device/);
  assert.throws(() => decodeFileNameField(new Uint8Array(254)), ProtocolError);
  assert.throws(() => encodeFileNameField("a/b"), TypeError);
});

Deno.test("client ids convert to and from hex", () => {
  assert.equal(clientIdToHex(ID), "2a3d65eef69243b7ae0d6f7ffe362c48");
  assert.deepEqual(clientIdFromHex("2A3D65EEF69243B7AE0D6F7FFE362C48"), ID);
  assert.throws(() => clientIdFromHex("2a3d"), TypeError);
  assert.throws(() => clientIdFromHex("g".repeat(32)), TypeError);
  assert.throws(() => clientIdToHex(new Uint8Array(4)), RangeError);
});
