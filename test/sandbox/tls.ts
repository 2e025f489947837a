import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A self-signed certificate for 127.0.0.1 in `dir`, which is also its own CA: what a private CA
 * gives a self-hosted Redis, and what a client must be told to trust (REDIS_TLS_CA_FILE).
 */
export function selfSignedCertificate(dir: string): { cert: string; key: string; ca: string } {
  const cert = join(dir, 'redis.crt');
  const key = join(dir, 'redis.key');
  const made = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
      ...['-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { cert, key, ca: cert };
}
