import { z } from 'zod';
import type { Config } from '../../src/config/schema.js';
import type { Owner } from '../../src/domain/index.js';
import { checkLines, checkOwners, checkValues, type CheckLine } from '../check.js';
import { isCrmError } from '../errors.js';
import type { SObjectDescribe } from './api.js';
import type { SalesforceConnector } from './connector.js';

/** A read that failed, with why. */
export interface Unreadable {
  error: string;
}

/** What a config check reads from the org. */
export interface OrgFacts {
  describes: Map<string, SObjectDescribe | Unreadable>;
  owners: Owner[] | Unreadable;
  /** The org's Task statuses and which close a task (describe does not say; TaskStatus does). */
  taskStatuses: { value: string; closed: boolean }[] | Unreadable;
}

const TaskStatusRow = z.object({ ApiName: z.string(), IsClosed: z.boolean() });

const CHECKED_SOBJECTS = ['Lead', 'Contact', 'Task'];
const NUMERIC = new Set(['double', 'int', 'percent', 'currency']);
const TEXT = new Set(['string', 'textarea']);
/** Task fields the connector writes. */
const TASK_FIELDS = [
  'WhoId',
  'OwnerId',
  'Subject',
  'Description',
  'ActivityDate',
  'Status',
  'Priority',
  'TaskSubtype',
];

const unreadable = (err: unknown): Unreadable => ({
  error: isCrmError(err) ? err.message : err instanceof Error ? err.message : String(err),
});

/** Reads describes and users; a failed read is reported, not thrown. */
export async function readOrgFacts(connector: SalesforceConnector): Promise<OrgFacts> {
  const [owners, taskStatuses, ...describes] = await Promise.all([
    connector.owners().catch(unreadable),
    readTaskStatuses(connector).catch(unreadable),
    ...CHECKED_SOBJECTS.map((name) => connector.describe(name).catch(unreadable)),
  ]);
  return {
    owners,
    taskStatuses,
    describes: new Map(CHECKED_SOBJECTS.map((name, i) => [name, describes[i]!])),
  };
}

async function readTaskStatuses(connector: SalesforceConnector): Promise<OrgFacts['taskStatuses']> {
  const statuses: { value: string; closed: boolean }[] = [];
  for await (const rows of connector.soql('SELECT ApiName, IsClosed FROM TaskStatus'))
    for (const row of z.array(TaskStatusRow).parse(rows))
      statuses.push({ value: row.ApiName, closed: row.IsClosed });
  return statuses;
}

/** Compares the config with the org and reports every problem, with its config path. */
export async function checkSalesforceConfig(
  connector: SalesforceConnector,
  config: Config,
): Promise<CheckLine[]> {
  return checkOrg(config, await readOrgFacts(connector));
}

type Field = SObjectDescribe['fields'][number];

/**
 * Pure. Every mapped field exists (and, where we write it, is updateable and of a usable type),
 * every stage value we write or read is a value of the lifecycle picklist, disposition reason codes
 * are values of the reason picklist, task values exist, and routed reps are active users.
 */
export function checkOrg(config: Config, facts: OrgFacts): CheckLine[] {
  const { lines, add } = checkLines();
  const f = config.salesforce.fields;
  const p = 'salesforce.fields';

  const describeOf = (sObject: string): Map<string, Field> | undefined => {
    const d = facts.describes.get(sObject);
    if (!d || 'error' in d) {
      add('error', `describe ${sObject}`, d?.error ?? 'not read');
      return undefined;
    }
    return new Map(d.fields.map((field) => [field.name.toLowerCase(), field]));
  };

  /** Checks one field; answers its describe when it exists. */
  const field = (
    fields: Map<string, Field>,
    sObject: string,
    path: string,
    name: string,
    want: { write?: boolean; types?: Set<string>; kind?: string } = {},
  ): Field | undefined => {
    const found = fields.get(name.toLowerCase());
    if (!found) add('error', path, `${sObject}.${name} does not exist: create it or fix the mapping`);
    else if (want.types && !want.types.has(found.type))
      add('error', path, `${sObject}.${name} is a ${found.type} field; it must be ${want.kind}`);
    else if (want.write && !found.updateable)
      add('error', path, `${sObject}.${name} is not updateable for the integration user`);
    else add('ok', path, `${sObject}.${name} (${found.type})`);
    return found;
  };

  const values = (
    sObject: string,
    picklist: Field | undefined,
    wanted: [string, string][],
    level: 'error' | 'warn',
  ) => {
    if (!picklist) return;
    const active = picklist.picklistValues.filter((v) => v.active).map((v) => v.value);
    const of = `${sObject}.${picklist.name} value`;
    lines.push(...checkValues(wanted, active, { is: `a ${of}`, isNot: `an active ${of}` }, level));
  };

  for (const [objectType, sObject] of [
    ['lead', 'Lead'],
    ['contact', 'Contact'],
  ] as const) {
    const fields = describeOf(sObject);
    if (!fields) continue;
    const mapping = f[objectType];
    for (const [key, name] of Object.entries(mapping))
      field(fields, sObject, `${p}.${objectType}.${key}`, name);
    const numeric = { write: true, types: NUMERIC, kind: 'a number' };
    field(fields, sObject, `${p}.score`, f.score, numeric);
    field(fields, sObject, `${p}.fitScore`, f.fitScore, numeric);
    field(fields, sObject, `${p}.engagementScore`, f.engagementScore, numeric);
    field(fields, sObject, `${p}.scoreReasons`, f.scoreReasons, { write: true, types: TEXT, kind: 'text' });
    field(fields, sObject, `${p}.badData`, f.badData, {
      write: true,
      types: new Set(['boolean']),
      kind: 'a checkbox',
    });
    field(fields, sObject, `${p}.unmarketable.field`, f.unmarketable.field, { write: true });
    const lifecycle = field(fields, sObject, `${p}.lifecycle.${objectType}`, f.lifecycle[objectType], {
      write: true,
      types: new Set(['picklist']),
      kind: 'a picklist',
    });
    const stage = (key: string, value: string): [string, string] => [
      `${p}.stages.${key} (${sObject})`,
      value,
    ];
    values(
      sObject,
      lifecycle,
      [
        ...f.stages.open.map((v, i) => stage(`open[${i}]`, v)),
        stage('mql', f.stages.mql),
        stage('sql', f.stages.sql),
        stage('recycled', f.stages.recycled),
        stage('disqualified', f.stages.disqualified),
      ],
      'error',
    );
    values(
      sObject,
      lifecycle,
      f.convertedStages.map((v, i) => [`${p}.convertedStages[${i}] (${sObject})`, v]),
      'warn',
    );
    const statusField = mapping[config.dispositions.statusField];
    if (!statusField)
      add(
        'error',
        'dispositions.statusField',
        `"${config.dispositions.statusField}" is not mapped in ${p}.${objectType}`,
      );
    else
      values(
        sObject,
        fields.get(statusField.toLowerCase()),
        config.dispositions.statuses.map((s, i) => [`dispositions.statuses[${i}] (${sObject})`, s]),
        'error',
      );
    // Reason codes are the values sales picks: one no picklist offers never matches a disposition.
    const reasonField = fields.get((mapping[config.dispositions.reasonField] ?? '').toLowerCase());
    if (reasonField?.type === 'picklist')
      values(
        sObject,
        reasonField,
        Object.keys(config.dispositions.reasons).map((r) => [`dispositions.reasons.${r} (${sObject})`, r]),
        'warn',
      );
  }

  const task = describeOf('Task');
  if (task) {
    for (const name of TASK_FIELDS) field(task, 'Task', `Task.${name}`, name);
    values(
      'Task',
      task.get('status'),
      [
        ['salesforce.taskStatus', config.salesforce.taskStatus],
        ['salesforce.noteStatus', config.salesforce.noteStatus],
      ],
      'error',
    );
  }
  // Rep tasks must start open and notes be written closed: Task.IsClosed is what counts as done.
  if ('error' in facts.taskStatuses) add('error', 'TaskStatus', facts.taskStatuses.error);
  else
    for (const [path, value, closed] of [
      ['salesforce.taskStatus (open)', config.salesforce.taskStatus, false],
      ['salesforce.noteStatus (closed)', config.salesforce.noteStatus, true],
    ] as const) {
      const found = facts.taskStatuses.find((t) => t.value === value);
      if (found && found.closed !== closed)
        add(
          'error',
          path,
          `"${value}" is ${found.closed ? 'a closed' : 'an open'} Task status; closed ones: ${
            facts.taskStatuses
              .filter((t) => t.closed)
              .map((t) => t.value)
              .join(', ') || 'none'
          }`,
        );
      else if (found) add('ok', path, `"${value}" is ${closed ? 'a closed' : 'an open'} Task status`);
    }

  if ('error' in facts.owners) add('error', 'users', facts.owners.error);
  else lines.push(...checkOwners(config, facts.owners, 'org'));
  return lines;
}
