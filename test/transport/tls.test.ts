/**
 * TLS on both sides against Debian's mosquitto: client certificates in the `open` record, TLS to
 * the broker with and without a client certificate of ours, certificate verification failures as
 * clear `upstream-error` records, `--insecure`, failed client handshakes, and a TLS ClientHello on
 * a plain listener.
 */
import { execFile } from 'node:child_process';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TlsClientConfig } from '../../src/proxy/tls-info.js';
import { MOSQUITTO_PUB, requireMosquitto } from '../helpers/mosquitto.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';
import { packetKinds, type TapHarness, tapProxy } from './helpers/tap-harness.js';
import { startTransportBroker, type TransportBroker } from './helpers/transport-broker.js';

const run = promisify(execFile);
let certs: TestCerts;
let broker: TransportBroker;

const CONNECTED = ['broker:CONNACK', 'client:CONNECT', 'client:DISCONNECT'];

describe.skipIf(!requireMosquitto())('TLS transports', () => {
  beforeAll(async () => {
    certs = generateCerts();
    broker = await startTransportBroker(certs);
  });
  afterAll(async () => {
    await broker?.stop();
    certs?.remove();
  });

  async function mqttsListener(requestCert: boolean, upstreamPort = broker.ports.tcp): Promise<TapHarness> {
    return tapProxy({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }],
      upstream: { host: '127.0.0.1', port: upstreamPort },
      tls: {
        cert: certs.read(certs.server),
        key: certs.read(certs.serverKey),
        ...(requestCert ? { ca: certs.read(certs.ca), requestCert: true } : {}),
      },
    });
  }

  async function mqttsUpstream(
    config: TlsClientConfig,
    port = broker.ports.tls,
    transport: 'tls' | 'wss' = 'tls',
  ): Promise<TapHarness> {
    return tapProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port, transport, ...(transport === 'wss' ? { path: '/mqtt' } : {}) },
      upstreamTls: config,
      // A plain listener cannot verify its clients: riding on our certificate must be asked for.
      ...(config.cert !== undefined ? { upstreamCertForAll: true } : {}),
    });
  }

  async function connectAndEnd(url: string, opts: IClientOptions = {}): Promise<void> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...opts,
    });
    await client.endAsync();
  }

  /** A client whose connection the proxy ends: resolves with the error mqtt.js saw (or 'closed'). */
  function refusedConnect(url: string, opts: IClientOptions = {}): Promise<string> {
    return new Promise((resolve) => {
      const client = mqtt.connect(url, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...opts,
      });
      client.once('error', (err) => {
        client.end(true);
        resolve(err.message);
      });
      client.once('close', () => {
        client.end(true);
        resolve('closed');
      });
      client.once('connect', () => {
        client.end(true);
        resolve('connected');
      });
      setTimeout(() => {
        client.end(true);
        resolve('timed out');
      }, 5000).unref();
    });
  }

  describe('mqtts:// listener with --tls-request-cert --tls-ca', () => {
    it('a client certificate: subject, issuer, SHA-256 fingerprint and valid in the open record', async () => {
      const tap = await mqttsListener(true);
      try {
        await connectAndEnd(`mqtts://127.0.0.1:${tap.port()}`, {
          ca: certs.read(certs.ca),
          cert: certs.read(certs.client),
          key: certs.read(certs.clientKey),
          clientId: 'mtls-1',
        });
        const open = await tap.open(0);
        expect(open.tls).toMatchObject({
          protocol: 'TLSv1.3',
          servername: null,
          alpn: null,
          clientCert: {
            subject: 'O=mqtt-tap tests, CN=sensor-1',
            issuer: 'O=mqtt-tap tests, CN=mqtt-tap test CA',
            fingerprint256: certs.fingerprint256(certs.client),
            valid: true,
          },
        });
        expect(open.tls).not.toHaveProperty('clientCert.error');
        await tap.closed(String(open.conn));
        expect(packetKinds(tap.packets(String(open.conn)))).toEqual(CONNECTED);
      } finally {
        await tap.close();
      }
    });

    it('SNI and ALPN as the client sent them', async () => {
      const tap = await mqttsListener(true);
      try {
        await connectAndEnd(`mqtts://localhost:${tap.port()}`, {
          ca: certs.read(certs.ca),
          servername: 'localhost',
          ALPNProtocols: ['mqtt'],
          host: '127.0.0.1',
          hostname: '127.0.0.1',
        });
        const open = await tap.open(0);
        expect(open.tls).toMatchObject({ servername: 'localhost', alpn: 'mqtt', clientCert: null });
      } finally {
        await tap.close();
      }
    });

    it('no certificate sent: clientCert null, the client is still forwarded (the broker decides)', async () => {
      const tap = await mqttsListener(true);
      try {
        await connectAndEnd(`mqtts://127.0.0.1:${tap.port()}`, { ca: certs.read(certs.ca) });
        const open = await tap.open(0);
        expect(open.tls).toMatchObject({ clientCert: null });
        await tap.closed(String(open.conn));
        expect(packetKinds(tap.packets(String(open.conn)))).toEqual(CONNECTED);
      } finally {
        await tap.close();
      }
    });

    it('a certificate from another CA: valid false with the OpenSSL reason', async () => {
      const tap = await mqttsListener(true);
      try {
        await connectAndEnd(`mqtts://127.0.0.1:${tap.port()}`, {
          ca: certs.read(certs.ca),
          cert: certs.read(certs.otherClient),
          key: certs.read(certs.otherClientKey),
        });
        const open = await tap.open(0);
        expect(open.tls).toMatchObject({
          clientCert: {
            subject: 'O=elsewhere, CN=intruder',
            issuer: 'O=mqtt-tap tests, CN=some other CA',
            fingerprint256: certs.fingerprint256(certs.otherClient),
            valid: false,
            error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
          },
        });
      } finally {
        await tap.close();
      }
    });
  });

  describe('failed client handshakes on the mqtts:// listener', () => {
    it('plain MQTT on the TLS port: handshake-failed with a hint, no connection, no dial', async () => {
      const tap = await mqttsListener(false);
      try {
        expect(await refusedConnect(`mqtt://127.0.0.1:${tap.port()}`)).not.toBe('connected');
        const failed = await tap.sink.waitFor((r) => r.record.event === 'handshake-failed');
        expect(failed.level).toBe('warn');
        expect(failed.record).toMatchObject({
          listener: `mqtts://127.0.0.1:${tap.port()}`,
          transport: 'tls',
          client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
          code: 'ERR_SSL_WRONG_VERSION_NUMBER',
          // OpenSSL's reason, not its whole error line with source file and line number.
          error: 'wrong version number',
          hint: expect.stringContaining('plain mqtt://'),
        });
        expect(tap.sink.events('open')).toEqual([]);
      } finally {
        await tap.close();
      }
    });

    it("mosquitto_pub not trusting mqtt-tap's certificate: its alert, and the hint to give it the CA", async () => {
      const tap = await mqttsListener(false);
      try {
        // OpenSSL clients refuse inside the handshake with an alert the listener sees. (Node clients
        // check after the handshake and just close: an open and a close record without packets.)
        const pub = await run(MOSQUITTO_PUB, [
          ...['-h', '127.0.0.1', '-p', String(tap.port()), '--cafile', certs.otherCa],
          ...['-t', 't', '-m', 'x'],
        ]).catch((err: { stderr?: string }) => err);
        expect(String((pub as { stderr?: string }).stderr)).toMatch(/TLS error|certificate verify failed/i);
        const failed = await tap.sink.waitFor((r) => r.record.event === 'handshake-failed');
        expect(failed.record).toMatchObject({
          code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
          error: 'tlsv1 alert unknown ca',
          hint: expect.stringContaining('--cafile'),
        });
        expect(tap.sink.events('open')).toEqual([]);
      } finally {
        await tap.close();
      }
    });
  });

  describe('mqtts:// and wss:// upstream', () => {
    // mosquitto sends its chain up to the CA when the listener has a cafile (the mqtts port here):
    // SELF_SIGNED_CERT_IN_CHAIN; the wss port has none: UNABLE_TO_VERIFY_LEAF_SIGNATURE.
    it('verified against --upstream-ca: round trip through a TLS broker listener', async () => {
      const tap = await mqttsUpstream({ ca: certs.read(certs.ca) });
      try {
        await connectAndEnd(`mqtt://127.0.0.1:${tap.port()}`, { clientId: 'up-tls' });
        const open = await tap.open(0);
        await tap.closed(String(open.conn));
        expect(packetKinds(tap.packets(String(open.conn)))).toEqual(CONNECTED);
      } finally {
        await tap.close();
      }
    });

    it('a broker that requires a client certificate: --upstream-cert/--upstream-key pass it', async () => {
      const tap = await mqttsUpstream(
        { ca: certs.read(certs.ca), cert: certs.read(certs.client), key: certs.read(certs.clientKey) },
        broker.ports.mtls,
      );
      try {
        await connectAndEnd(`mqtt://127.0.0.1:${tap.port()}`, { clientId: 'up-mtls' });
        const open = await tap.open(0);
        const close = await tap.closed(String(open.conn));
        expect(packetKinds(tap.packets(String(open.conn)))).toEqual(CONNECTED);
        expect(close).toMatchObject({ closedBy: 'client', clean: true });
      } finally {
        await tap.close();
      }
    });

    it('the same broker without our client certificate: the TLS 1.3 alert ends the connection, named', async () => {
      const tap = await mqttsUpstream({ ca: certs.read(certs.ca) }, broker.ports.mtls);
      try {
        expect(await refusedConnect(`mqtt://127.0.0.1:${tap.port()}`)).not.toBe('connected');
        const open = await tap.open(0);
        const close = await tap.closed(String(open.conn));
        // TLS 1.3: the client's handshake completes before the server checks its certificate, so
        // the refusal arrives as an alert on an established connection, not as an upstream-error.
        expect(close).toMatchObject({
          closedBy: 'broker',
          error: { side: 'broker', code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' },
          verdict: {
            cause: 'TLS_HANDSHAKE_FAILED',
            detail: 'the TLS session with the broker failed: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
          },
        });
      } finally {
        await tap.close();
      }
    });

    it('no --upstream-ca: upstream-error SELF_SIGNED_CERT_IN_CHAIN, with the flags that fix it', async () => {
      const tap = await mqttsUpstream({});
      try {
        expect(await refusedConnect(`mqtt://127.0.0.1:${tap.port()}`)).not.toBe('connected');
        const err = await tap.sink.waitFor((r) => r.record.event === 'upstream-error');
        expect(err.level).toBe('error');
        expect(err.record).toMatchObject({
          upstream: `mqtts://127.0.0.1:${broker.ports.tls}`,
          code: 'SELF_SIGNED_CERT_IN_CHAIN',
          error: 'self-signed certificate in certificate chain',
          hint: expect.stringContaining('--upstream-ca FILE'),
        });
        expect(err.msg).toContain('--insecure');
        const close = await tap.closed(String(err.record.conn));
        expect(close).toMatchObject({
          closedBy: 'broker',
          error: { side: 'broker', code: 'SELF_SIGNED_CERT_IN_CHAIN' },
          bytes: { fromClient: 0, fromBroker: 0 },
          verdict: {
            cause: 'TLS_HANDSHAKE_FAILED',
            detail: `the TLS handshake with mqtts://127.0.0.1:${broker.ports.tls} failed: SELF_SIGNED_CERT_IN_CHAIN`,
            evidence: [{ conn: err.record.conn, type: 'upstream-error', time: expect.any(Number) }],
          },
        });
      } finally {
        await tap.close();
      }
    });

    it('a name the certificate does not carry: upstream-error ERR_TLS_CERT_ALTNAME_INVALID', async () => {
      const tap = await mqttsUpstream({ ca: certs.read(certs.ca), servername: 'broker.example' });
      try {
        await refusedConnect(`mqtt://127.0.0.1:${tap.port()}`);
        const err = await tap.sink.waitFor((r) => r.record.event === 'upstream-error');
        expect(err.record).toMatchObject({
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
          error: expect.stringContaining('broker.example'),
          hint: expect.stringContaining('--upstream-servername'),
        });
      } finally {
        await tap.close();
      }
    });

    it('wss:// upstream without --upstream-ca: upstream-error UNABLE_TO_VERIFY_LEAF_SIGNATURE', async () => {
      const tap = await mqttsUpstream({}, broker.ports.wss, 'wss');
      try {
        await refusedConnect(`mqtt://127.0.0.1:${tap.port()}`);
        const err = await tap.sink.waitFor((r) => r.record.event === 'upstream-error');
        expect(err.record).toMatchObject({
          upstream: `wss://127.0.0.1:${broker.ports.wss}/mqtt`,
          code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
          error: 'unable to verify the first certificate',
          hint: expect.stringContaining('--upstream-ca FILE'),
        });
      } finally {
        await tap.close();
      }
    });

    it('--insecure: an unverifiable broker certificate is accepted', async () => {
      const tap = await mqttsUpstream({ insecure: true });
      try {
        await connectAndEnd(`mqtt://127.0.0.1:${tap.port()}`);
        const open = await tap.open(0);
        await tap.closed(String(open.conn));
        expect(packetKinds(tap.packets(String(open.conn)))).toEqual(CONNECTED);
        expect(tap.sink.events('upstream-error')).toEqual([]);
      } finally {
        await tap.close();
      }
    });

    it('a plain broker port dialled as mqtts://: upstream-error with the hint to use mqtt://', async () => {
      const tap = await mqttsUpstream({ ca: certs.read(certs.ca) }, broker.ports.tcp);
      try {
        await refusedConnect(`mqtt://127.0.0.1:${tap.port()}`);
        const err = await tap.sink.waitFor((r) => r.record.event === 'upstream-error');
        expect(err.record).toMatchObject({ code: expect.stringMatching(/^(ERR_SSL_|ECONNRESET)/) });
      } finally {
        await tap.close();
      }
    });
  });

  it('a TLS ClientHello on a plain listener is reported as not-mqtt with the hint to use mqtts://', async () => {
    const tap = await tapProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: broker.ports.tcp },
    });
    try {
      const socket = tls.connect({ host: '127.0.0.1', port: tap.port(), rejectUnauthorized: false });
      socket.on('error', () => {});
      const notMqtt = await tap.sink.waitFor((r) => r.record.event === 'not-mqtt');
      socket.destroy();
      expect(notMqtt.record).toMatchObject({
        from: 'client',
        looksLike: 'tls',
        hint: expect.stringContaining('mqtts://'),
      });
      expect(notMqtt.msg).toContain('TLS ClientHello');
    } finally {
      await tap.close();
    }
  });

  it('startProxy refuses a TLS listener without a certificate', async () => {
    await expect(
      tapProxy({
        listen: [{ host: '127.0.0.1', port: 0, transport: 'wss' }],
        upstream: { host: '127.0.0.1', port: 1883 },
      }),
    ).rejects.toThrow('needs options.tls');
  });
});
