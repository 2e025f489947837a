import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import type { EngagementEvent, LeadRef, Profile } from '../src/domain/index.js';
import { computeScore } from '../src/scoring/index.js';
import { DAY_MS } from '../src/domain/time.js';

const EVENTS = 50;
const RUNS = 5;
const RUN_MS = 400; // 5 runs ≈ 2 s of measurement

export interface ScoringBench {
  recomputesPerSecond: number;
  rules: number;
  events: number;
}

/** Recomputes per second on one core with the default rules, 50 events over 90 days; median of 5 runs. */
export async function benchScoring(): Promise<ScoringBench> {
  const config = loadConfig(fileURLToPath(new URL('../config/default.yaml', import.meta.url)));
  const rules = config.scoring;
  const now = Date.UTC(2025, 5, 1);
  const profile: Profile = {
    email: 'dana.whitfield@acme-analytics.com',
    firstName: 'Dana',
    lastName: 'Whitfield',
    jobTitle: 'VP of Marketing Operations',
    company: 'Acme Analytics',
    industry: 'COMPUTER_SOFTWARE',
    companySize: '420',
    country: 'United States',
  };
  const events = sampleEvents(now);

  // Warm up so the JIT has optimized the hot path before timing.
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += computeScore(profile, events, rules, now + i).total;

  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await new Promise((resolve) => setImmediate(resolve));
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < RUN_MS) {
      for (let i = 0; i < 1000; i++) sink += computeScore(profile, events, rules, now + n++).total;
      elapsed = performance.now() - start;
    }
    rates.push((n / elapsed) * 1000);
  }
  if (sink < 0) console.log(sink); // keeps the work observable so it is not optimized away

  rates.sort((a, b) => a - b);
  return {
    recomputesPerSecond: Math.round(rates[Math.floor(RUNS / 2)]!),
    rules: rules.fit.length + rules.engagement.length,
    events: events.length,
  };
}

/**
 * A plausible mix of events spread over the last 90 days, deterministic so runs compare, oldest
 * first as the timeline store returns them.
 */
function sampleEvents(now: number): EngagementEvent[] {
  const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '901' };
  const urls = ['/', '/blog/lead-scoring', '/pricing', '/product', '/customers', '/pricing/enterprise'];
  const kinds = ['page_view', 'page_view', 'page_view', 'email_open', 'email_click', 'form_submission'];
  const events: EngagementEvent[] = [];
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  for (let i = 0; i < EVENTS - 2; i++) {
    const type = kinds[Math.floor(random() * kinds.length)]!;
    const properties: EngagementEvent['properties'] =
      type === 'page_view'
        ? { url: `https://acme.example${urls[Math.floor(random() * urls.length)]!}` }
        : type === 'form_submission'
          ? { form: 'Download: Lead scoring guide' }
          : { campaign: 'spring-nurture' };
    events.push({
      id: `hubspot:${1_000_000 + i}`,
      lead,
      type,
      occurredAt: Math.floor(now - random() * 90 * DAY_MS),
      source: 'hubspot',
      properties,
    });
  }
  events.push(
    {
      id: 'hubspot:webinar-1',
      lead,
      type: 'webinar_attended',
      occurredAt: now - 20 * DAY_MS,
      source: 'hubspot',
      properties: { webinar: 'Scoring 101' },
    },
    {
      id: 'hubspot:demo-1',
      lead,
      type: 'demo_request',
      occurredAt: now - 2 * DAY_MS,
      source: 'hubspot',
      properties: { form: 'Talk to sales' },
    },
  );
  return events.sort((a, b) => a.occurredAt - b.occurredAt);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchScoring());
}
