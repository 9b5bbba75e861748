/**
 * HAProxy's health check of deploy/haproxy/haproxy.cfg (`option httpchk GET /readyz`, `check port`
 * the --metrics port) against a live mqtt-tap: the instance is taken out when its broker goes away,
 * and put back when the broker returns.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AedesBroker, startAedes } from '../helpers/aedes-broker.js';
import { freePort } from '../helpers/free-port.js';
import { HAPROXY_TCP_DEFAULTS, requireHaproxy, startHaproxy } from '../helpers/haproxy.js';
import { startCli } from './helpers/cli.js';
import { Cleanups } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** Something listening on `port` that accepts and closes: a broker as far as /readyz can tell. */
function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe.skipIf(!requireHaproxy())('HAProxy health checks on /readyz', () => {
  it('marks the instance DOWN (503) when its broker is unreachable, UP again when it is back', async () => {
    // A broker port first held by aedes, then by nothing, then by a plain listener.
    const broker: AedesBroker = await startAedes();
    let aedesUp = true;
    cleanups.add(() => (aedesUp ? broker.close() : undefined));
    const port = await freePort();
    const metrics = await freePort();
    await startCli(cleanups, [
      '-l',
      `127.0.0.1:${port}`,
      '-u',
      `127.0.0.1:${broker.port}`,
      '--metrics',
      `127.0.0.1:${metrics}`,
    ]);
    const frontend = await freePort();
    const haproxy = await startHaproxy(
      [
        HAPROXY_TCP_DEFAULTS,
        'frontend mqtt',
        `  bind 127.0.0.1:${frontend}`,
        '  default_backend mqtt_tap',
        'backend mqtt_tap',
        // As deploy/haproxy/haproxy.cfg, with a faster check.
        '  option httpchk GET /readyz',
        `  server tap1 127.0.0.1:${port} check port ${metrics} inter 300 fall 1 rise 1`,
        '',
      ].join('\n'),
      [frontend],
    );
    cleanups.add(() => haproxy.stop());

    await broker.close();
    aedesUp = false;
    const down = await haproxy.waitForLog(/tap1 is DOWN/);
    expect(down).toMatch(/Layer7 wrong status, code: 503/);

    const back = await listenOn(broker.port);
    cleanups.add(() => new Promise<void>((r) => back.close(() => r())));
    const up = await haproxy.waitForLog(/tap1 is UP/);
    expect(up).toMatch(/Layer7 check passed, code: 200/);
  });
});
