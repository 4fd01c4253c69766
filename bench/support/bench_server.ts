/**
 * A server for benchmarks that open many connections from 127.0.0.1: as
 * `server/main.ts`, but with the per-address cap raised to the connection cap
 * (one address here stands for many clients). Prints `listening on <port>`
 * once it listens; SIGTERM shuts it down.
 *
 * Run: `deno run --allow-net --allow-read --allow-write --v8-flags=--expose-gc
 * bench/support/bench_server.ts DIR`
 *
 * @module
 */

import { DEFAULT_MAX_CONNECTIONS, startServer } from "../../server/server.ts";

const dir = Deno.args[0];
if (dir === undefined) throw new TypeError("Cannot start: give the data folder");
const server = await startServer({
  dir,
  host: "127.0.0.1",
  port: 0,
  maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS,
});
Deno.addSignalListener("SIGTERM", () => server.close());
console.log(`listening on ${server.port}`);
await server.finished;
