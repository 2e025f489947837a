/**
 * How many of a queue's jobs in flight compute at once in this process (`pipeline.computingJobs`).
 * A job waiting for a CRM answer (its share of a batch request, mostly) gives its place up through
 * its `Slot`, so a queue can hold hundreds of jobs in flight — what fills a batch — while only a few
 * use the CPU and Redis at a time. Places go urgent before routine, and to a job coming back from a
 * CRM wait before one starting: work under way finishes first, and a hand-raise never queues here
 * behind a score-only backlog.
 */

/** What a running job may give its place up for. */
export interface Slot {
  /** Resolves with `waiting`, the job's place given up meanwhile and taken back after. */
  idle<T>(waiting: Promise<T>): Promise<T>;
}

/** For a job run outside any gate (tests, benchmarks calling a processor directly). */
export const UNGATED: Slot = { idle: (waiting) => waiting };

/** Lanes, served in this order. */
const LANE = { urgentResume: 0, urgentStart: 1, routineResume: 2, routineStart: 3 } as const;
type Lane = (typeof LANE)[keyof typeof LANE];

export class Gate {
  private computing = 0;
  private readonly lanes: [(() => void)[], (() => void)[], (() => void)[], (() => void)[]] = [[], [], [], []];

  constructor(private readonly places: number) {}

  /** Runs `work` once it has a place, holding it except while the job is idle. */
  async run<T>(urgent: boolean, work: (slot: Slot) => Promise<T>): Promise<T> {
    await this.enter(urgent ? LANE.urgentStart : LANE.routineStart);
    const resume = urgent ? LANE.urgentResume : LANE.routineResume;
    const slot: Slot = {
      idle: async (waiting) => {
        this.leave();
        try {
          return await waiting;
        } finally {
          await this.enter(resume);
        }
      },
    };
    try {
      return await work(slot);
    } finally {
      this.leave();
    }
  }

  private enter(lane: Lane): Promise<void> | void {
    if (this.computing < this.places) {
      this.computing++;
      return;
    }
    return new Promise((resolve) => this.lanes[lane].push(resolve));
  }

  /** The place goes straight to the first in line, or is freed. */
  private leave(): void {
    const next = this.lanes.find((lane) => lane.length > 0)?.shift();
    if (next) next();
    else this.computing--;
  }
}
