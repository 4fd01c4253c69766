/**
 * The secure mode's transfer requests (852/1652, 853/1653): every field
 * round-trips, and every malformed payload is a ProtocolError before it is
 * used.
 */

import assert from "node:assert/strict";
import { REQUEST_HEADER_SIZE, RESPONSE_HEADER_SIZE } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { decodeRequestHeader, decodeResponseHeader } from "../protocol/header.ts";
import {
  decodeFileStatusRequest,
  decodeFileStatusResponse,
  decodeSendAtRequest,
  decodeSendAtResponse,
  encodeFileStatusRequest,
  encodeFileStatusResponse,
  encodeSendAtRequest,
  encodeSendAtResponse,
  FILE_STATUS_REQUEST_CODE,
  FILE_STATUS_RESPONSE_CODE,
  FILE_STATUS_RESPONSE_SIZE,
  MAX_FILE_STATUS_REQUEST_SIZE,
  MAX_SEND_AT_REQUEST_SIZE,
  maxTransferResponseSize,
  SEND_AT_REQUEST_CODE,
  SEND_AT_RESPONSE_CODE,
} from "../protocol/transfers.ts";

const ID = new Uint8Array(16).fill(7);
const digest = (seed: number) => new Uint8Array(32).map((_, i) => (i * 31 + seed) & 0xff);

Deno.test("852 and 853 round-trip with their headers, paths in UTF-8", () => {
  const status = encodeFileStatusRequest(ID, { size: 5_000_000_000, path: "été/ñ 1/cat.jpg" });
  const header = decodeRequestHeader(status.subarray(0, REQUEST_HEADER_SIZE));
  assert.equal(header.code, FILE_STATUS_REQUEST_CODE);
  assert.equal(header.payloadSize, status.length - REQUEST_HEADER_SIZE);
  assert.deepEqual(decodeFileStatusRequest(status.subarray(REQUEST_HEADER_SIZE)), {
    size: 5_000_000_000,
    path: "été/ñ 1/cat.jpg",
  });
  const request = { size: 200, offset: 200, prefixSha256: digest(1), path: "a" };
  const sendAt = encodeSendAtRequest(ID, request);
  assert.equal(
    decodeRequestHeader(sendAt.subarray(0, REQUEST_HEADER_SIZE)).code,
    SEND_AT_REQUEST_CODE,
  );
  assert.deepEqual(decodeSendAtRequest(sendAt.subarray(REQUEST_HEADER_SIZE)), request);
  const longest = "a/".repeat(511) + "bc";
  assert.equal(
    encodeFileStatusRequest(ID, { size: 0, path: longest }).length - REQUEST_HEADER_SIZE,
    MAX_FILE_STATUS_REQUEST_SIZE,
  );
  assert.equal(
    encodeSendAtRequest(ID, { size: 0, offset: 0, prefixSha256: digest(0), path: longest })
      .length - REQUEST_HEADER_SIZE,
    MAX_SEND_AT_REQUEST_SIZE,
  );
});

Deno.test("1652 and 1653 round-trip: stored with and without a digest, nothing stored", async (t) => {
  const cases = [
    { stored: { size: 10, sha256: digest(2) }, maxFileSize: 1_500_000_000 },
    { stored: { size: 0, sha256: undefined }, maxFileSize: 0 },
    { maxFileSize: 800_000_000 },
  ];
  for (const [i, base] of cases.entries()) {
    await t.step(`case ${i}`, () => {
      const status = { ...base, resumable: { length: i * 1000, sha256: digest(i) } };
      const frame = encodeFileStatusResponse(status);
      const header = decodeResponseHeader(frame.subarray(0, RESPONSE_HEADER_SIZE));
      assert.equal(header.code, FILE_STATUS_RESPONSE_CODE);
      assert.equal(header.payloadSize, FILE_STATUS_RESPONSE_SIZE);
      assert.deepEqual(decodeFileStatusResponse(frame.subarray(RESPONSE_HEADER_SIZE)), status);
    });
  }
  const goAhead = encodeSendAtResponse(123_456_789_012);
  assert.equal(decodeResponseHeader(goAhead.subarray(0, 7)).code, SEND_AT_RESPONSE_CODE);
  assert.equal(decodeSendAtResponse(goAhead.subarray(RESPONSE_HEADER_SIZE)), 123_456_789_012);
  assert.equal(maxTransferResponseSize(1652), FILE_STATUS_RESPONSE_SIZE);
  assert.equal(maxTransferResponseSize(1653), 8);
  assert.equal(maxTransferResponseSize(1607), undefined);
});

Deno.test("malformed transfer payloads are ProtocolErrors", async (t) => {
  const status = encodeFileStatusRequest(ID, { size: 1, path: "ab" }).slice(REQUEST_HEADER_SIZE);
  const sendAt = encodeSendAtRequest(ID, {
    size: 9,
    offset: 3,
    prefixSha256: digest(3),
    path: "ab",
  }).slice(REQUEST_HEADER_SIZE);
  const answer = encodeFileStatusResponse({
    maxFileSize: 1,
    resumable: { length: 0, sha256: new Uint8Array(32) },
  }).slice(RESPONSE_HEADER_SIZE);
  const cases: Array<[string, () => unknown]> = [
    ["852 path length longer than the payload", () => {
      const bad = status.slice();
      bad[8] = 3;
      return decodeFileStatusRequest(bad);
    }],
    ["852 without a path", () => decodeFileStatusRequest(status.subarray(0, 10))],
    ["852 path not UTF-8", () => {
      const bad = status.slice();
      bad[10] = 0xff;
      return decodeFileStatusRequest(bad);
    }],
    ["852 size past 2^53", () => {
      const bad = status.slice();
      new DataView(bad.buffer).setBigUint64(0, 2n ** 60n, true);
      return decodeFileStatusRequest(bad);
    }],
    ["853 offset past the size", () => {
      const bad = sendAt.slice();
      new DataView(bad.buffer).setBigUint64(8, 10n, true);
      return decodeSendAtRequest(bad);
    }],
    ["853 too long", () => decodeSendAtRequest(new Uint8Array(MAX_SEND_AT_REQUEST_SIZE + 1))],
    ["1652 unknown flags", () => {
      const bad = answer.slice();
      bad[0] = 4;
      return decodeFileStatusResponse(bad);
    }],
    ["1652 a digest without a stored file", () => {
      const bad = answer.slice();
      bad[0] = 2;
      return decodeFileStatusResponse(bad);
    }],
    ["1652 one byte short", () => decodeFileStatusResponse(answer.subarray(1))],
    ["1653 of 7 bytes", () => decodeSendAtResponse(new Uint8Array(7))],
  ];
  for (const [name, decode] of cases) {
    await t.step(name, () => assert.throws(decode, ProtocolError));
  }
});

Deno.test("encoders refuse what they cannot carry", () => {
  assert.throws(() => encodeFileStatusRequest(ID, { size: 1, path: "" }), RangeError);
  assert.throws(() => encodeFileStatusRequest(ID, { size: -1, path: "a" }), RangeError);
  assert.throws(
    () => encodeFileStatusRequest(ID, { size: 1, path: "x".repeat(1025) }),
    RangeError,
  );
  assert.throws(
    () => encodeSendAtRequest(ID, { size: 1, offset: 2, prefixSha256: digest(0), path: "a" }),
    RangeError,
  );
  assert.throws(
    () =>
      encodeSendAtRequest(ID, { size: 1, offset: 0, prefixSha256: new Uint8Array(3), path: "a" }),
    RangeError,
  );
});
