/**
 * A self-signed certificate for 127.0.0.1/localhost, made with the openssl command line at run time
 * (EC P-256: quick), for the soak's mqtts:// and wss:// listeners.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned {
  cert: string;
  key: string;
  remove(): void;
}

export function selfSigned(): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-soak-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/O=mqtt-tap soak/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return { cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
