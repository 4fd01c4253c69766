/**
 * Issue 11 §3, modes: the server's files are 0600 and its folders 0700,
 * whatever the umask (the log's mode is tested with the log). Names, ids
 * and keys in `server.db` are all an impostor needs; stored files are their
 * owners' business.
 */

import assert from "node:assert/strict";
import { clientIdToHex, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { withServer } from "./support/test_server.ts";

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test({
  name: "modes: stored files and server.db* are 0600, the folders 0700",
  ignore: Deno.build.os === "windows",
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "server_modes_" });
    const dir = `${root}/data`; // created by the server
    try {
      await withServer(async ({ port }) => {
        using client = await RawClient.connect(port);
        const me = await signUp(client, "Private");
        await client.upload(me.clientId, me.aesKey, "p.txt", new TextEncoder().encode("mine"));
        await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "p.txt" });
        await client.expect(ResponseCode.Ack);
        const folder = `${dir}/received_files/${clientIdToHex(me.clientId)}`;
        for (const path of [dir, `${dir}/received_files`, folder]) {
          assert.equal((await mode(path)).toString(8), "700", path);
        }
        for (
          const path of [
            `${folder}/p.txt`,
            ...["", "-wal", "-shm"].map((s) => `${dir}/server.db${s}`),
          ]
        ) {
          assert.equal((await mode(path)).toString(8), "600", path);
        }
      }, { dir });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "modes: files and folders an older version stored 0644 and 0755 are made private at start-up",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "server_old_modes_" });
    try {
      const folder = `${dir}/received_files/${"ab".repeat(16)}`;
      await Deno.mkdir(folder, { recursive: true, mode: 0o755 });
      await Deno.chmod(folder, 0o755);
      await Deno.writeTextFile(`${folder}/old.txt`, "stored by an older version");
      await Deno.chmod(`${folder}/old.txt`, 0o644);
      await withServer(async () => {
        assert.equal((await mode(folder)).toString(8), "700");
        assert.equal((await mode(`${folder}/old.txt`)).toString(8), "600");
      }, { dir });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
