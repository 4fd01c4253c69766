/**
 * A server in S3 mode needs no permission beyond the network, its own folder
 * and its environment: the AWS SDK reads no `~/.aws` file when the
 * credentials are given (`server/storage/s3_client.ts`), so no permission
 * prompt ever stops it before it listens or while it stores a file.
 *
 * - with `--no-prompt` and read access to its folder only, it starts and
 *   stores an upload in the bucket;
 * - run on a terminal without `--no-prompt` (where any other read would be a
 *   prompt), it starts and stores an upload without asking anything.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { cksum, clientIdToHex, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { randomBytes, RawClient, signUp } from "../harness/raw_client.ts";
import { findProgram } from "../scripts/services/daemon.ts";
import { waitUntil } from "./support/reliability.ts";
import { ServerProcess } from "./support/server_process.ts";
import { ignoreWithoutServices, type S3Service, startCeph } from "./support/services.ts";
import { s3Env } from "./support/scale_deployment.ts";

const SERVER_MAIN = fileURLToPath(new URL("../server/main.ts", import.meta.url));
const BUCKET = "permissions";

/** The server's environment: the bucket as its store. */
function storeEnv(s3: S3Service): Record<string, string> {
  return { FT_STORE: `s3://${BUCKET}`, ...s3Env(s3) };
}

/** Registers, uploads `name`, confirms it, and checks that the object is in the bucket. */
async function uploadThrough(port: number, s3: S3Service, name: string): Promise<void> {
  const client = await RawClient.connect(port);
  try {
    const me = await signUp(client, name);
    const data = randomBytes(100_000);
    const received = await client.upload(me.clientId, me.aesKey, "f.bin", data);
    assert.equal(received.cksum, cksum(data));
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "f.bin" });
    await client.expect(ResponseCode.Ack);
    const s3Client = s3.client();
    try {
      const head = await s3Client.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: `${clientIdToHex(me.clientId)}/f.bin` }),
      );
      assert.equal(head.ContentLength, data.length);
    } finally {
      s3Client.destroy();
    }
  } finally {
    client.close();
  }
}

Deno.test({
  name: "a server in S3 mode asks for no permission: --no-prompt, and on a terminal without it",
  ignore: ignoreWithoutServices("S3 mode without permission prompts", ["s3"]),
  async fn(t) {
    const s3 = await startCeph({ bucket: BUCKET });
    const root = await Deno.makeTempDir({ prefix: "scale_s3_permissions_" });
    try {
      await t.step(
        "--no-prompt, read access to its folder only: it starts and stores",
        async () => {
          const server = await ServerProcess.start(
            `${root}/no-prompt`,
            ["--host", "127.0.0.1", "--port", "0"],
            { env: storeEnv(s3) },
          );
          try {
            await uploadThrough(server.port, s3, "NoPrompt");
          } finally {
            await server.stop();
          }
          assert.doesNotMatch(server.stderr, /NotCapable|Requires read access/);
        },
      );

      await t.step("on a terminal without --no-prompt: it asks nothing", async () => {
        const script = findProgram("script");
        assert.ok(script !== undefined, "script (util-linux) runs the server on a terminal");
        const dir = `${root}/terminal`;
        const command = [
          Deno.execPath(),
          "run",
          "--allow-net",
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          "--allow-env",
          SERVER_MAIN,
          "--dir",
          dir,
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--secure-port",
          "0",
        ].join(" ");
        const child = new Deno.Command(script, {
          args: ["-qefc", command, "/dev/null"],
          env: storeEnv(s3),
          stdin: "piped",
          stdout: "piped",
          stderr: "null",
        }).spawn();
        let output = "";
        const reading = (async () => {
          const decoder = new TextDecoder();
          for await (const chunk of child.stdout) output += decoder.decode(chunk, { stream: true });
        })();
        try {
          await waitUntil(
            "the server to listen, or a permission prompt",
            () => /Listening on|Deno requests/.test(output),
            20_000,
          );
          assert.doesNotMatch(output, /Deno requests/);
          const port = Number(/Listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
          await uploadThrough(port, s3, "Terminal");
          assert.doesNotMatch(output, /Deno requests/);
        } finally {
          child.kill("SIGTERM");
          await child.stdin.close().catch(() => {});
          await child.status;
          await reading;
        }
      });
    } finally {
      await s3.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});
