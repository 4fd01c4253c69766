/**
 * What an instance exposes on `GET /metrics`, in the Prometheus text format
 * (written by `prom-client`, the Prometheus project's Node.js client, which
 * runs unchanged on Deno):
 *
 * | metric                                | type      | labels      | what                                                      |
 * | ------------------------------------- | --------- | ----------- | --------------------------------------------------------- |
 * | `ft_connections`                      | gauge     | `state`     | open connections: `signing_in`, `idle`, `uploading`       |
 * | `ft_uploads_in_progress`              | gauge     |             | uploads being received or awaiting the client's verdict    |
 * | `ft_upload_bytes_received_total`      | counter   |             | file bytes received and staged (the files' own bytes, decrypted), whether the upload is then stored or not |
 * | `ft_upload_bytes_stored_total`        | counter   |             | file bytes of the uploads stored (a resumed one's whole file) |
 * | `ft_uploads_stored_total`             | counter   |             | uploads confirmed and stored                              |
 * | `ft_uploads_refused_total`            | counter   | `reason`    | uploads not stored: `max_files`, `max_stored`, `cut_kept`, and each {@linkcode DiscardReason} |
 * | `ft_registrations_total`              | counter   | `outcome`   | keys recorded (`registered`), or refused (`name_taken`)   |
 * | `ft_upload_buffer_bytes`              | gauge     | `kind`      | the upload buffer budget: `in_use`, `limit`               |
 * | `ft_storage_seconds`                  | histogram | `operation` | time of each registry and file store call                 |
 *
 * The storage figures come from {@linkcode instrumentStorage}, a wrapper of
 * the instance's registry and file store: an upload is counted from its
 * staged file's start (`FileStore.begin`, or `resume` for a resumed one) to
 * its commit (stored), the record of its kept bytes after a cut (`cut_kept`:
 * `Registry.keepPartial`, for a resume) or its discard, whose `why` (`StagedFile.discard`) the session
 * gives: the content did not match, the client's 901 or 902, the verdict
 * deadline, the connection's end, a new upload in its place, a protocol
 * error, a store failure (`file_store.ts`, {@linkcode DiscardReason});
 * `max_files` and `max_stored` are commits the registry refused.
 * `name_taken` counts 826s that lost the name to another client a moment
 * earlier (a name already taken at 825 never reaches the registry's write).
 * Connections and the buffer budget are read when scraped.
 *
 * @example
 * ```ts ignore
 * const metrics = new ServerMetrics();
 * const storage = instrumentStorage(await openLocalStorage(".data"), metrics);
 * console.log(await metrics.text());
 * ```
 *
 * @module
 */

import client from "prom-client";
import type { DiscardReason, FileStore, StagedFile } from "../storage/file_store.ts";
import type { Registry } from "../storage/registry.ts";
import type { Storage } from "../storage/storage.ts";

/** Connection counts by state, as the server sees them when scraped. */
export type ConnectionStates = Record<"signing_in" | "idle" | "uploading", number>;

/** What the gauges read when scraped. */
export interface MetricSources {
  /** Open connections by state. */
  connections(): ConnectionStates;
  /** The upload buffer budget: bytes in use and the limit. */
  buffers(): { inUse: number; limit: number };
}

/** Why an upload was not stored (the `reason` label): a bounded set. */
export type RefusalReason = "max_files" | "max_stored" | "cut_kept" | DiscardReason;

/** Every value of the `reason` label, each exposed from the start (at 0). */
const REFUSAL_REASONS: readonly RefusalReason[] = [
  "max_files",
  "max_stored",
  "cut_kept",
  "content_mismatch",
  "client_retry",
  "client_abort",
  "verdict_timeout",
  "connection_ended",
  "superseded",
  "protocol_error",
  "storage_error",
];

/** Latency buckets in seconds: local disk and SQLite are sub-millisecond, S3 tens of ms. */
const STORAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** An instance's metrics. */
export class ServerMetrics {
  readonly #registry = new client.Registry();
  #sources: MetricSources | undefined;
  #inProgress = 0;
  readonly #bytes: client.Counter;
  readonly #storedBytes: client.Counter;
  readonly #stored: client.Counter;
  readonly #refused: client.Counter<"reason">;
  readonly #registrations: client.Counter<"outcome">;
  readonly #storage: client.Histogram<"operation">;

  /** Creates the metrics, all at zero. */
  constructor() {
    const registers = [this.#registry];
    // deno-lint-ignore no-this-alias
    const self = this;
    new client.Gauge({
      name: "ft_connections",
      help: "Open connections by state",
      labelNames: ["state"] as const,
      registers,
      collect() {
        const states = self.#sources?.connections() ??
          { signing_in: 0, idle: 0, uploading: 0 };
        for (const [state, count] of Object.entries(states)) this.set({ state }, count);
      },
    });
    new client.Gauge({
      name: "ft_uploads_in_progress",
      help: "Uploads being received or awaiting the client's verdict",
      registers,
      collect() {
        this.set(self.#inProgress);
      },
    });
    new client.Gauge({
      name: "ft_upload_buffer_bytes",
      help: "The upload buffer budget: bytes in use, and its limit",
      labelNames: ["kind"] as const,
      registers,
      collect() {
        const buffers = self.#sources?.buffers() ?? { inUse: 0, limit: 0 };
        this.set({ kind: "in_use" }, buffers.inUse);
        this.set({ kind: "limit" }, buffers.limit);
      },
    });
    this.#bytes = new client.Counter({
      name: "ft_upload_bytes_received_total",
      help: "File bytes received and staged, whether the upload was then stored or not",
      registers,
    });
    this.#storedBytes = new client.Counter({
      name: "ft_upload_bytes_stored_total",
      help: "File bytes of the uploads stored (a resumed upload's whole file)",
      registers,
    });
    this.#stored = new client.Counter({
      name: "ft_uploads_stored_total",
      help: "Uploads confirmed by their client and stored",
      registers,
    });
    this.#refused = new client.Counter({
      name: "ft_uploads_refused_total",
      help: "Uploads not stored, by reason",
      labelNames: ["reason"] as const,
      registers,
    });
    for (const reason of REFUSAL_REASONS) this.#refused.inc({ reason }, 0);
    this.#registrations = new client.Counter({
      name: "ft_registrations_total",
      help: "Public keys recorded (registered), or refused because the name was just taken",
      labelNames: ["outcome"] as const,
      registers,
    });
    this.#registrations.inc({ outcome: "registered" }, 0);
    this.#registrations.inc({ outcome: "name_taken" }, 0);
    this.#storage = new client.Histogram({
      name: "ft_storage_seconds",
      help: "Time of each registry and file store call",
      labelNames: ["operation"] as const,
      buckets: STORAGE_BUCKETS,
      registers,
    });
  }

  /** Where the gauges read connections and buffers (set once the server runs). */
  observe(sources: MetricSources): void {
    this.#sources = sources;
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Every metric, in the Prometheus text format. */
  async text(): Promise<string> {
    return await this.#registry.metrics();
  }

  /** Times `call` as storage operation `operation`. */
  async time<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const end = this.#storage.startTimer({ operation });
    try {
      return await call();
    } finally {
      end();
    }
  }

  /** An upload began staging. */
  uploadStarted(): void {
    this.#inProgress++;
  }

  /** An upload stopped staging: stored (with its size, if known), or not (with why). */
  uploadEnded(
    outcome: { stored: true; size: number | undefined } | { stored: false; reason: RefusalReason },
  ): void {
    this.#inProgress = Math.max(0, this.#inProgress - 1);
    if (outcome.stored) {
      this.#stored.inc();
      if (outcome.size !== undefined) this.#storedBytes.inc(outcome.size);
    } else this.#refused.inc({ reason: outcome.reason });
  }

  /** Bytes of a file were staged. */
  received(bytes: number): void {
    this.#bytes.inc(bytes);
  }

  /** A key was recorded, or refused because the name was taken a moment before. */
  registration(outcome: "registered" | "name_taken"): void {
    this.#registrations.inc({ outcome });
  }
}

/** Times every method of `target` that returns a promise, as `<prefix>.<method>`. */
function timed<T extends object>(
  target: T,
  prefix: string,
  metrics: ServerMetrics,
  wrap: Partial<Record<keyof T, (...args: never[]) => unknown>> = {},
): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property); // getters see the object: #fields
      if (typeof value !== "function") return value;
      const special = wrap[property as keyof T];
      if (special !== undefined) return special;
      return (...args: unknown[]) => {
        const result = value.apply(object, args);
        if (!(result instanceof Promise)) return result;
        return metrics.time(`${prefix}.${String(property)}`, () => result);
      };
    },
  });
}

/** What the registry said of a staged file's commit, by staging reference, until it ends. */
interface CommitNotes {
  /** The limit that refused its commit, if one did. */
  refusal(stagingRef: string): RefusalReason | undefined;
  /** The size its commit recorded, if it began one. */
  size(stagingRef: string): number | undefined;
  /**
   * It was suspended: `kept` ends it once the registry records what it kept
   * (`undefined`: it is discarded, nothing to wait for).
   */
  suspended(stagingRef: string, kept: (() => void) | undefined): void;
}

/**
 * A staged upload whose writes, commit, suspension and discard are counted
 * and timed; `notes` say why a discarded one was not stored when the
 * registry refused its commit (else the discard's `why`), and a stored
 * one's size.
 */
function instrumentStaged(
  staged: StagedFile,
  metrics: ServerMetrics,
  notes: CommitNotes,
): StagedFile {
  let ended = false;
  const end = (outcome: Parameters<ServerMetrics["uploadEnded"]>[0]) => {
    if (ended) return;
    ended = true;
    metrics.uploadEnded(outcome);
  };
  const fail = (error: unknown): never => {
    end({ stored: false, reason: "storage_error" });
    throw error;
  };
  return timed(staged, "staged", metrics, {
    write: async (bytes: Uint8Array) => {
      await metrics.time("staged.write", () => staged.write(bytes)).catch(fail);
      metrics.received(bytes.length);
    },
    commit: async () => {
      await metrics.time("staged.commit", () => staged.commit()).catch(fail);
      end({ stored: true, size: notes.size(staged.stagingRef) });
    },
    suspend: async () => {
      const kept = await metrics.time("staged.suspend", () => staged.suspend()).catch(fail);
      // Kept only once recorded (`Registry.keepPartial`); discarded instead if that fails.
      notes.suspended(staged.stagingRef, () => end({ stored: false, reason: "cut_kept" }));
      return kept;
    },
    discard: async (why?: DiscardReason) => {
      notes.suspended(staged.stagingRef, undefined);
      // A discard without a why is a refused commit's (commit.ts), or a store's own clean-up.
      const reason = notes.refusal(staged.stagingRef) ?? why ?? "storage_error";
      end({ stored: false, reason });
      await metrics.time("staged.discard", () => staged.discard(why));
    },
  });
}

/**
 * `storage` with every registry and file store call timed, and uploads and
 * registrations counted (see the module table). Closing it closes `storage`.
 */
export function instrumentStorage(storage: Storage, metrics: ServerMetrics): Storage {
  // Commits the registry refused, the sizes of those it began, and the suspended uploads
  // until their kept bytes are recorded, by staged file, until it ends.
  const refused = new Map<string, RefusalReason>();
  const sizes = new Map<string, number>();
  const suspended = new Map<string, () => void>();
  const take = <T>(map: Map<string, T>, stagingRef: string) => {
    const value = map.get(stagingRef);
    map.delete(stagingRef);
    return value;
  };
  const notes: CommitNotes = {
    refusal: (stagingRef) => {
      sizes.delete(stagingRef);
      return take(refused, stagingRef);
    },
    size: (stagingRef) => take(sizes, stagingRef),
    suspended: (stagingRef, kept) => {
      if (kept === undefined) suspended.delete(stagingRef);
      else suspended.set(stagingRef, kept);
    },
  };
  const registry = timed<Registry>(storage.registry, "registry", metrics, {
    addClient: async (client: Parameters<Registry["addClient"]>[0]) => {
      const added = await metrics.time(
        "registry.addClient",
        () => storage.registry.addClient(client),
      );
      metrics.registration(added ? "registered" : "name_taken");
      return added;
    },
    beginCommit: async (...args: Parameters<Registry["beginCommit"]>) => {
      const start = await metrics.time(
        "registry.beginCommit",
        () => storage.registry.beginCommit(...args),
      );
      if ("refused" in start) {
        refused.set(args[0].stagingRef, start.refused === "files" ? "max_files" : "max_stored");
      } else sizes.set(args[0].stagingRef, args[0].size);
      return start;
    },
    keepPartial: async (...args: Parameters<Registry["keepPartial"]>) => {
      const replaced = await metrics.time(
        "registry.keepPartial",
        () => storage.registry.keepPartial(...args),
      );
      take(suspended, args[0].stagingRef)?.();
      return replaced;
    },
  });
  const store = timed<FileStore>(storage.store, "store", metrics, {
    begin: async (...args: Parameters<FileStore["begin"]>) => {
      const staged = await metrics.time("store.begin", () => storage.store.begin(...args));
      metrics.uploadStarted();
      return instrumentStaged(staged, metrics, notes);
    },
    resume: async (...args: Parameters<FileStore["resume"]>) => {
      const staged = await metrics.time("store.resume", () => storage.store.resume(...args));
      metrics.uploadStarted();
      return instrumentStaged(staged, metrics, notes);
    },
  });
  return { registry, store, close: () => storage.close() };
}
