/**
 * The optional HTTP listener for load balancers and monitoring
 * (`--http HOST:PORT`, off by default). It serves only two reads, never any
 * data of the clients:
 *
 * | request         | answer                                                                  |
 * | --------------- | ----------------------------------------------------------------------- |
 * | `GET /healthz`  | 200 `ok` while the instance serves; 503 and the reason while it shuts down, or its registry or file store does not answer |
 * | `GET /metrics`  | 200, every metric in the Prometheus text format (`metrics.ts`)           |
 * | anything else   | 404 (405 for another method on those paths)                             |
 *
 * The health of the registry and the store is a cheap read of each (a
 * lookup of a client that cannot exist, a listing of its files), bounded by
 * {@linkcode HEALTH_TIMEOUT_MS}; a result is reused for
 * {@linkcode HEALTH_CACHE_MS}, so frequent checks from several balancers
 * cost the engines one probe a second at most.
 *
 * @example
 * ```ts ignore
 * await using http = await startHttpListener({ hostname: "127.0.0.1", port: 0 }, {
 *   metrics, health: () => Promise.resolve({ ok: true }),
 * });
 * console.log(http.port);
 * ```
 *
 * @module
 */

import { withDeadline } from "../../common/deadline.ts";
import { errorMessage } from "../../common/error_message.ts";
import { getLogger } from "@logtape/logtape";
import { ZERO_CLIENT_ID } from "../../protocol/mod.ts";
import { StartupError } from "../errors.ts";
import type { Storage } from "../storage/storage.ts";
import type { ServerMetrics } from "./metrics.ts";

/** How long the registry and the store may take to answer a health probe. */
export const HEALTH_TIMEOUT_MS = 2_000;
/** How long a health probe's result is reused. */
export const HEALTH_CACHE_MS = 1_000;

/** An instance's health: serving, or why not. */
export type Health = { ok: true } | { ok: false; reason: string };

/** What the listener answers from. */
export interface HttpSources {
  /** The metrics for `GET /metrics`. */
  metrics: ServerMetrics;
  /** The health for `GET /healthz`. */
  health(): Promise<Health>;
}

/** A running HTTP listener. */
export interface HttpListener extends AsyncDisposable {
  /** The address it listens on, `host:port`. */
  readonly address: string;
  /** The port actually bound. */
  readonly port: number;
  /** Stops it. */
  close(): Promise<void>;
}

/** `--http` could not be listened on: a start-up failure, one line. */
export class HttpListenError extends StartupError {
  /**
   * Creates the error.
   *
   * @param message `Cannot listen for health and metrics on <address>: <reason>`.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpListenError";
  }
}

/**
 * Listens on `hostname:port` (port 0: any free port, read back).
 *
 * @throws {HttpListenError} when the address cannot be listened on.
 */
export function startHttpListener(
  address: { hostname: string; port: number },
  sources: HttpSources,
): HttpListener {
  const logger = getLogger(["server", "http"]);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      onListen: () => {},
      onError: (error) => {
        logger.error("Cannot answer an HTTP request: {error}", { error });
        return new Response("internal error\n", { status: 500 });
      },
    }, (request) => answer(request, sources));
  } catch (error) {
    const where = `${
      address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
    }:${address.port}`;
    const reason = error instanceof Deno.errors.AddrInUse
      ? "the port is in use; choose another with --http HOST:PORT"
      : errorMessage(error);
    throw new HttpListenError(`Cannot listen for health and metrics on ${where}: ${reason}`, {
      cause: error,
    });
  }
  const bound = server.addr;
  const host = bound.hostname.includes(":") ? `[${bound.hostname}]` : bound.hostname;
  let closing: Promise<void> | undefined;
  const close = () => closing ??= server.shutdown();
  return {
    address: `${host}:${bound.port}`,
    port: bound.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function answer(request: Request, sources: HttpSources): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path !== "/healthz" && path !== "/metrics") {
    return new Response("not found: GET /healthz or /metrics\n", { status: 404 });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("only GET\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  if (path === "/metrics") {
    return new Response(await sources.metrics.text(), {
      headers: { "content-type": sources.metrics.contentType },
    });
  }
  const health = await sources.health();
  return new Response(health.ok ? "ok\n" : `unavailable: ${health.reason}\n`, {
    status: health.ok ? 200 : 503,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** `call`, or a `Deno.errors.TimedOut` naming `what` after {@linkcode HEALTH_TIMEOUT_MS}. */
function bounded<T>(what: string, call: Promise<T>): Promise<T> {
  return withDeadline(call, HEALTH_TIMEOUT_MS, {
    message: `${what} did not answer within ${HEALTH_TIMEOUT_MS / 1000} s`,
  });
}

/**
 * The health of an instance: not while `stopping()` says it shuts down, nor
 * while its registry or store fails a probe (see the module doc).
 */
export function healthOf(storage: Storage, stopping: () => boolean): () => Promise<Health> {
  let cached: { at: number; health: Promise<Health> } | undefined;
  const probe = async (): Promise<Health> => {
    try {
      await bounded("the registry", storage.registry.clientById(ZERO_CLIENT_ID));
    } catch (error) {
      return { ok: false, reason: `the registry: ${errorMessage(error)}` };
    }
    try {
      await bounded("the file store", storage.store.list(ZERO_CLIENT_ID));
    } catch (error) {
      return { ok: false, reason: `the file store: ${errorMessage(error)}` };
    }
    return { ok: true };
  };
  return () => {
    if (stopping()) return Promise.resolve({ ok: false, reason: "shutting down" });
    const now = Date.now();
    if (cached === undefined || now - cached.at >= HEALTH_CACHE_MS) {
      cached = { at: now, health: probe() };
    }
    return cached.health;
  };
}
