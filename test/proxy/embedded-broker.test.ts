import { existsSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { findMosquitto, startEmbeddedBroker } from '../../src/proxy/embedded-broker.js';
import { requireMosquitto } from '../helpers/mosquitto.js';

/** Sends one CONNECT and resolves with the raw bytes of the broker's first answer. */
function connackFor(port: number, protocolVersion: 3 | 4 | 5): Promise<Buffer> {
  const connect = mqttPacket.generate(
    {
      cmd: 'connect',
      protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion,
      clean: true,
      clientId: `embedded-${protocolVersion}`,
      keepalive: 10,
    },
    { protocolVersion },
  );
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(connect));
    socket.once('data', (answer: Buffer) => {
      socket.destroy();
      resolve(answer);
    });
    socket.once('error', reject);
  });
}

async function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('embedded broker', () => {
  it('aedes when asked (or when no mosquitto): MQTT 3.1.1 accepted, MQTT 5.0 refused with return code 1', async () => {
    const broker = await startEmbeddedBroker({ mosquitto: false });
    try {
      expect(broker).toMatchObject({ kind: 'aedes', host: '127.0.0.1', protocolLevels: [3, 4] });
      expect(broker.version).toMatch(/^\d+\.\d+\.\d+/);
      expect((await connackFor(broker.port, 4)).toString('hex')).toBe('20020000');
      expect((await connackFor(broker.port, 5)).toString('hex')).toBe('20020001');
    } finally {
      await broker.close();
    }
    expect(await portClosed(broker.port)).toBe(true);
  });

  it('a mosquitto that fails to start: aedes instead, with the reason', async () => {
    const broker = await startEmbeddedBroker({ mosquitto: '/bin/false', startTimeoutMs: 2000 });
    try {
      expect(broker.kind).toBe('aedes');
      expect(broker.fallbackReason).toMatch(/\/bin\/false failed to start: mosquitto exited during start/);
    } finally {
      await broker.close();
    }
  });

  describe.skipIf(!requireMosquitto())('with mosquitto installed', () => {
    it('is found even when /usr/sbin is not on PATH', () => {
      expect(findMosquitto('/nonexistent')).toBe('/usr/sbin/mosquitto');
    });

    it('prefers mosquitto: MQTT 3.1, 3.1.1 and 5.0 accepted; stopped and its temp dir removed on close', async () => {
      const ours = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('mqtt-tap-mosquitto-'));
      const before = new Set(ours());
      const broker = await startEmbeddedBroker({ searchPath: '/usr/sbin' });
      const created = ours().filter((d) => !before.has(d));
      try {
        expect(created).toHaveLength(1);
        expect(broker).toMatchObject({ kind: 'mosquitto', host: '127.0.0.1', protocolLevels: [3, 4, 5] });
        expect(broker.version).toMatch(/^2\.\d+\.\d+$/);
        expect((await connackFor(broker.port, 3)).toString('hex')).toBe('20020000');
        expect((await connackFor(broker.port, 4)).toString('hex')).toBe('20020000');
        // 5.0 CONNACK: Remaining Length, flags 0, reason 0, then properties (mosquitto announces limits).
        expect((await connackFor(broker.port, 5)).subarray(0, 4).toString('hex')).toMatch(/^20..0000$/);
      } finally {
        await broker.close();
      }
      expect(await portClosed(broker.port)).toBe(true);
      expect(existsSync(join(tmpdir(), created[0]!))).toBe(false);
    });
  });
});
