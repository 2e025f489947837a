import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { spawnCli, spawnCliSync } from '../helpers/spawn-cli.js';

function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnCliSync(args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The CLI without blocking this process, so an in-process sandbox can answer it. */
function cliAsync(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawnCli(args, { env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('leadflow config check --crm against the Salesforce sandbox', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());
  const env = () => ({ SALESFORCE_INSTANCE_URL: sandbox.url, SALESFORCE_ACCESS_TOKEN: 'cli-token' });

  it('passes the shipped Salesforce example against an org that has its fields, values and users', async () => {
    const out = await cliAsync(
      ['config', 'check', '--crm', '-c', 'config/examples/salesforce-only.yaml'],
      env(),
    );
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain(`Salesforce org (${sandbox.url}):`);
    expect(out.stdout).toContain('org OK');
    expect(out.code).toBe(0);
  });

  it('names every mapped field the org lacks, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadflow-cli-'));
    const file = join(dir, 'sf.yaml');
    writeFileSync(
      file,
      [
        'thresholds: { mql: 50, sql: 80 }',
        'scoring: { fit: [], engagement: [] }',
        'salesforce:',
        '  fields:',
        '    score: Lead_Score_Missing__c',
        '    stages: { mql: Warm }',
      ].join('\n'),
    );
    const out = await cliAsync(['config', 'check', '--crm', '-c', file], env());
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('Lead_Score_Missing__c');
    expect(out.stdout).toContain('Warm');
  });
});

describe('leadflow CLI', () => {
  it('config check passes on the shipped config', () => {
    const out = cli(['config', 'check'], { HUBSPOT_ACCESS_TOKEN: 'pat-na1-x' });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(
      /^config OK: 15 scoring rules, MQL at 50, SQL at 80, hand-raise on demo_request/,
    );
  });

  it('config check warns when no CRM credentials are set, and still passes', () => {
    const out = cli(['config', 'check']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^config OK: /);
    expect(out.stderr).toBe(
      'warning: no CRM credentials are set, so the worker will not start: it needs HUBSPOT_ACCESS_TOKEN ' +
        '(or the HubSpot OAuth variables), or SALESFORCE_INSTANCE_URL with Salesforce credentials\n',
    );
    // OAuth variables count as credentials too (they need Redis only to be used, not to be checked).
    const oauth = cli(['config', 'check'], {
      HUBSPOT_CLIENT_ID: 'id',
      HUBSPOT_CLIENT_SECRET: 'secret',
      HUBSPOT_REFRESH_TOKEN: 'refresh',
    });
    expect(oauth.stderr).toBe('');
  });

  it('config check names unknown event types with a did-you-mean, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadflow-cli-'));
    const file = join(dir, 'typos.yaml');
    writeFileSync(
      file,
      [
        'thresholds: { mql: 50, sql: 80 }',
        'handRaise: [demo_requst]',
        'scoring:',
        '  engagement:',
        '    - { id: views, event: page_veiw, points: 1 }',
        '    - { id: trials, event: trial_signup, points: 5 }',
        '    - { id: forms, event: form_submission, points: 5 }',
      ].join('\n'),
    );
    const out = cli(['config', 'check', '-c', file], { HUBSPOT_ACCESS_TOKEN: 'pat-na1-x' });
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      `${file} is invalid:\n` +
        '  - handRaise[0]: unknown event type "demo_requst"; did you mean "demo_request"? (list your own in webhooks.events.types)\n' +
        '  - scoring.engagement[0].event: unknown event type "page_veiw"; did you mean "page_view"? (list your own in webhooks.events.types)\n' +
        '  - scoring.engagement[1].event: unknown event type "trial_signup" (list your own in webhooks.events.types)\n',
    );

    // Declared as sent to /webhooks/events, or produced by a mapping (a HubSpot form), a type is known.
    writeFileSync(
      file,
      [
        'thresholds: { mql: 50, sql: 80 }',
        'handRaise: [demo_request, trial_signup]',
        'webhooks: { events: { types: [trial_signup] } }',
        'hubspot:',
        '  polling:',
        '    forms: { everySeconds: 60, forms: [{ guid: 0a1b2c3d, name: Pricing, event: pricing_form }] }',
        'scoring:',
        '  engagement:',
        '    - { id: trials, event: trial_signup, points: 5 }',
        '    - { id: pricing, event: pricing_form, points: 5 }',
      ].join('\n'),
    );
    const ok = cli(['config', 'check', '-c', file], { HUBSPOT_ACCESS_TOKEN: 'pat-na1-x' });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('prints a bad option value as one line, never zod issues as JSON', () => {
    const out = cli(['simulate', 'test/fixtures/history.csv', '--thresholds', '30,200']);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      "error: option '--thresholds <list>' argument '30,200' is invalid. 1: Too big: expected number to be <=100\n",
    );
    const crm = cli(['simulate', 'test/fixtures/history.csv', '--crm', 'zoho']);
    expect(crm.stderr).toBe(
      `error: option '--crm <crm>' argument 'zoho' is invalid. Invalid option: expected one of "hubspot"|"salesforce"\n`,
    );
  });

  it('config check exits non-zero listing every problem with its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadflow-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'thresholds: { mql: 150, sql: 80 }\nscoring:\n  engagement:\n    - { id: x, event: page_view, points: lots }\n',
    );
    const out = cli(['config', 'check', '--config', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`${file} is invalid:`);
    expect(out.stderr).toContain('thresholds.mql: Too big: expected number to be <=100');
    expect(out.stderr).toContain(
      'scoring.engagement[0].points: Invalid input: expected number, received string',
    );
  });

  it('refuses a bad environment before reading anything else', () => {
    const out = cli(['config', 'check'], { PORT: 'eighty', REDIS_URL: 'localhost:6379' });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('environment is invalid:');
    expect(out.stderr).toContain('REDIS_URL: must start with redis:// or rediss://');
    expect(out.stderr).toContain('PORT: Invalid input: expected number, received NaN');
  });

  it('simulate replays an export and prints the what-if table', () => {
    const out = cli(['simulate', 'test/fixtures/history.csv', '--thresholds', '30,50,70']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Replayed 9 events of 4 leads through the current rules.');
    expect(out.stdout).toMatch(/threshold\s+MQLs\s+share\n30\s+3\s+75%\n50\s+3\s+75%\n70\s+\d\s+\d+%/);
    const json = JSON.parse(cli(['simulate', 'test/fixtures/history.json', '--json']).stdout) as {
      mql: number;
    };
    expect(json.mql).toBe(1);
  });

  it('simulate --compare lists per lead who becomes MQL/SQL or stops being one, and the totals', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadflow-sim-'));
    const proposed = join(dir, 'proposed.yaml');
    // No hand-raise any more, MQL at 10 and SQL at 45: the demo requester stops being an MQL, two become SQLs.
    writeFileSync(
      proposed,
      readFileSync('config/default.yaml', 'utf8')
        .replace('  mql: 50\n  sql: 80\n', '  mql: 10\n  sql: 45\n')
        .replace('handRaise: [demo_request]', 'handRaise: []'),
    );
    const out = cli(['simulate', 'test/fixtures/history.csv', '--compare', proposed]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(
      'Proposed rules against the current ones, over 4 leads:\n' +
        'MQL 3 → 2 (-1)   SQL 0 → 2 (+2)   3 leads change   0 owners change\n\n' +
        'lead               now  proposed  change           owner now  owner proposed\n' +
        'hubspot.contact.1  MQL  SQL       becomes SQL      101        101\n' +
        'hubspot.contact.2  MQL  LEAD      stops being MQL  101        –\n' +
        'hubspot.contact.3  MQL  SQL       becomes SQL      102        102\n',
    );
    const json = JSON.parse(
      cli(['simulate', 'test/fixtures/history.csv', '--compare', proposed, '--json']).stdout,
    ) as {
      changes: unknown[];
    };
    expect(json.changes).toHaveLength(3);
  });

  it('simulate refuses a bad export with every problem listed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadflow-sim-'));
    const file = join(dir, 'bad.csv');
    writeFileSync(file, 'lead_id,type,occurred_at\n1,page_view,soon\n');
    const out = cli(['simulate', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`${file} cannot be replayed:\n  - line 2: occurredAt: not a date: "soon"`);
  });

  it('prints an error quoting the export without its control characters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadflow-sim-'));
    const file = join(dir, 'evil.csv');
    writeFileSync(file, 'lead_id,type,occurred_at\n1,page_view,\x1b]0;pwned\x07\x1b[2Jsoon\n');
    const out = cli(['simulate', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('occurredAt: not a date: "]0;pwned[2Jsoon"');
    expect(out.stderr).not.toMatch(/(?!\n)\p{Cc}/u);
  });
});
