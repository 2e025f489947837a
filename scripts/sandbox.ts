/**
 * npm run sandbox: the local CRM sandbox (HubSpot and Salesforce APIs, strict like the real ones) on
 * 127.0.0.1, with the environment that points leadflow at it, until Ctrl-C. `--port <n>` picks the port.
 */
import { startSandbox } from '../test/sandbox/index.js';
import { hubspotEnv, salesforceEnv } from '../test/system/index.js';

async function main(): Promise<void> {
  const at = process.argv.indexOf('--port');
  const port = at >= 0 ? Number(process.argv[at + 1]) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536))
    throw new Error('--port needs a port number (1–65535)');
  const sandbox = await startSandbox({ port });
  const env = { ...hubspotEnv(sandbox), ...salesforceEnv(sandbox) };
  process.stdout.write(
    `CRM sandbox listening on ${sandbox.url}\n\nPoint leadflow at it:\n` +
      Object.entries(env)
        .map(([name, value]) => `export ${name}=${value}\n`)
        .join('') +
      '\nCtrl-C stops it.\n',
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sandbox.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
