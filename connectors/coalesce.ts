// Cross-lead batching for every CRM adapter: calls of one kind (a contact update, a note create …)
// made by many jobs at once go out as one batch request, and only while there is a backlog.
//
// The rule is "one request of a kind in flight per process": an item submitted while none is in
// flight goes out at once (a lone handoff waits for nothing); items submitted while one is in flight
// — waiting for the rate budget or for the CRM's answer — gather and go out together as soon as it
// returns, up to `max` per request. Under a burst the batches therefore grow by themselves to what
// the CRM's round trip and rate limit let through. With `fill`, a request of gathered items also
// waits while more keep coming: what the jobs produce in one round trip is far less than `max`
// when they compute on one thread, and every request it saves is rate budget for the rest. The
// backlog's first request of gathered items does not wait: it carries the burst's first leads.

/** One item's outcome in a batch answer: its result, or the error that is that item's alone. */
export type ItemOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface CoalescerOptions<I, O> {
  /** Most items per request (HubSpot batch endpoints: 100; Salesforce collections: 200). */
  max: number;
  /**
   * Sends one batch and answers one outcome per item, in the items' order. A throw fails every item
   * of the batch with that error (the request as a whole failed: network, 429, a refused batch).
   */
  send: (items: I[]) => Promise<ItemOutcome<O>[]>;
  /**
   * Items with the same key never share a request (HubSpot refuses duplicate ids in one batch): a
   * second one waits for the next batch.
   */
  keyOf?: (item: I) => string;
  /** Requests of this kind in flight at once in this process; 1 unless given. */
  maxInFlight?: number;
  /**
   * Only under a backlog (items gathered while a request was in flight): after its first request of
   * gathered items, which goes as soon as it may, each request waits for more while they keep coming,
   * and goes once `max` wait, none joined for `quietMs`, or `maxMs` after it could have gone. The
   * backlog lasts until no request of it ended for `maxMs`: the jobs upstream of a burst pause
   * while they wait for round trips of their own, and an item of such a pause still waits to fill.
   * A lone item still goes at once. Unset: each goes as soon as it may.
   */
  fill?: { quietMs: number; maxMs: number };
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<I, O> {
  private waiting: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Some waiting item joined while a request was in flight: the batch may wait to fill (`fill`). */
  private gathered = false;
  /** The backlog's first request of gathered items has gone: the next ones wait to fill. */
  private filling = false;
  /** When a request of the backlog last ended (`fill`); undefined without a backlog. */
  private backlogAt: number | undefined;
  private lastJoinedAt = 0;
  /** When the request lingering for `fill` could have gone. */
  private lingeringSince: number | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CoalescerOptions<I, O>) {}

  /** Resolves with this item's result, or rejects with its own error or the batch's. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      const now = performance.now();
      this.lastJoinedAt = now;
      if (this.inFlight >= this.limit || this.inBacklog(now)) this.gathered = true;
      else if (!this.gathered) {
        this.filling = false;
        this.backlogAt = undefined;
      }
      this.schedule();
    });
  }

  /** Items waiting for a request, for metrics and tests. */
  get backlog(): number {
    return this.waiting.length;
  }

  /**
   * A microtask's delay lets items submitted in the same turn (Promise.all of several jobs' calls)
   * share the first request without any wait on the clock.
   */
  private get limit(): number {
    return this.opts.maxInFlight ?? 1;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.limit) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** A request of the backlog ended less than `fill.maxMs` ago. */
  private inBacklog(now: number): boolean {
    const { fill } = this.opts;
    return fill !== undefined && this.backlogAt !== undefined && now - this.backlogAt < fill.maxMs;
  }

  private flush(): void {
    if (this.waiting.length === 0 || this.inFlight >= this.limit || this.lingering()) return;
    const ofBacklog = this.gathered;
    const batch = this.take();
    if (ofBacklog) this.filling = true;
    this.inFlight++;
    void this.send(batch).finally(() => {
      this.inFlight--;
      if (ofBacklog) this.backlogAt = performance.now();
      this.schedule();
    });
  }

  /** Whether the next request waits to fill (`fill`); if so, a timer flushes when it is due. */
  private lingering(): boolean {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const { fill, max } = this.opts;
    if (!fill || !this.gathered || !this.filling || this.waiting.length >= max) {
      this.lingeringSince = undefined;
      return false;
    }
    const now = performance.now();
    this.lingeringSince ??= now;
    const due = Math.min(this.lastJoinedAt + fill.quietMs, this.lingeringSince + fill.maxMs);
    if (due <= now) {
      this.lingeringSince = undefined;
      return false;
    }
    this.lingerTimer = setTimeout(() => this.flush(), due - now);
    return true;
  }

  /** Up to `max` waiting items in arrival order, no key twice; the rest keep their places. */
  private take(): Waiting<I, O>[] {
    const { keyOf, max } = this.opts;
    const batch: Waiting<I, O>[] = [];
    const rest: Waiting<I, O>[] = [];
    const keys = new Set<string>();
    for (const entry of this.waiting) {
      const key = keyOf?.(entry.item);
      if (batch.length >= max || (key !== undefined && keys.has(key))) {
        rest.push(entry);
        continue;
      }
      if (key !== undefined) keys.add(key);
      batch.push(entry);
    }
    this.waiting = rest;
    // What is left over gathered meanwhile too; once all went, the next item may be a lone one.
    if (rest.length === 0) this.gathered = false;
    return batch;
  }

  private async send(batch: Waiting<I, O>[]): Promise<void> {
    let outcomes: ItemOutcome<O>[];
    try {
      outcomes = await this.opts.send(batch.map((w) => w.item));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    // An answer that does not line up with the batch cannot be trusted for any item.
    if (outcomes.length !== batch.length) {
      const err = new Error(`batch answered ${outcomes.length} outcomes for ${batch.length} items`);
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    });
  }
}
