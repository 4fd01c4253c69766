/**
 * One bounded budget of memory for every upload's batch buffers, so that
 * hundreds of concurrent uploads cannot take the server's memory, while one
 * upload alone still reads in full 1 MiB batches.
 *
 * Each upload joins the budget ({@linkcode BufferBudget.join}) and asks for
 * each batch's memory before reading it ({@linkcode BudgetMember.acquire}),
 * giving it back once the batch is decrypted and written. A request is
 * granted:
 *
 * | situation                                   | granted                                    |
 * |---------------------------------------------|--------------------------------------------|
 * | the fair share is free                      | what was wanted, up to the fair share      |
 * | less is free, but at least the minimum      | what is free: a smaller batch              |
 * | not even the minimum is free                | nothing yet: it waits, first come first    |
 * |                                             | served, until enough is given back         |
 *
 * The fair share is the total divided by twice the number of members (an
 * upload reads one batch while it decrypts the previous one). Whatever
 * happens, the bytes granted never exceed the total.
 *
 * @example
 * ```ts
 * import { BufferBudget } from "./buffer_budget.ts";
 *
 * const budget = new BufferBudget(8 * 1024 * 1024);
 * using member = budget.join();
 * using grant = await member.acquire(1024 * 1024, 8192);
 * console.assert(grant.bytes === 1024 * 1024);
 * ```
 *
 * @module
 */

/** Default budget of a server: 64 MiB of batch buffers across all uploads. */
export const DEFAULT_UPLOAD_BUFFER_BUDGET = 64 * 1024 * 1024;

/** Memory granted by {@linkcode BudgetMember.acquire}; dispose or release it once. */
export interface BufferGrant extends Disposable {
  /** The bytes granted: at least the minimum asked for, at most what was wanted. */
  readonly bytes: number;
  /** Gives the bytes back; does nothing the second time. */
  release(): void;
}

/** An upload's membership of a {@linkcode BufferBudget}. */
export interface BudgetMember extends Disposable {
  /**
   * Resolves to a grant of between `minimum` and `wanted` bytes (see the
   * module documentation); waits while not even `minimum` is free.
   *
   * @throws {RangeError} if `minimum` is above `wanted` or above the total,
   * or the member has left.
   */
  acquire(wanted: number, minimum: number): Promise<BufferGrant>;
  /**
   * Leaves the budget, giving back what its grants still hold (an upload
   * that failed midway loses nothing); does nothing the second time.
   */
  leave(): void;
}

interface Waiter {
  wanted: number;
  minimum: number;
  onRelease: () => void;
  resolve: (grant: BufferGrant) => void;
}

/** A total of bytes shared by members, granted fairly, never exceeded. */
export class BufferBudget {
  readonly #total: number;
  #members = 0;
  #inUse = 0;
  #peak = 0;
  readonly #queue: Waiter[] = [];

  /**
   * @param total The bytes shared, at least 1.
   * @throws {RangeError} if `total` is not a positive integer.
   */
  constructor(total: number) {
    if (!Number.isSafeInteger(total) || total < 1) {
      throw new RangeError(`Cannot create a buffer budget of ${total} bytes`);
    }
    this.#total = total;
  }

  /** The bytes shared. */
  get total(): number {
    return this.#total;
  }

  /** The bytes granted and not yet given back. */
  get inUse(): number {
    return this.#inUse;
  }

  /** The most bytes ever granted at once: never above {@linkcode BufferBudget.total}. */
  get peak(): number {
    return this.#peak;
  }

  /** Members (uploads) sharing the budget now. */
  get members(): number {
    return this.#members;
  }

  /** Requests waiting for memory. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** The largest grant one request gets now: the total over twice the members. */
  get fairShare(): number {
    return Math.max(1, Math.floor(this.#total / (2 * Math.max(1, this.#members))));
  }

  /** Joins the budget: the fair share shrinks until the member leaves. */
  join(): BudgetMember {
    this.#members++;
    let left = false;
    const held = new Set<BufferGrant>();
    const leave = () => {
      if (left) return;
      left = true;
      this.#members--;
      for (const grant of held) grant.release();
      this.#serve(); // larger shares for the rest
    };
    return {
      acquire: async (wanted, minimum) => {
        if (left) throw new RangeError("Cannot acquire memory: the member left");
        const grant = await this.#acquire(wanted, minimum, () => held.delete(grant));
        if (left) grant.release();
        else held.add(grant);
        return grant;
      },
      leave,
      [Symbol.dispose]: leave,
    };
  }

  #acquire(wanted: number, minimum: number, onRelease: () => void): Promise<BufferGrant> {
    if (!(minimum >= 1 && minimum <= wanted && minimum <= this.#total)) {
      return Promise.reject(
        new RangeError(
          `Cannot acquire ${minimum} to ${wanted} bytes from a budget of ${this.#total}`,
        ),
      );
    }
    return new Promise((resolve) => {
      this.#queue.push({ wanted, minimum, onRelease, resolve });
      this.#serve();
    });
  }

  /** Grants what it can to the waiting requests, in order. */
  #serve(): void {
    while (this.#queue.length > 0) {
      const waiter = this.#queue[0]!;
      const free = this.#total - this.#inUse;
      if (free < waiter.minimum) return;
      this.#queue.shift();
      const bytes = Math.max(waiter.minimum, Math.min(waiter.wanted, this.fairShare, free));
      waiter.resolve(this.#grant(bytes, waiter.onRelease));
    }
  }

  #grant(bytes: number, onRelease: () => void): BufferGrant {
    this.#inUse += bytes;
    this.#peak = Math.max(this.#peak, this.#inUse);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#inUse -= bytes;
      onRelease();
      this.#serve();
    };
    return { bytes, release, [Symbol.dispose]: release };
  }
}
