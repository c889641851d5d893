import type { IntuneEBook } from './IntuneApi';

interface IntuneCatalogueReadsOptions {
  /** The tenant's ebooks, page by page (`IntuneApi.eBookPages`): one call is one read of the catalogue. */
  pages: () => AsyncIterable<readonly IntuneEBook[]>;
  /**
   * How long a read about to start waits for a sync that became busy (started, or got its books and is saving
   * them) this long ago at most, so that one read serves them all; a sync busy for longer is not waited for.
   */
  gatherMs: number;
}

interface CatalogueWait {
  signal?: AbortSignal | undefined;
  /** The token's books found so far, after every page of the read. */
  onPage?: ((booksSoFar: number) => void) | undefined;
}

/**
 * One token's sync as the catalogue reads see it, open from its start to its end whatever the outcome. While
 * it is open and not waiting for its books (still syncing with Intune, or saving the books it got, its caller
 * about to start the next token), it is busy: a read about to start waits for it, up to `gatherMs`.
 */
export interface CatalogueVisit {
  /**
   * The books of Intune's token `intuneTokenId`, from a read of the catalogue that starts after this call. Ask
   * only once Intune's sync of the token has completed: a read started earlier may show its books as they were
   * before, so it is never used, even if it is still under way. Asked once per visit.
   */
  books(intuneTokenId: string, wait?: CatalogueWait): Promise<IntuneEBook[]>;
  /** The sync is over (done, failed or stopped): no read waits for it any longer. Safe to call twice. */
  close(): void;
}

interface Waiter {
  tokenId: string;
  arrivedAt: number;
  books: IntuneEBook[];
  onPage: ((booksSoFar: number) => void) | undefined;
  settled: boolean;
  /** Called once, just before the promise settles: the visit is busy again (saving, or failing). */
  onSettled(): void;
  resolve(books: IntuneEBook[]): void;
  reject(err: unknown): void;
  /** Stops listening to the caller's signal. */
  detach(): void;
}

/**
 * Graph lists managedEBooks for the whole tenant and documents no filter by token, so each token's books come
 * from a read of every book in the tenant: a round of token syncs, each reading alone, costs tokens × pages.
 * This lets the syncs of one engine share reads, without ever giving a token a read that began before its
 * Intune sync had completed (that read may hold its books as they were before the sync):
 *
 * - a token asks for its books once Intune's sync is done, and gets them from the next read to start;
 * - one read at a time: tokens that ask while a read is under way get the one after it;
 * - the next read starts once no visit that became busy less than `gatherMs` ago is still busy (every sync is
 *   waiting for it, or the others are slow), and at the latest 2 × `gatherMs` after it could have started.
 *   A round syncs a few tokens at a time and starts the next as one ends, so the tokens a read serves save
 *   their books and come back together: waiting for them lets one read serve them all again instead of
 *   splitting them over two reads for good. A token Intune is slow with is waited for once, not by every read.
 *
 * A read keeps only the books of the tokens it serves. A failed read fails the syncs it serves, with Graph's
 * error, and is not kept: the next token to ask starts another. A caller whose signal aborts stops waiting;
 * the read goes on for the others, or stops once nobody waits for it.
 */
export class IntuneCatalogueReads {
  /** Open visits not waiting for a read, with when each became busy. */
  readonly #busy = new Map<object, number>();
  /** Tokens waiting for the next read to start. */
  #waiting: Waiter[] = [];
  #reading = false;
  #readEndedAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: IntuneCatalogueReadsOptions) {}

  visit(): CatalogueVisit {
    const self = {};
    let state: 'busy' | 'waiting' | 'closed' = 'busy';
    let asked = false;
    this.#busy.set(self, Date.now());
    const become = (next: typeof state): void => {
      if (next === 'busy') this.#busy.set(self, Date.now());
      else this.#busy.delete(self);
      state = next;
    };
    return {
      books: (intuneTokenId, wait = {}) => {
        if (state !== 'busy' || asked) return Promise.reject(new Error('a catalogue visit asks for its books once, while it is open'));
        asked = true;
        become('waiting');
        return this.#wait(intuneTokenId.toLowerCase(), wait, () => {
          if (state === 'waiting') become('busy');
        });
      },
      close: () => {
        if (state === 'closed') return;
        become('closed');
        this.#schedule();
      },
    };
  }

  #wait(tokenId: string, { signal, onPage }: CatalogueWait, onSettled: () => void): Promise<IntuneEBook[]> {
    return new Promise<IntuneEBook[]>((resolve, reject) => {
      if (signal?.aborted) {
        onSettled();
        reject(signal.reason as Error);
        return;
      }
      const onAbort = (): void => {
        if (waiter.settled) return;
        waiter.settled = true;
        // Not started yet: the read no longer waits for this token.
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        onSettled();
        reject(signal?.reason as Error);
        this.#schedule();
      };
      const waiter: Waiter = {
        tokenId,
        arrivedAt: Date.now(),
        books: [],
        onPage,
        settled: false,
        onSettled,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#schedule();
    });
  }

  /** Starts the next read if it is time, or looks again when it may be: see the class comment. */
  #schedule(): void {
    if (this.#reading || this.#waiting.length === 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { gatherMs } = this.options;
    const now = Date.now();
    let wait = 0;
    for (const since of this.#busy.values()) wait = Math.max(wait, since + gatherMs - now);
    const couldStart = Math.max(this.#waiting[0]?.arrivedAt ?? now, this.#readEndedAt);
    wait = Math.min(wait, couldStart + 2 * gatherMs - now);
    if (wait <= 0) {
      this.#start();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, wait);
    this.#timer.unref?.();
  }

  #start(): void {
    const batch = this.#waiting;
    this.#waiting = [];
    this.#reading = true;
    void this.#read(batch).finally(() => {
      this.#reading = false;
      this.#readEndedAt = Date.now();
      this.#schedule();
    });
  }

  async #read(batch: readonly Waiter[]): Promise<void> {
    const byToken = new Map<string, Waiter[]>();
    for (const waiter of batch) byToken.set(waiter.tokenId, [...(byToken.get(waiter.tokenId) ?? []), waiter]);
    const settle = (waiter: Waiter, outcome: { books: IntuneEBook[] } | { err: unknown }): void => {
      if (waiter.settled) return;
      waiter.settled = true;
      waiter.detach();
      waiter.onSettled();
      if ('books' in outcome) waiter.resolve(outcome.books);
      else waiter.reject(outcome.err);
    };
    try {
      for await (const page of this.options.pages()) {
        for (const book of page) {
          const waiters = book.vppTokenId ? byToken.get(book.vppTokenId.toLowerCase()) : undefined;
          for (const waiter of waiters ?? []) waiter.books.push(book);
        }
        for (const waiter of batch) {
          try {
            if (!waiter.settled) waiter.onPage?.(waiter.books.length);
          } catch {
            // A progress listener's fault is not the read's: the other tokens still get their books.
          }
        }
        // Everyone stopped waiting (leases lost, shutdown): the rest of the catalogue would be read for no one.
        if (batch.every((w) => w.settled)) return;
      }
      for (const waiter of batch) settle(waiter, { books: waiter.books });
    } catch (err) {
      for (const waiter of batch) settle(waiter, { err });
    }
  }
}
