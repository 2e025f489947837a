import { z } from 'zod';
import { LeadRef } from '../domain/index.js';
import type { HandoffRecord } from './handoffs.js';
import { packJson, unpackJson } from './packed.js';

/** How a handoff record is packed (see packed.ts): field names and phrases of every record, the most frequent last (deflate reaches back least far to them). */
const DICTIONARY = Buffer.from(
  [
    'Full story (who, what they did, why, score): the handoff note on this record.\\n\\n',
    'Their time: unknown (no single time zone known for ',
    'Their time: ',
    ' at handoff (',
    'Source: ',
    ' · latest: ',
    'Campaign: ',
    'Account ',
    'Phone: ',
    '⚠ Free email (',
    '⚠ Student (job title “',
    'competitor',
    'student',
    'freeEmail',
    'underFitFloor',
    '"guardrail":{"action":"standard","reasons":[',
    '"skipped":[{"repId":"","ruleId":"","why":"out_of_office"},{"why":"at_capacity"},{"why":"inactive"}]',
    '"strategy":"account_owner","reason":"account owner ',
    '"strategy":"fallback","reason":"fallback owner',
    '"strategy":"round_robin","reason":"round robin \\"',
    '\\" (weight ',
    "'s turn",
    '"routing":{"ownerId":"',
    '","ruleId":"',
    '"alert":{"subject":"',
    '","lines":["',
    '"task":{"subject":"',
    '","body":"',
    'Handoff ID: hf.',
    '","dueAt":',
    ',"ownerId":"',
    '","priority":"HIGH","type":"CALL"}',
    '","priority":"MEDIUM","type":"EMAIL"}',
    '"note":{"subject":"',
    '","text":"","html":""}',
    ' — demo request — due ',
    ' — form submitted — due ',
    ' — MQL at score ',
    'their time',
    'Follow up with ',
    'Email ',
    'Call ',
    '"breakdown":[],"computedAt":',
    '{"handoff":{"id":"hf.hubspot.contact.',
    'hf.salesforce.lead.',
    'hf.salesforce.contact.',
    '","lead":{"crm":"hubspot","objectType":"contact","id":"',
    '"crm":"salesforce","objectType":"lead","id":"',
    '"},"stage":"mql","trigger":"threshold","triggerEventId":"hubspot:',
    '"},"stage":"sql","trigger":"hand_raise","triggerEventId":"hubspot:',
    '","receivedAt":',
    ',"decidedAt":',
    ',"score":{"fit":',
    ',"engagement":',
    ',"total":',
  ].join(''),
);

const ScoreLine = z.object({
  ruleId: z.string(),
  kind: z.enum(['fit', 'engagement']),
  points: z.number(),
  reason: z.string(),
  eventIds: z.array(z.string()),
  capped: z.boolean(),
});

/** A record as read back from Redis, whatever wrote it. */
const StoredRecord = z.object({
  handoff: z.object({
    id: z.string(),
    lead: LeadRef,
    stage: z.enum(['mql', 'sql']),
    trigger: z.enum(['threshold', 'hand_raise']),
    triggerEventId: z.string().nullable(),
    receivedAt: z.number(),
    decidedAt: z.number(),
    score: z.object({
      fit: z.number(),
      engagement: z.number(),
      total: z.number(),
      breakdown: z.array(ScoreLine),
      computedAt: z.number(),
    }),
    urgency: z.literal('standard').optional(),
  }),
  note: z.object({ subject: z.string(), text: z.string(), html: z.string() }),
  routing: z
    .object({
      ownerId: z.string().nullable(),
      ruleId: z.string().nullable(),
      strategy: z.enum(['account_owner', 'round_robin', 'fallback', 'none']),
      reason: z.string(),
      skipped: z.array(
        z.object({
          repId: z.string(),
          ruleId: z.string(),
          why: z.enum(['inactive', 'out_of_office', 'at_capacity', 'excluded']),
        }),
      ),
    })
    .optional(),
  task: z
    .object({
      subject: z.string(),
      body: z.string(),
      dueAt: z.number(),
      ownerId: z.string().nullable(),
      priority: z.enum(['LOW', 'MEDIUM', 'HIGH']),
      type: z.enum(['CALL', 'EMAIL', 'TODO']),
    })
    .optional(),
  alert: z.object({ subject: z.string(), lines: z.array(z.string()) }).optional(),
  guardrail: z
    .object({ action: z.enum(['urgent', 'standard', 'hold']), reasons: z.array(z.string()) })
    .optional(),
});

export function encodeRecord(record: HandoffRecord): Buffer {
  return packJson(record, DICTIONARY);
}

/** A record packed or, written before packing, as JSON text. */
export function decodeRecord(raw: Buffer): HandoffRecord {
  return StoredRecord.parse(unpackJson(raw, DICTIONARY));
}
