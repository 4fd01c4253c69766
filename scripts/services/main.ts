/**
 * Starts throwaway engines by hand, for trying the scale-out setup: prints
 * the settings the server needs as `export` lines, runs until Ctrl-C or
 * SIGTERM, then stops everything and removes its folders.
 *
 * ```text
 * deno task services [postgres] [s3] [--haproxy PORT,PORT,...]
 * ```
 *
 * With no names, starts PostgreSQL and S3. `--haproxy` also starts HAProxy in
 * front of server instances already listening (or soon) on those ports.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startCeph } from "./ceph.ts";
import { ServiceError } from "./daemon.ts";
import { startHaproxy } from "./haproxy.ts";
import { startPostgres } from "./postgres.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { haproxy: { type: "string" }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
if (values.help) {
  console.log("Usage: deno task services [postgres] [s3] [--haproxy PORT,PORT,...]");
  Deno.exit(0);
}
const names = positionals.length === 0 ? ["postgres", "s3"] : positionals;
const stops: Array<() => Promise<void>> = [];
const stopAll = async () => {
  for (const stop of stops.reverse()) await stop();
};
try {
  for (const name of names) {
    if (name === "postgres") {
      const pg = await startPostgres();
      stops.push(pg.stop);
      console.log(`export FT_REGISTRY_URL=${pg.url}`);
    } else if (name === "s3") {
      const s3 = await startCeph({ bucket: "ft-files" });
      stops.push(s3.stop);
      console.log(`export FT_S3_ENDPOINT=${s3.endpoint}`);
      console.log(`export AWS_REGION=${s3.region}`);
      console.log(`export AWS_ACCESS_KEY_ID=${s3.accessKeyId}`);
      console.log(`export AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`);
      console.log(`export FT_STORE=s3://${s3.bucket}`);
    } else {
      throw new ServiceError(`Cannot start ${name}: not a service (postgres, s3)`);
    }
  }
  if (values.haproxy !== undefined) {
    const ports = values.haproxy.split(",").map(Number);
    if (ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65535)) {
      throw new ServiceError(`Cannot start HAProxy: ${values.haproxy} is not a list of ports`);
    }
    const lb = await startHaproxy(ports);
    stops.push(lb.stop);
    console.log(`# clients connect to 127.0.0.1:${lb.port}`);
  }
} catch (error) {
  await stopAll();
  console.error(error instanceof ServiceError ? error.message : error);
  Deno.exit(1);
}
console.log("# running; Ctrl-C stops everything");
const stopped = Promise.withResolvers<void>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stopped.resolve());
}
await stopped.promise;
await stopAll();
Deno.exit(0);
