/**
 * mqtt-tap behind and in front of Debian's HAProxy, with Debian's mosquitto as the broker, all
 * real processes (the built CLI, haproxy -db, mosquitto), started here and stopped by PID.
 *
 * - HAProxy `send-proxy` / `send-proxy-v2`, `balance roundrobin` over two mqtt-tap instances with
 *   --accept-proxy-protocol: clients bound to 127.0.0.2 and 127.0.0.3 appear with those addresses
 *   (and their own ports) in both instances' open records.
 * - mqtt-tap --upstream-proxy-protocol v1|v2 into HAProxy `accept-proxy` (also with `ssl`, the
 *   header before the TLS handshake) in front of mosquitto: the client gets byte for byte what
 *   mosquitto answers a direct client, and HAProxy logs the client's own address from the header.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { HAPROXY_TCP_DEFAULTS, requireHaproxy, startHaproxy } from '../helpers/haproxy.js';
import { type Mosquitto, requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { connect, disconnect, publish, subscribe } from '../helpers/packets.js';
import { generateCerts, type TestCerts } from '../transport/helpers/certs.js';
import { type LogLine, startCli } from './helpers/cli.js';
import { Cleanups } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** Whole MQTT packets at the start of `buf` (fixed header + Remaining Length). */
function packetCount(buf: Buffer): number {
  let n = 0;
  let at = 0;
  for (;;) {
    let len = 0;
    let mul = 1;
    let i = at + 1;
    for (;;) {
      const b = buf[i];
      if (b === undefined) return n;
      len += (b & 0x7f) * mul;
      mul *= 128;
      i++;
      if ((b & 0x80) === 0) break;
    }
    if (i + len > buf.length) return n;
    at = i + len;
    n++;
  }
}

interface Step {
  send: Buffer;
  /** Packets expected back in answer. */
  answers: number;
}

/** One client from `localAddress`: each step sent once the previous answers came; then FIN. */
async function runClient(
  port: number,
  localAddress: string,
  steps: readonly Step[],
): Promise<{ received: Buffer; sent: number; localPort: number }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const localPort = socket.localPort!;
  const chunks: Buffer[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    wake?.();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let expected = 0;
  let sent = 0;
  for (const step of steps) {
    socket.write(step.send);
    sent += step.send.length;
    expected += step.answers;
    const deadline = Date.now() + 10_000;
    while (packetCount(Buffer.concat(chunks)) < expected) {
      if (Date.now() > deadline)
        throw new Error(`no answer from ${localAddress}: ${Buffer.concat(chunks).toString('hex')}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }
  socket.end();
  await closed;
  return { received: Buffer.concat(chunks), sent, localPort };
}

const V = '5.0' as const;
const connectOnly = (clientId: string): Step[] => [
  { send: connect({ version: V, clientId }), answers: 1 },
  { send: disconnect(), answers: 0 },
];
/** CONNECT, SUBSCRIBE, a QoS 1 PUBLISH to itself (PUBACK and the delivery), DISCONNECT. */
const qos1Flow = (clientId: string): Step[] => [
  { send: connect({ version: V, clientId }), answers: 1 },
  { send: subscribe({ version: V, packetId: 1, subscriptions: [{ filter: 'pp/#', qos: 1 }] }), answers: 1 },
  {
    send: publish({ version: V, topic: 'pp/t', qos: 1, packetId: 2, payload: Buffer.from('through') }),
    answers: 2,
  },
  { send: disconnect(), answers: 0 },
];

async function tapCli(args: string[]) {
  const port = await freePort();
  const cli = await startCli(cleanups, ['-l', `127.0.0.1:${port}`, ...args]);
  return { cli, port };
}

const opens = (log: LogLine[]): LogLine[] => log.filter((r) => r.event === 'open');

describe.skipIf(!requireMosquitto() || !requireHaproxy())('HAProxy and the PROXY protocol', () => {
  let mosquitto: Mosquitto;
  let certs: TestCerts;
  beforeAll(async () => {
    mosquitto = await startMosquitto();
    certs = generateCerts();
  });
  afterAll(async () => {
    await mosquitto?.stop();
    certs?.remove();
  });

  it.each([
    ['send-proxy-v2', 2],
    ['send-proxy', 1],
  ] as const)(
    '%s, round robin over two instances: each sees the clients 127.0.0.2 and 127.0.0.3',
    async (option, version) => {
      const upstream = `127.0.0.1:${mosquitto.port}`;
      const a = await tapCli(['-u', upstream, '--accept-proxy-protocol']);
      const b = await tapCli(['-u', upstream, '--accept-proxy-protocol']);
      const front = await freePort();
      const haproxy = await startHaproxy(
        `${HAPROXY_TCP_DEFAULTS}
frontend mqtt
  bind 127.0.0.1:${front}
  default_backend taps
backend taps
  balance roundrobin
  server a 127.0.0.1:${a.port} ${option}
  server b 127.0.0.1:${b.port} ${option}
`,
        [front],
      );
      cleanups.add(() => haproxy.stop());

      // Round robin alternates: in this order each instance gets one client from each address.
      const sources = ['127.0.0.2', '127.0.0.3', '127.0.0.3', '127.0.0.2'];
      const clients: string[] = [];
      for (const [i, source] of sources.entries()) {
        const { localPort, received } = await runClient(front, source, connectOnly(`pp-rr-${version}-${i}`));
        expect(received[0]).toBe(0x20); // CONNACK
        clients.push(`${source}:${localPort}`);
      }
      for (const tap of [a, b]) {
        // Both connections' close records, not only the first.
        await tap.cli.waitForRecord(() => tap.cli.log().filter((r) => r.event === 'close').length === 2);
      }
      const seen = [a, b].map((tap) => opens(tap.cli.log()));
      for (const instance of seen) {
        expect(instance.map((o) => String(o.client).split(':')[0]).sort()).toEqual([
          '127.0.0.2',
          '127.0.0.3',
        ]);
        for (const open of instance) {
          expect(open.proxied).toEqual({
            version,
            via: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
            destination: `127.0.0.1:${front}`,
          });
        }
      }
      // The real ports too: every client exactly once across the two instances.
      expect(
        seen
          .flat()
          .map((o) => o.client)
          .sort(),
      ).toEqual([...clients].sort());
      // And every other record of those connections names the same client.
      for (const tap of [a, b]) {
        const log = tap.cli.log();
        for (const open of opens(log)) {
          const close = log.find((r) => r.event === 'close' && r.conn === open.conn);
          expect(close?.client).toBe(open.client);
          expect(close?.clientId).toMatch(/^pp-rr-/);
        }
        expect(log.filter((r) => r.event === 'handshake-failed')).toEqual([]);
      }
    },
  );

  it('the sample deploy/haproxy/haproxy.cfg routes by client id: every connection of an id reaches one instance', async () => {
    // Its own frontend and backend directives, with local servers in place of the DNS template.
    const sample = readFileSync(join(import.meta.dirname, '../../deploy/haproxy/haproxy.cfg'), 'utf8');
    const directives = (re: RegExp): string[] =>
      sample
        .split('\n')
        .filter((l) => re.test(l))
        .map((l) => `  ${l.trim()}`);
    const frontendLines = directives(/^\s*tcp-request /);
    const backendLines = directives(/^\s*(balance|stick-table|stick on) /);
    expect(frontendLines).toHaveLength(2);
    expect(backendLines.join('\n')).toMatch(/stick on .*mqtt_field_value\(connect,client_identifier\)/);

    const upstream = `127.0.0.1:${mosquitto.port}`;
    const a = await tapCli(['-u', upstream, '--accept-proxy-protocol']);
    const b = await tapCli(['-u', upstream, '--accept-proxy-protocol']);
    const front = await freePort();
    const haproxy = await startHaproxy(
      `${HAPROXY_TCP_DEFAULTS}
frontend mqtt
  bind 127.0.0.1:${front}
${frontendLines.join('\n')}
  default_backend taps
backend taps
${backendLines.join('\n')}
  server a 127.0.0.1:${a.port} send-proxy-v2
  server b 127.0.0.1:${b.port} send-proxy-v2
`,
      [front],
    );
    cleanups.add(() => haproxy.stop());

    const ids = ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6'];
    for (const round of [0, 1]) {
      for (const [i, id] of ids.entries()) {
        await runClient(front, i % 2 === round ? '127.0.0.2' : '127.0.0.3', connectOnly(id));
      }
    }
    const closes = (tap: { cli: { log(): LogLine[] } }): LogLine[] =>
      tap.cli.log().filter((r) => r.event === 'close');
    const deadline = Date.now() + 10_000;
    while (closes(a).length + closes(b).length < 2 * ids.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const where = new Map<string, Set<string>>();
    for (const [name, tap] of [
      ['a', a],
      ['b', b],
    ] as const) {
      for (const close of closes(tap)) {
        const id = String(close.clientId);
        where.set(id, (where.get(id) ?? new Set()).add(name));
      }
    }
    expect([...where.keys()].sort()).toEqual(ids);
    for (const [id, instances] of where) expect(instances.size, `${id} on ${[...instances]}`).toBe(1);
    // Both instances take part (new client ids are balanced).
    expect(new Set([...where.values()].flatMap((s) => [...s])).size).toBe(2);
    // The same client id from two addresses: each instance saw both of its connections.
    for (const tap of [a, b]) {
      const byId = new Map<string, string[]>();
      for (const close of closes(tap))
        byId.set(String(close.clientId), [
          ...(byId.get(String(close.clientId)) ?? []),
          String(close.client).split(':')[0]!,
        ]);
      for (const addresses of byId.values()) expect(addresses.sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    }
  });

  it.each([
    ['v2', ''],
    ['v1', ''],
    ['v2', 'ssl'],
  ] as const)(
    '--upstream-proxy-protocol %s into HAProxy accept-proxy %s: the bytes mosquitto answers, unchanged; HAProxy logs the real client',
    async (version, ssl) => {
      const back = await freePort();
      const combined = `${certs.dir}/haproxy-server.pem`;
      if (ssl) {
        writeFileSync(combined, Buffer.concat([certs.read(certs.server), certs.read(certs.serverKey)]));
      }
      const haproxy = await startHaproxy(
        `${HAPROXY_TCP_DEFAULTS}
frontend broker
  bind 127.0.0.1:${back} accept-proxy${ssl ? ` ssl crt ${combined}` : ''}
  default_backend mosquitto
backend mosquitto
  server m 127.0.0.1:${mosquitto.port}
`,
        [back],
      );
      cleanups.add(() => haproxy.stop());
      const upstreamArgs = ssl
        ? ['-u', `mqtts://127.0.0.1:${back}`, '--upstream-ca', certs.ca]
        : ['-u', `127.0.0.1:${back}`];
      const tap = await tapCli([...upstreamArgs, '--upstream-proxy-protocol', version]);

      const direct = await runClient(mosquitto.port, '127.0.0.2', qos1Flow(`pp-direct-${version}${ssl}`));
      const through = await runClient(tap.port, '127.0.0.2', qos1Flow(`pp-direct-${version}${ssl}`));
      expect(through.received.toString('hex')).toBe(direct.received.toString('hex'));
      expect(packetCount(through.received)).toBe(4); // CONNACK, SUBACK, PUBACK, PUBLISH

      // HAProxy took the client's address from our header: %ci:%cp is 127.0.0.2 and its port.
      await haproxy.waitForLog(new RegExp(`^127\\.0\\.0\\.2:${through.localPort} `));
      const close = await tap.cli.waitForRecord((r) => r.event === 'close');
      expect(close.client).toBe(`127.0.0.2:${through.localPort}`);
      // Counted are the client's bytes and the broker's, not our header.
      expect(close.bytes).toEqual({ fromClient: through.sent, fromBroker: through.received.length });
    },
  );
});
