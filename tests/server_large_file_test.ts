import assert from "node:assert/strict";
import {
  Cksum,
  clientIdToHex,
  DEFAULT_MAX_FILE_SIZE,
  RequestCode,
  ResponseCode,
} from "../protocol/mod.ts";
import { fillPattern, RawClient, signUp, uploadStream } from "../harness/raw_client.ts";
import { ServerProcess } from "./support/server_process.ts";

/**
 * The default limit, 800 MB: far past the reference's ceiling, where the u16
 * packet fields wrap (65536 packets of 7925 bytes is 519,372,800 bytes).
 */
const SIZE = DEFAULT_MAX_FILE_SIZE;

Deno.test({
  // Its memory is measured by bench/transfer.ts: tests assert behaviour, not figures.
  name: "server: an 800 MB upload (u16 packet fields wrap) is kept byte for byte",
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "server_large_" });
    const server = await ServerProcess.start(dir, ["--port", "0", "--host", "127.0.0.1"]);
    try {
      using client = await RawClient.connect(server.port);
      const me = await signUp(client, "Big Sender");
      const { frames, cksum } = uploadStream(me.clientId, me.aesKey, "big.bin", SIZE);
      const reading = client.expect(ResponseCode.FileReceived);
      for await (const piece of frames) await client.send(piece);
      const received = (await reading).response as { cksum: number; contentSize: number };
      assert.equal(received.cksum, await cksum);
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "big.bin" });
      await client.expect(ResponseCode.Ack);

      // The stored file is the generated content, byte for byte.
      const path = `${dir}/received_files/${clientIdToHex(me.clientId)}/big.bin`;
      using file = await Deno.open(path);
      const sum = new Cksum();
      const buffer = new Uint8Array(1 << 20);
      const expected = new Uint8Array(1 << 20);
      let offset = 0;
      for (let n; (n = await file.read(buffer)) !== null;) {
        fillPattern(expected.subarray(0, n), offset);
        assert.deepEqual(buffer.subarray(0, n), expected.subarray(0, n), `at byte ${offset}`);
        sum.update(buffer.subarray(0, n));
        offset += n;
      }
      assert.equal(offset, SIZE);
      assert.equal(sum.digest(), await cksum);
    } finally {
      const status = await server.stop();
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0, server.stderr);
    }
  },
});
