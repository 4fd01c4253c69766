/**
 * The upload metrics (`server/observe/metrics.ts`) follow a cut upload kept
 * for a resume and its resume (853): the cut one leaves the uploads in
 * progress, counted as not stored for `cut_kept`; the resumed one is counted
 * in progress, then stored, with its whole file's bytes; a cut upload whose
 * kept bytes the registry could not record counts as a storage error, not
 * as kept. Before, a cut upload stayed "in progress" for ever, and a resumed
 * upload (its staged file reopened by `FileStore.resume`, not begun) was
 * never counted at all.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cksum, encodeFileNameField, RequestCode, ResponseCode } from "../protocol/mod.ts";
import {
  encodeSendAtRequest,
  SEND_AT_RESPONSE_CODE,
  SEND_AT_RESPONSE_SIZE,
} from "../protocol/transfers.ts";
import { buildPackets, encryptContent, randomBytes, uploadBytes } from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { instrumentStorage, ServerMetrics } from "../server/observe/metrics.ts";
import { openLocalStorage } from "../server/storage/storage.ts";
import { withServer } from "./support/test_server.ts";
import { waitUntil, within } from "./support/reliability.ts";
import { signInAgain, signUpSecurely } from "./support/secure_client.ts";

const SIZE = 4 * 1024 * 1024;

/** The value of one sample (`name{labels}`) in a scrape, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("metrics: a cut upload kept for a resume is no longer in progress (cut_kept), and its resume is counted in progress, then stored with its whole size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metrics_resumed_" });
  const metrics = new ServerMetrics();
  const inner = await openLocalStorage(dir);
  const storage = instrumentStorage(inner, metrics);
  try {
    await withServer(async (test) => {
      const signed = await signUpSecurely(test, "Resumer");
      const { clientId } = signed.identity;
      const data = randomBytes(SIZE);
      const wire = await uploadBytes({ clientId, aesKey: null }, "cut.bin", data);
      await signed.client.send(wire.subarray(0, Math.round(wire.length * 0.75)));
      signed.client.close();
      let received = 0;
      await waitUntil("the cut upload kept", async () => {
        const partial = (await inner.registry.listPartials()).find((p) => p.fileName === "cut.bin");
        received = partial?.received ?? 0;
        return received > 0;
      });
      let text = "";
      await waitUntil("the cut upload counted", async () => {
        text = await metrics.text();
        return sample(text, 'ft_uploads_refused_total{reason="cut_kept"}') === 1;
      });
      assert.equal(sample(text, "ft_uploads_in_progress"), 0, text);

      // The resume: 853 at the kept length, then the rest; it awaits its verdict.
      using client = await signInAgain(test, signed);
      const prefix = new Uint8Array(
        await crypto.subtle.digest("SHA-256", data.slice(0, received)),
      );
      await client.send(encodeSendAtRequest(clientId, {
        size: SIZE,
        offset: received,
        prefixSha256: prefix,
        path: "cut.bin",
      }));
      const goAhead = await within(
        "the 1653",
        client.readFrame((code) =>
          code === SEND_AT_RESPONSE_CODE ? SEND_AT_RESPONSE_SIZE : undefined
        ),
        10_000,
      );
      assert.equal(goAhead?.code, SEND_AT_RESPONSE_CODE);
      const rest = data.subarray(received);
      const content = await encryptContent(null, rest, cksum(data));
      await client.send(concat(buildPackets(content, rest.length, encodeFileNameField("cut.bin"))));
      await within("the 1603", client.expect(ResponseCode.FileReceived), 30_000);
      assert.equal(sample(await metrics.text(), "ft_uploads_in_progress"), 1);
      await client.request(clientId, { code: RequestCode.CrcOk, fileName: "cut.bin" });
      await within("the 1604", client.expect(ResponseCode.Ack), 10_000);

      text = await metrics.text();
      assert.equal(sample(text, "ft_uploads_in_progress"), 0, text);
      assert.equal(sample(text, "ft_uploads_stored_total"), 1, text);
      assert.equal(sample(text, "ft_upload_bytes_stored_total"), SIZE, text);
    }, { dir, storage });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics: a cut upload whose kept bytes the registry could not record counts as a storage error, not as kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metrics_cut_failed_" });
  const metrics = new ServerMetrics();
  const inner = await openLocalStorage(dir);
  const registry = new Proxy(inner.registry, {
    get(target, property) {
      if (property === "keepPartial") {
        return () => Promise.reject(new Error("the registry is gone"));
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const storage = instrumentStorage({ ...inner, registry }, metrics);
  try {
    await withServer(async (test) => {
      const signed = await signUpSecurely(test, "Unkept");
      const { clientId } = signed.identity;
      const wire = await uploadBytes({ clientId, aesKey: null }, "cut.bin", randomBytes(SIZE));
      await signed.client.send(wire.subarray(0, Math.round(wire.length * 0.75)));
      signed.client.close();
      let text = "";
      await waitUntil("the cut upload counted", async () => {
        text = await metrics.text();
        const ended = ["storage_error", "cut_kept", "connection_ended"].map((reason) =>
          sample(text, `ft_uploads_refused_total{reason="${reason}"}`) ?? 0
        );
        return ended.reduce((a, b) => a + b) > 0;
      });
      assert.equal(sample(text, "ft_uploads_in_progress"), 0, text);
      assert.equal(sample(text, 'ft_uploads_refused_total{reason="storage_error"}'), 1, text);
      assert.equal(sample(text, 'ft_uploads_refused_total{reason="cut_kept"}'), 0, text);
      assert.deepEqual(await inner.registry.listPartials(), []);
    }, { dir, storage });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
