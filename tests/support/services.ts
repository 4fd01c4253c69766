/**
 * Real engines for the scale-out tests: PostgreSQL, Ceph's S3 gateway and
 * HAProxy, started by `scripts/services/` on 127.0.0.1 in temporary folders.
 *
 * Where their Debian packages are missing, a test that needs them is
 * reported as ignored, with the reason printed; under `CI=true` it runs
 * anyway and fails, saying which package is missing (`.ci/run` installs them).
 *
 * @module
 */

import { CEPH_PROGRAMS } from "../../scripts/services/ceph.ts";
import { findProgram } from "../../scripts/services/daemon.ts";
import { HAPROXY_PROGRAMS } from "../../scripts/services/haproxy.ts";
import { POSTGRES_PROGRAMS } from "../../scripts/services/postgres.ts";

export { startCeph } from "../../scripts/services/ceph.ts";
export type { S3Service } from "../../scripts/services/ceph.ts";
export { startHaproxy } from "../../scripts/services/haproxy.ts";
export type { HaproxyService } from "../../scripts/services/haproxy.ts";
export { startPostgres } from "../../scripts/services/postgres.ts";
export type { PostgresService } from "../../scripts/services/postgres.ts";

/** An engine a test may need. */
export type ServiceName = "postgres" | "s3" | "haproxy";

const PROGRAMS: Record<ServiceName, readonly (readonly [string, string])[]> = {
  postgres: POSTGRES_PROGRAMS,
  s3: CEPH_PROGRAMS,
  haproxy: HAPROXY_PROGRAMS,
};

/** The programs of `services` that are not installed, as `program (package)`. */
export function missingPrograms(services: readonly ServiceName[]): string[] {
  const missing: string[] = [];
  for (const service of services) {
    for (const [program, pkg] of PROGRAMS[service]) {
      if (findProgram(program) === undefined) missing.push(`${program} (${pkg})`);
    }
  }
  return missing;
}

/**
 * Whether a test named `what` that needs `services` must be ignored here:
 * true (with the reason printed) when a program is missing and `CI` is not
 * `true`. Under CI it always runs, and fails if something is missing.
 */
export function ignoreWithoutServices(what: string, services: readonly ServiceName[]): boolean {
  const missing = missingPrograms(services);
  if (missing.length === 0) return false;
  if (Deno.env.get("CI") === "true") return false;
  console.log(
    `ignored '${what}': needs ${services.join(", ")}; missing ${missing.join(", ")} ` +
      "(Debian packages; .ci/run installs them)",
  );
  return true;
}
