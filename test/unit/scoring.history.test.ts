import { describe, expect, it } from 'vitest';
import { Scoring } from '../../src/config/schema.js';
import type { EngagementEvent, HistoryBucket } from '../../src/domain/index.js';
import { computeScore, foldHistory } from '../../src/scoring/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 1, 12);
const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '1' };

// No caps, small points: every event shows in the sum, so a wrongly folded one would too.
const RULES = Scoring.parse({
  caps: { fit: 50, engagement: 100 },
  fit: [],
  engagement: [
    {
      id: 'pricing',
      event: 'page_view',
      where: { url: { contains: '/pricing' } },
      points: 0.01,
      decay: { halfLifeDays: 14 },
    },
    { id: 'page-view', event: 'page_view', points: 0.002, decay: { halfLifeDays: 7 } },
    { id: 'open', event: 'email_open', points: 0.01, decay: { windowDays: 30 } },
    { id: 'unsubscribed', event: 'email_unsubscribe', points: -5 },
  ],
});

/** `n` events spread evenly over the `days` before NOW, oldest first, a fifth of them on the pricing page. */
function timeline(n: number, days: number): EngagementEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    lead,
    type: i % 7 === 3 ? 'email_open' : 'page_view',
    occurredAt: NOW - Math.round(((n - i) / n) * days * DAY),
    source: 'test',
    properties: { url: i % 5 === 0 ? 'https://x.example/pricing' : 'https://x.example/blog' },
  }));
}

function folded(events: EngagementEvent[], keep: number): [EngagementEvent[], HistoryBucket[]] {
  return [events.slice(-keep), foldHistory(events.slice(0, -keep), RULES)];
}

const lines = (s: ReturnType<typeof computeScore>) =>
  Object.fromEntries(s.breakdown.map((l) => [l.ruleId, l.points]));

describe('folded history (a capped timeline)', () => {
  it('scores 20,000 events folded down to 100 as the full timeline does, now and as they decay', () => {
    const all = timeline(20_000, 60);
    const [recent, history] = folded(all, 100);
    // One bucket per rule and day at most, whatever the number of events.
    expect(history.length).toBeLessThanOrEqual(3 * 61);
    const openRule = RULES.engagement.find((r) => r.id === 'open')!;
    for (const now of [NOW, NOW + 3 * DAY, NOW + 20 * DAY]) {
      const full = computeScore({}, all, RULES, now);
      const capped = computeScore({}, recent, RULES, now, history);
      expect(full.engagement).toBeGreaterThan(1);
      // Half-life decay: exact to the cent.
      for (const rule of ['pricing', 'page-view'])
        expect(Math.abs(lines(capped)[rule]! - lines(full)[rule]!), rule).toBeLessThanOrEqual(0.01);
      // The window: off by at most the day its edge falls in.
      const edge = history.find(
        (b) => b.rule.startsWith('open#') && b.lo < now - 30 * DAY && b.hi >= now - 30 * DAY,
      );
      const bound = (edge?.n ?? 0) * openRule.points + 0.01;
      expect(Math.abs(lines(capped).open! - lines(full).open!)).toBeLessThanOrEqual(bound);
      expect(capped.breakdown.map((l) => l.ruleId)).toEqual(full.breakdown.map((l) => l.ruleId));
    }
  });

  it('drops a window rule’s day once its newest event has left the window: off by at most that day', () => {
    const all = timeline(3_000, 40);
    const [recent, history] = folded(all, 100);
    const openRule = RULES.engagement.find((r) => r.id === 'open')!;
    const day = history.find((b) => b.rule.startsWith('open#'))!;
    // Just after the day's first event left the 30-day window, before its last one did.
    const now = day.lo + 30 * DAY + 1;
    expect(now).toBeLessThan(day.hi + 30 * DAY);
    const diff =
      (lines(computeScore({}, recent, RULES, now, history)).open ?? 0) -
      (lines(computeScore({}, all, RULES, now)).open ?? 0);
    expect(diff).toBeGreaterThanOrEqual(0);
    expect(diff).toBeLessThanOrEqual(day.n * openRule.points + 0.01);
    // A day later the whole day is out on both sides.
    const later = day.hi + 30 * DAY + 1;
    expect(lines(computeScore({}, recent, RULES, later, history)).open).toBeCloseTo(
      lines(computeScore({}, all, RULES, later)).open ?? 0,
      2,
    );
  });

  it('ignores what a rule counted before its matching or decay changed', () => {
    const all = timeline(500, 10);
    const [recent, history] = folded(all, 100);
    const changed = Scoring.parse({
      ...RULES,
      engagement: RULES.engagement.map((r) =>
        r.id === 'page-view' ? { ...r, decay: { halfLifeDays: 3 } } : r,
      ),
    });
    const capped = computeScore({}, recent, changed, NOW, history);
    const onlyRecent = computeScore({}, recent, changed, NOW);
    expect(lines(capped)['page-view']).toBe(lines(onlyRecent)['page-view']);
    expect(lines(capped).pricing).toBeGreaterThan(lines(onlyRecent).pricing!);
  });

  it('keeps a rule without decay at full weight, however old the folded events', () => {
    const old = [{ ...timeline(1, 1)[0]!, type: 'email_unsubscribe', occurredAt: NOW - 200 * DAY }];
    const s = computeScore({}, [], RULES, NOW, foldHistory(old, RULES));
    expect(lines(s).unsubscribed).toBe(-5);
  });
});
