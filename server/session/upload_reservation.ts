/**
 * A connection's reservation of an upload's declared size against its
 * client's limits (`admission` in `server/upload/commit.ts`): taken when an
 * upload is announced, at most one per connection (a new one releases the
 * last), released when the upload ends, is refused, or the connection ends.
 * The token held is in `CommitOptions.heldReservations` meanwhile, so the
 * running sweep (`storage/staged_sweep.ts`) drops only the reservations no
 * connection holds (a release that failed).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { ClientId } from "../../protocol/mod.ts";
import { admission, type CommitOptions } from "../upload/commit.ts";

/** The reservation one connection holds, if any. */
export class UploadReservation {
  readonly #commit: CommitOptions;
  readonly #logger: () => Logger;
  /** The reservation token while one is held. */
  #token: string | undefined;

  /**
   * Reserves through `commit`'s registry, under its limits.
   *
   * @param commit The registry, limits and instance id uploads commit with.
   * @param logger The connection's logger (it changes when a client signs in).
   */
  constructor(commit: CommitOptions, logger: () => Logger) {
    this.#commit = commit;
    this.#logger = logger;
  }

  /** The token of the reservation held, if any. */
  get token(): string | undefined {
    return this.#token;
  }

  /**
   * Releases the last reservation, then reserves `size` bytes for
   * `fileName` (`takesPartial`: see `Reservation.takesPartial`); returns why
   * it is refused, or `undefined` when it is held.
   */
  async reserve(
    clientId: ClientId,
    fileName: string,
    size: number,
    takesPartial = false,
  ): Promise<string | undefined> {
    await this.release();
    const token = crypto.randomUUID();
    const refused = await admission(this.#commit, token, clientId, fileName, size, takesPartial);
    if (refused === undefined) {
      this.#token = token;
      this.#commit.heldReservations?.add(token);
    }
    return refused;
  }

  /** Releases the reservation, if one is held; a failure is logged, not thrown. */
  async release(): Promise<void> {
    const token = this.#token;
    if (token === undefined) return;
    this.#token = undefined;
    // Not held any more, whatever the registry says: if the release fails, the sweep drops it.
    this.#commit.heldReservations?.delete(token);
    await this.#commit.registry.release(token).catch((error) => {
      this.#logger().error("Cannot release the upload's reservation: {error}", { error });
    });
  }
}
