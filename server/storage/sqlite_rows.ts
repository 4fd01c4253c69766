/**
 * The SQLite registry's rows as records: a row as `node:sqlite` returns it
 * (BLOBs as `Uint8Array`, integers as numbers or bigints) turned into the
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

import {
  type ClientRecord,
  type FileRecord,
  type PartialUpload,
  type PendingCommit,
  storedDialect,
} from "./registry.ts";

/** A row, by column name. */
export type Row = Record<string, unknown>;

function bytes(value: unknown): Uint8Array {
  return new Uint8Array(value as Uint8Array);
}

/** A `clients` row. */
export function toClient(row: Row): ClientRecord {
  return {
    id: bytes(row.id),
    name: row.name as string,
    publicKey: bytes(row.public_key),
    registeredAt: Number(row.registered_at),
    lastSeen: Number(row.last_seen),
    dialect: storedDialect(row.dialect),
  };
}

/** A `files` row (with `sha256` `null` in rows older than it). */
export function toFile(row: Row): FileRecord {
  return {
    clientId: bytes(row.client_id),
    fileName: row.file_name as string,
    location: row.location as string,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: (row.sha256 ?? null) as string | null,
    verified: Number(row.verified) !== 0,
    time: Number(row.time),
  };
}

/** An `intents` row. */
export function toIntent(row: Row): PendingCommit {
  return {
    id: String(row.id),
    clientId: bytes(row.client_id),
    fileName: row.file_name as string,
    location: row.location as string,
    stagingRef: row.staging_ref as string,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: (row.sha256 ?? null) as string | null,
    instanceId: row.instance_id as string,
  };
}

/** A `partials` row. */
export function toPartial(row: Row): PartialUpload {
  return {
    clientId: bytes(row.client_id),
    fileName: row.file_name as string,
    stagingRef: row.staging_ref as string,
    size: Number(row.size),
    received: Number(row.received),
    prefixSha256: (row.prefix_sha256 ?? null) as string | null,
    prefixCrc: row.prefix_crc === null || row.prefix_crc === undefined
      ? null
      : Number(row.prefix_crc),
    instanceId: row.instance_id as string,
    keptAt: Number(row.kept_at),
  };
}
