/**
 * The server launcher the tests use: `harness/server_process.ts`, shared with
 * the benchmarks and soak runs.
 *
 * @module
 */

export { ServerProcess, type SpawnOptions } from "../../harness/server_process.ts";
