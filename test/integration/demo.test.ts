import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/** A script as `npm run <name>` runs it (tsx), its output collected as it comes. */
function script(file: string, args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    env: { PATH: process.env.PATH, REDIS_URL: TEST_REDIS_URL },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out, exited };
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm run demo and npm run sandbox', () => {
  it('the demo runs to completion and prints the new task subject of a handed-off lead', async () => {
    const demo = script('scripts/demo.ts');
    started.push(demo.child);
    expect(await demo.exited).toBe(0);
    expect(demo.out.stdout).toMatch(
      /\d+ of \d+ leads handed off; \d+ notes and \d+ rep tasks in the sandbox CRM/,
    );
    // The action-first subject the composer writes: Call <who> (<title, company>) — <why> — due <time>,
    // with the weekday when it is due on another day (a demo run after the rep's office hours).
    expect(demo.out.stdout).toMatch(
      /\nThe rep's new task: Call [^\n(]+ \([^)]+\) — [^\n]+ — due (?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?\d\d:\d\d [^\n]+\n$/,
    );
    expect(demo.out.stdout).not.toContain('Still running');
  }, 120_000);

  it('--keep-running keeps the server and sandbox up, with /admin open on the demo data, until Ctrl-C', async () => {
    const demo = script('scripts/demo.ts', ['--keep-running']);
    started.push(demo.child);
    const [, admin, token] = await waitFor(
      () =>
        /dashboard {2}(http:\/\/127\.0\.0\.1:\d+\/admin) {2}\(admin token ([0-9a-f]{32})\)/.exec(
          demo.out.stdout,
        ),
      { timeoutMs: 100_000, what: 'the admin URL' },
    );
    const sandboxUrl = /sandbox {4}(http:\/\/127\.0\.0\.1:\d+) /.exec(demo.out.stdout)?.[1];
    expect(sandboxUrl).toBeDefined();
    // The dashboard's data API answers with the demo's handoffs; without the token it refuses.
    const overview = await fetch(`${admin}/api/overview`, { headers: { authorization: `Bearer ${token}` } });
    expect(overview.status).toBe(200);
    expect(JSON.stringify(await overview.json())).toContain('hubspot.contact.');
    expect((await fetch(`${admin}/api/overview`)).status).toBe(401);
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
  }, 120_000);

  it('npm run sandbox serves the CRM APIs on 127.0.0.1 and prints the environment for them', async () => {
    const sandbox = script('scripts/sandbox.ts');
    started.push(sandbox.child);
    const [, url] = await waitFor(
      () => /^CRM sandbox listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(sandbox.out.stdout),
      {
        timeoutMs: 60_000,
        what: 'the sandbox URL',
      },
    );
    expect(sandbox.out.stdout).toContain(`export HUBSPOT_BASE_URL=${url}\n`);
    expect(sandbox.out.stdout).toContain(`export SALESFORCE_INSTANCE_URL=${url}\n`);
    const token = /export HUBSPOT_ACCESS_TOKEN=(\S+)\n/.exec(sandbox.out.stdout)?.[1];
    const owners = await fetch(`${url}/crm/v3/owners`, { headers: { authorization: `Bearer ${token}` } });
    expect(owners.status).toBe(200);
    sandbox.child.kill('SIGTERM');
    expect(await sandbox.exited).toBe(0);
  }, 120_000);
});
