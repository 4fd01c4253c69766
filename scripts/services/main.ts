/**
 * Starts throwaway engines by hand, for trying the scale-out setup on one
 * machine: PostgreSQL, S3 (Ceph's gateway) and HAProxy in front of server
 * instances, all on 127.0.0.1. Prints the settings as `export` lines and the
 * command that starts each instance (run in the repository's root, after
 * the exports), runs until Ctrl-C or SIGTERM, then stops everything and
 * removes its folders.
 *
 * ```text
 * deno task services [postgres] [s3] [haproxy] [--instances N] [--data PREFIX]
 * ```
 *
 * With no names, starts all three. HAProxy forwards each instance's plain
 * and secure ports (TLS passed through) and checks its `/healthz`; the
 * instances advertise the balancer's secure port (`--public-secure-port`),
 * so a client pins the balancer. `--data` is where the instances' folders
 * go: `PREFIX1`, `PREFIX2`, ... (default `.data-ft`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startCeph } from "./ceph.ts";
import { freePort, ServiceError } from "./daemon.ts";
import { startHaproxy } from "./haproxy.ts";
import { startPostgres } from "./postgres.ts";
import { serverRunCommand } from "../../server/cli/run_command.ts";

const USAGE = "Usage: deno task services [postgres] [s3] [haproxy] [--instances N] [--data PREFIX]";

/** The ports one instance is to listen on, chosen here so HAProxy can forward to them. */
interface InstancePorts {
  port: number;
  securePort: number;
  httpPort: number;
}

/** The command that starts instance `n`, with the `server` task's permissions for its folder. */
function instanceCommand(
  dir: string,
  ports: InstancePorts,
  publicSecurePort: number | undefined,
): string {
  return serverRunCommand("server/main.ts", dir, [
    "--host",
    "127.0.0.1",
    "--port",
    String(ports.port),
    "--secure-port",
    String(ports.securePort),
    ...(publicSecurePort === undefined ? [] : ["--public-secure-port", String(publicSecurePort)]),
    "--http",
    `127.0.0.1:${ports.httpPort}`,
    // Behind the balancer every connection comes from its address (README: Deployment).
    "--max-per-address",
    "256",
    "--registrations-per-address",
    "1000000",
  ]);
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    instances: { type: "string", default: "2" },
    data: { type: "string", default: ".data-ft" },
    help: { type: "boolean", short: "h" },
  },
  allowPositionals: true,
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const names = positionals.length === 0 ? ["postgres", "s3", "haproxy"] : positionals;
const count = Number(values.instances);
const stops: Array<() => Promise<void>> = [];
const stopAll = async () => {
  for (const stop of stops.reverse()) await stop();
};
try {
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    throw new ServiceError(`Cannot start ${values.instances} instances: give 1 to 16`);
  }
  for (const name of names) {
    if (!["postgres", "s3", "haproxy"].includes(name)) {
      throw new ServiceError(
        `Cannot start ${name}: not a service (postgres, s3, haproxy)\n${USAGE}`,
      );
    }
  }
  if (names.includes("postgres")) {
    const pg = await startPostgres();
    stops.push(pg.stop);
    console.log(`export FT_REGISTRY_URL=${pg.url}`);
  }
  if (names.includes("s3")) {
    const s3 = await startCeph({ bucket: "ft-files" });
    stops.push(s3.stop);
    console.log(`export FT_STORE=s3://${s3.bucket}`);
    console.log(`export FT_S3_ENDPOINT=${s3.endpoint}`);
    console.log(`export AWS_REGION=${s3.region}`);
    console.log(`export AWS_ACCESS_KEY_ID=${s3.accessKeyId}`);
    console.log(`export AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`);
  }
  const instances: InstancePorts[] = Array.from({ length: count }, () => ({
    port: freePort(),
    securePort: freePort(),
    httpPort: freePort(),
  }));
  let publicSecurePort: number | undefined;
  if (names.includes("haproxy")) {
    const lb = await startHaproxy(instances, { securePort: freePort() });
    stops.push(lb.stop);
    publicSecurePort = lb.securePort;
    console.log(
      `# HAProxy: clients connect to 127.0.0.1:${lb.port} (line 1 of transfer.info); it ` +
        `forwards that port and the secure port ${lb.securePort} to the instances`,
    );
  }
  console.log(
    `# start ${count === 1 ? "the instance" : `the ${count} instances`}, each in a terminal of ` +
      "its own, in the repository's root, after the export lines:",
  );
  instances.forEach((ports, i) => {
    console.log(instanceCommand(`${values.data}${i + 1}`, ports, publicSecurePort));
  });
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
