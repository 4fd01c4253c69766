/**
 * The request and response frame readers: whole frames over any byte source,
 * sizes checked against the code before the payload is read, a clean end
 * between frames told apart from a cut frame; and the recorded reference
 * sessions read frame by frame to their last byte.
 */

import assert from "node:assert/strict";
import {
  byteSourceOf,
  decodePacketHeader,
  encodeRequest,
  encodeRequestHeader,
  encodeResponse,
  encodeResponseHeader,
  ExactReader,
  PACKET_HEADER_SIZE,
  packetsSize,
  ProtocolError,
  readRequestFrame,
  readRequestHeader,
  readRequestPayload,
  readResponseFrame,
  readResponseFrameOrEnd,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { readFixture } from "./support/golden_session.ts";

function readerOf(...parts: Uint8Array[]): ExactReader {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return new ExactReader(byteSourceOf(all), 16);
}

Deno.test("request frames are read whole, then null at a clean end", async () => {
  const id = new Uint8Array(16).fill(3);
  const reader = readerOf(
    encodeRequest(id, { code: RequestCode.Register, name: "Alice" }),
    encodeRequest(id, { code: RequestCode.CrcOk, fileName: "f.bin" }),
  );
  const first = await readRequestFrame(reader);
  assert.equal(first?.header.code, 825);
  assert.deepEqual(first?.header.clientId, id);
  assert.equal(first?.payload.length, 255);
  assert.equal((await readRequestFrame(reader))?.header.code, 900);
  assert.equal(await readRequestFrame(reader), null);
});

Deno.test("a request frame with a wrong size is refused before its payload", async (t) => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["unknown code", encodeRequestHeader(ZERO_CLIENT_ID, 777, 10), /unknown request code 777/],
    [
      "payload size wrong for the code",
      encodeRequestHeader(ZERO_CLIENT_ID, RequestCode.Register, 256),
      /request 825: payload size 256 instead of 255/,
    ],
    [
      "828 with a payload",
      encodeRequestHeader(ZERO_CLIENT_ID, RequestCode.SendFile, 4),
      /request 828: payload size 4 instead of 0/,
    ],
  ];
  for (const [what, frame, message] of cases) {
    await t.step(what, async () => {
      const reader = readerOf(frame);
      const header = await readRequestHeader(reader);
      assert.ok(header !== null);
      await assert.rejects(readRequestPayload(reader, header), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, message);
        return true;
      });
      assert.equal(reader.buffered, 0, "nothing past the header was touched");
    });
  }
});

Deno.test("a cut request frame is an unexpected end, not a clean one", async (t) => {
  const frame = encodeRequest(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "A" });
  for (const cut of [1, 22, 23, 200]) {
    await t.step(`cut after ${cut} bytes`, async () => {
      await assert.rejects(
        readRequestFrame(readerOf(frame.subarray(0, cut))),
        Deno.errors.UnexpectedEof,
      );
    });
  }
});

Deno.test("response frames: code and size checked before the payload", async (t) => {
  await t.step("whole frames, then null", async () => {
    const reader = readerOf(
      encodeResponse({ code: ResponseCode.Ack, clientId: new Uint8Array(16) }),
      encodeResponse({ code: ResponseCode.GeneralError, text: "no" }),
    );
    assert.equal((await readResponseFrame(reader)).header.code, 1604);
    assert.deepEqual([...(await readResponseFrame(reader)).payload], [0x6e, 0x6f]);
    assert.equal(await readResponseFrameOrEnd(reader), null);
    await assert.rejects(readResponseFrame(reader), Deno.errors.UnexpectedEof);
  });
  const refused: Array<[string, Uint8Array, RegExp]> = [
    ["unknown code", encodeResponseHeader(1700, 0), /unknown response code 1700/],
    ["oversized 1600", encodeResponseHeader(1600, 17), /payload of 17 bytes, more than 16/],
    ["oversized 1607", encodeResponseHeader(1607, 5000), /payload of 5000 bytes, more than 1024/],
  ];
  for (const [what, header, message] of refused) {
    await t.step(what, async () => {
      const reader = readerOf(header, new Uint8Array(8000));
      await assert.rejects(readResponseFrame(reader), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

for (const name of ["s1-register", "s2-reconnect", "s3-restart"]) {
  Deno.test(`golden ${name}: the frame readers account for every recorded byte`, async () => {
    const requests = new ExactReader(byteSourceOf(await readFixture(`${name}.c2s`)));
    const codes: number[] = [];
    for (let frame = await readRequestFrame(requests); frame !== null;) {
      codes.push(frame.header.code);
      if (frame.header.code === RequestCode.SendFile) {
        const first = await requests.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE);
        await requests.skip(
          packetsSize(decodePacketHeader(first).contentSize) - PACKET_HEADER_SIZE,
        );
      }
      frame = await readRequestFrame(requests);
    }
    assert.ok(codes.includes(828) && codes.at(-1) === 900, `requests ${codes}`);
    const responses = new ExactReader(byteSourceOf(await readFixture(`${name}.s2c`)));
    const answers: number[] = [];
    for (let frame = await readResponseFrameOrEnd(responses); frame !== null;) {
      answers.push(frame.header.code);
      frame = await readResponseFrameOrEnd(responses);
    }
    assert.equal(answers.length, codes.length, `responses ${answers}`);
  });
}
