/**
 * At most `size` holders at once; the rest wait in arrival order. The HubSpot adapter keeps its
 * calls within this many so its HTTP client never queues a request behind a busy socket.
 */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Resolves once a slot is held; give it back with the function it resolves to, once. */
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next in line.
      if (next) next();
      else this.free++;
    };
  }
}
