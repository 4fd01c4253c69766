import assert from "node:assert/strict";
import {
  cksum,
  clientIdToHex,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { RawClient, signUp } from "./support/raw_client.ts";
import { withServer } from "./support/test_server.ts";

Deno.test("server: register, exchange keys, upload and verify a file", async () => {
  await withServer(async ({ port, dir }) => {
    using client = await RawClient.connect(port);
    const me = await signUp(client, "Alice");
    const data = crypto.getRandomValues(new Uint8Array(20000));
    const received = await client.upload(me.clientId, me.aesKey, "hello.bin", data);
    assert.equal(received.cksum, cksum(data));
    assert.deepEqual(received.clientId, me.clientId);
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "/tmp/hello.bin" });
    await client.expect(ResponseCode.Ack);
    const stored = await Deno.readFile(
      `${dir}/received_files/${clientIdToHex(me.clientId)}/hello.bin`,
    );
    assert.deepEqual(stored, data);
  });
});

Deno.test("server: a taken name gets 1601", async () => {
  await withServer(async ({ port }) => {
    using a = await RawClient.connect(port);
    await a.register("Bob");
    using b = await RawClient.connect(port);
    await b.request(ZERO_CLIENT_ID, { code: RequestCode.Register, name: "Bob" });
    await b.expect(ResponseCode.RegisterFailed);
  });
});
