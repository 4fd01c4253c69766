/**
 * The `postgres` driver's options for the registry: every one given, so the
 * driver reads no `PG*` environment variable and no OS user name.
 *
 * @module
 */

import type postgres from "postgres";

/**
 * The driver's options, every one given: the driver would otherwise read
 * `PG*` environment variables (and the OS user name) for each one missing,
 * which the server is not allowed to (only `PGAPPNAME` is read regardless).
 */
export function driverOptions(url: string, max: number): postgres.Options<Record<string, never>> {
  let password = "";
  let user = "postgres";
  let query = new URLSearchParams();
  try {
    const parsed = new URL(url);
    password = decodeURIComponent(parsed.password);
    if (parsed.username !== "") user = decodeURIComponent(parsed.username);
    query = parsed.searchParams;
  } catch {
    // The driver reports an unparsable URL itself.
  }
  const settings: Record<string, unknown> = {
    max,
    ssl: false,
    sslnegotiation: null,
    idle_timeout: 0,
    connect_timeout: 10,
    max_lifetime: null,
    max_pipeline: 100,
    backoff: (retries: number) => Math.min(0.1 * 2 ** retries, 5),
    keep_alive: 60,
    prepare: true,
    debug: false,
    fetch_types: true,
    publications: "alltables",
  };
  // What the URL says (`?sslmode=require`, ...) wins over these defaults.
  if (query.has("sslmode")) delete settings.ssl;
  for (const key of query.keys()) delete settings[key];
  return {
    ...settings,
    user,
    pass: () => password,
    target_session_attrs: "read-write",
    onnotice: () => {},
    connection: { application_name: "file-transfer-server" },
  } as postgres.Options<Record<string, never>>;
}
