/**
 * `deno task test:fast`: the tests that take seconds, for the edit-test
 * loop: the codecs, the server and the client in process, the golden
 * replays. It runs `deno test` with exactly the flags of the `test` task
 * (read from deno.json, so the two never drift apart) on the files of
 * {@linkcode FAST_TESTS}; arguments are passed on (`--filter golden`).
 *
 * ```text
 * deno task test:fast [deno test options]
 * ```
 *
 * `deno task test` stays the whole suite: it runs the folder `tests/`, so a
 * file is never left out of it, whatever this list says; a test checks that
 * the task still names the whole folder and that every file listed here
 * exists (`tests/scripts_test_fast_test.ts`). Not listed: the engines
 * (PostgreSQL, Ceph, HAProxy), compiling, the programs started as processes
 * (but for the client's reference replays), floods, fuzzing and the large
 * transfers.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "./permissions.ts";

/** The deadline of each fast test (see `tests/support/test_deadline.ts`). */
export const FAST_TEST_DEADLINE_MS = 60_000;

/** The folder the `test` task runs. */
export const TEST_FOLDER = "tests/";

/** The fast test files, relative to the repository root, in order. */
export const FAST_TESTS: readonly string[] = [
  "tests/client_error_report_test.ts",
  "tests/client_identity_store_test.ts",
  "tests/client_known_servers_test.ts",
  "tests/client_progress_test.ts",
  "tests/client_reference_replay_test.ts",
  "tests/client_tls_discovery_test.ts",
  "tests/client_tls_policy_test.ts",
  "tests/client_transfer_info_test.ts",
  "tests/client_upload_stream_test.ts",
  "tests/common_helpers_test.ts",
  "tests/common_periodic_test.ts",
  "tests/common_watchdog_test.ts",
  "tests/protocol_aes_cbc_test.ts",
  "tests/protocol_cksum_test.ts",
  "tests/protocol_codecs_test.ts",
  "tests/protocol_dialect_captures_test.ts",
  "tests/protocol_dialect_codecs_test.ts",
  "tests/protocol_exact_reader_test.ts",
  "tests/protocol_frames_test.ts",
  "tests/protocol_golden_sessions_test.ts",
  "tests/protocol_identity_test.ts",
  "tests/protocol_io_helpers_test.ts",
  "tests/protocol_mod_exports_test.ts",
  "tests/protocol_packet_codec_test.ts",
  "tests/protocol_padded_content_test.ts",
  "tests/protocol_release_buffer_test.ts",
  "tests/protocol_retrieval_codecs_test.ts",
  "tests/protocol_secure_mode_codecs_test.ts",
  "tests/protocol_transfers_codecs_test.ts",
  "tests/reliability_server_boundaries_test.ts",
  "tests/scripts_test_fast_test.ts",
  "tests/server_batch_buffers_test.ts",
  "tests/server_buffer_budget_test.ts",
  "tests/server_command_line_test.ts",
  "tests/server_concurrency_test.ts",
  "tests/server_connection_test.ts",
  "tests/server_deadlines_test.ts",
  "tests/server_decryption_oracle_test.ts",
  "tests/server_deployment_identity_test.ts",
  "tests/server_dialect_upload_test.ts",
  "tests/server_file_modes_test.ts",
  "tests/server_file_names_test.ts",
  "tests/server_file_store_local_test.ts",
  "tests/server_golden_replay_test.ts",
  "tests/server_hostile_input_test.ts",
  "tests/server_logging_test.ts",
  "tests/server_metrics_resumed_uploads_test.ts",
  "tests/server_protocol_test.ts",
  "tests/server_quota_test.ts",
  "tests/server_registry_sqlite_test.ts",
  "tests/server_relay_buffers_test.ts",
  "tests/server_request_table_test.ts",
  "tests/server_same_name_race_test.ts",
  "tests/server_tls_identity_test.ts",
  "tests/server_tls_proof_gate_test.ts",
  "tests/server_upload_life_test.ts",
  "tests/server_upload_memory_test.ts",
  "tests/server_upload_test.ts",
  "tests/support_test_deadline_test.ts",
  "tests/transfer_send_at_refusal_releases_reservation_test.ts",
  "tests/transfer_whole_upload_supersedes_kept_partial_test.ts",
];

/**
 * The words of the `test` task after `deno test` and before the folder it
 * runs: its permission and other flags.
 *
 * @throws {SyntaxError} when deno.json has no `test` task of the form
 * `deno test [flags] tests/`.
 *
 * @example
 * ```ts
 * import { testTaskFlags } from "./test_fast.ts";
 * const json = JSON.stringify({ tasks: { test: "deno test --allow-net tests/" } });
 * console.assert(testTaskFlags(json).join(" ") === "--allow-net");
 * ```
 */
export function testTaskFlags(denoJsonText: string): string[] {
  const task = (JSON.parse(denoJsonText) as { tasks?: Record<string, string> }).tasks?.test;
  const words = task?.trim().split(/\s+/) ?? [];
  if (words[0] !== "deno" || words[1] !== "test" || words.at(-1) !== TEST_FOLDER) {
    throw new SyntaxError(
      `Cannot read the test task: expected "deno test [flags] ${TEST_FOLDER}", got ` +
        JSON.stringify(task ?? null),
    );
  }
  return words.slice(2, -1);
}

/** The arguments after `deno` that run the fast tests, with `extra` passed on. */
export function fastTestArgs(denoJsonText: string, extra: readonly string[] = []): string[] {
  return ["test", ...testTaskFlags(denoJsonText), ...extra, ...FAST_TESTS];
}

if (import.meta.main) {
  const args = fastTestArgs(await Deno.readTextFile(join(ROOT, "deno.json")), Deno.args);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    // Each of these tests takes seconds: one that hangs fails within a minute.
    env: { FT_TEST_DEADLINE_MS: String(FAST_TEST_DEADLINE_MS) },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  Deno.exit((await child.status).code);
}
