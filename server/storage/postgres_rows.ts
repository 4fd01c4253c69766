/**
 * The PostgreSQL registry's rows as records: a row as the `postgres` driver
 * returns it (`bytea` as bytes, `bigint` as strings) turned into the
 * `Registry`'s record types (`registry.ts`).
 *
 * | table      | record          |
 * | ---------- | --------------- |
 * | `clients`  | `ClientRecord`  |
 * | `files`    | `FileRecord`    |
 * | `intents`  | `PendingCommit` |
 * | `partials` | `PartialUpload` |
 *
 * @module
 */

import type postgres from "postgres";
import {
  type ClientRecord,
  type FileRecord,
  type PartialUpload,
  type PendingCommit,
  storedDialect,
} from "./registry.ts";

type Row = postgres.Row;

/** A `partials` row. */
export function toPartial(row: Row): PartialUpload {
  return {
    clientId: new Uint8Array(row.client_id),
    fileName: row.file_name,
    stagingRef: row.staging_ref,
    size: Number(row.size),
    received: Number(row.received),
    prefixSha256: row.prefix_sha256 ?? null,
    prefixCrc: row.prefix_crc === null || row.prefix_crc === undefined
      ? null
      : Number(row.prefix_crc),
    instanceId: row.instance_id,
    keptAt: Number(row.kept_at),
  };
}

/** A `clients` row. */
export function toClient(row: Row): ClientRecord {
  return {
    id: new Uint8Array(row.id),
    name: row.name,
    publicKey: new Uint8Array(row.public_key),
    registeredAt: Number(row.registered_at),
    lastSeen: Number(row.last_seen),
    dialect: storedDialect(row.dialect),
  };
}

/** A `files` row (with `sha256` `null` in rows older than it). */
export function toFile(row: Row): FileRecord {
  return {
    clientId: new Uint8Array(row.client_id),
    fileName: row.file_name,
    location: row.location,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: row.sha256 ?? null,
    verified: row.verified,
    time: Number(row.time),
  };
}

/** An `intents` row. */
export function toIntent(row: Row): PendingCommit {
  return {
    id: String(row.id),
    clientId: new Uint8Array(row.client_id),
    fileName: row.file_name,
    location: row.location,
    stagingRef: row.staging_ref,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: row.sha256 ?? null,
    instanceId: row.instance_id,
  };
}
