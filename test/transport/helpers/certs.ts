/**
 * Test certificates made with the openssl command line into a fresh temp dir: a CA, a server
 * certificate for 127.0.0.1/localhost, a client certificate, and a second CA with a client
 * certificate of its own (one the first CA never signed). EC P-256 keys: quick to make.
 *
 * The dir and files are world-readable: mosquitto, started as root, reads them as its own user.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  /** Paths. */
  ca: string;
  server: string;
  serverKey: string;
  client: string;
  clientKey: string;
  otherCa: string;
  otherClient: string;
  otherClientKey: string;
  /** File contents by path. */
  read(path: string): Buffer;
  /** `AB:CD:…` as Node's `fingerprint256` prints it. */
  fingerprint256(path: string): string;
  remove(): void;
}

function openssl(dir: string, args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string, cn: string): void {
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/O=mqtt-tap tests/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, name: string, ca: string, subject: string, ext: string): void {
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function generateCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-certs-'));
  chmodSync(dir, 0o755);
  makeCa(dir, 'ca', 'mqtt-tap test CA');
  makeCa(dir, 'other-ca', 'some other CA');
  makeLeaf(
    dir,
    'server',
    'ca',
    '/O=mqtt-tap tests/CN=localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  makeLeaf(
    dir,
    'client',
    'ca',
    '/O=mqtt-tap tests/CN=sensor-1',
    'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n',
  );
  makeLeaf(
    dir,
    'other-client',
    'other-ca',
    '/O=elsewhere/CN=intruder',
    'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n',
  );
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    ca: p('ca.pem'),
    server: p('server.pem'),
    serverKey: p('server.key'),
    client: p('client.pem'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.pem'),
    otherClient: p('other-client.pem'),
    otherClientKey: p('other-client.key'),
    read: (path) => readFileSync(path),
    fingerprint256(path) {
      const out = openssl(dir, ['x509', '-noout', '-fingerprint', '-sha256', '-in', path]);
      return out.trim().split('=')[1]!.toUpperCase();
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
