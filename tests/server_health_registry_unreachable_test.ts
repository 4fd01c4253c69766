/**
 * `GET /healthz` answers 503 while the instance's registry does not answer
 * (`server/observe/http_listener.ts`), so a balancer takes the instance out:
 * a registry whose probe fails, one that hangs past the probe's bound (then
 * 200 again once it answers), and a real server process whose PostgreSQL
 * database stops.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  HEALTH_CACHE_MS,
  HEALTH_TIMEOUT_MS,
  healthOf,
  startHttpListener,
} from "../server/observe/http_listener.ts";
import { ServerMetrics } from "../server/observe/metrics.ts";
import type { Registry } from "../server/storage/registry.ts";
import { openLocalStorage, type Storage } from "../server/storage/storage.ts";
import { waitUntil, within } from "./support/reliability.ts";
import { ServerProcess } from "./support/server_process.ts";
import { ignoreWithoutServices, type PostgresService, startPostgres } from "./support/services.ts";

async function get(address: string, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, text: await response.text() };
}

/** `storage` whose registry's lookups do what `clientById` says instead. */
function withLookup(storage: Storage, clientById: Registry["clientById"]): Storage {
  const registry = new Proxy(storage.registry, {
    get(target, property) {
      if (property === "clientById") return clientById;
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...storage, registry };
}

Deno.test("healthz is 503 while the registry fails its probe or does not answer within the bound, and 200 once it answers again", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "health_registry_" });
  const storage = await openLocalStorage(dir);
  let mode: "up" | "failing" | "hanging" = "up";
  const hung: Array<() => void> = [];
  const lookup: Registry["clientById"] = (id) => {
    if (mode === "failing") {
      return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
    }
    if (mode === "hanging") {
      return new Promise((resolve) => hung.push(() => resolve(undefined)));
    }
    return storage.registry.clientById(id);
  };
  const health = healthOf(withLookup(storage, lookup), () => false);
  const http = startHttpListener({ hostname: "127.0.0.1", port: 0 }, {
    metrics: new ServerMetrics(),
    health,
  });
  try {
    await t.step("answering: 200", async () => {
      assert.deepEqual(await get(http.address, "/healthz"), { status: 200, text: "ok\n" });
    });
    await t.step("failing: 503 with the registry's error", async () => {
      mode = "failing";
      let answer = { status: 0, text: "" };
      await waitUntil("a 503 (past the cached result)", async () => {
        answer = await get(http.address, "/healthz");
        return answer.status === 503;
      });
      assert.equal(answer.text, "unavailable: the registry: connect ECONNREFUSED 127.0.0.1:5432\n");
    });
    await t.step("hanging: 503 once the probe's bound passes", async () => {
      mode = "hanging";
      await new Promise((resolve) => setTimeout(resolve, HEALTH_CACHE_MS));
      const answer = await within(
        "the bounded probe",
        get(http.address, "/healthz"),
        HEALTH_TIMEOUT_MS + 5_000,
      );
      assert.deepEqual(answer, {
        status: 503,
        text: `unavailable: the registry: the registry did not answer within ${
          HEALTH_TIMEOUT_MS / 1000
        } s\n`,
      });
    });
    await t.step("answering again: 200", async () => {
      mode = "up";
      for (const resolve of hung.splice(0)) resolve();
      await waitUntil(
        "a 200 again",
        async () => (await get(http.address, "/healthz")).status === 200,
      );
    });
  } finally {
    for (const resolve of hung.splice(0)) resolve();
    await http.close();
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "server --http on PostgreSQL: healthz is 503 once the database stops",
  ignore: ignoreWithoutServices("healthz with PostgreSQL stopped", ["postgres"]),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "health_postgres_" });
    let pg: PostgresService | undefined;
    let server: ServerProcess | undefined;
    try {
      pg = await startPostgres();
      const registryUrl = await pg.createDatabase("health");
      server = await ServerProcess.start(dir, [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--http",
        "127.0.0.1:0",
        "--registry",
        registryUrl,
      ]);
      const line = /Health on http:\/\/(\S+)\/healthz/;
      await waitUntil("the health listener's log line", () => line.test(server!.stderr));
      const http = line.exec(server.stderr)![1]!;
      assert.deepEqual(await get(http, "/healthz"), { status: 200, text: "ok\n" });

      await pg.stop();
      pg = undefined;
      let answer = { status: 0, text: "" };
      await waitUntil("a 503 for the registry", async () => {
        answer = await get(http, "/healthz");
        return answer.status === 503;
      });
      assert.match(answer.text, /^unavailable: the registry: /);
    } finally {
      await server?.stop();
      await pg?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
