/**
 * The whole product as a user starts it: `mqtt-tap -l PORT` with no --upstream starts an embedded
 * mosquitto, says so in its first records, proxies mosquitto_pub and mosquitto_sub, and on SIGTERM
 * exits 0 with every record flushed to the log file.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/sinks/sink.js';
import { freePort } from '../helpers/free-port.js';
import { MOSQUITTO_PUB, MOSQUITTO_SUB, mosquittoVersion, requireMosquitto } from '../helpers/mosquitto.js';
import { type LogLine, startCli, stopCli } from './helpers/cli.js';
import { Expected } from './helpers/expected.js';
import { Cleanups, runTool } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** pino's numeric levels. */
const INFO = 30;

/** A log line without pino's own fields, as the tap wrote it. */
function fields(line: LogLine): LogRecord {
  const { level: _level, time: _time, msg: _msg, ...rest } = line;
  return rest;
}

describe.skipIf(!requireMosquitto())(
  'mqtt-tap CLI end to end: embedded mosquitto, its clients, SIGTERM',
  () => {
    it('says which broker it started, logs mosquitto_pub → mosquitto_sub, exits 0 on SIGTERM with the log flushed', async () => {
      const port = await freePort();
      const cli = await startCli(cleanups, ['-l', `127.0.0.1:${port}`]);
      const embedded = await cli.waitForRecord((r) => r.event === 'embedded-broker');
      const [listening] = cli.log();
      expect(cli.log().slice(0, 2)).toEqual([listening, embedded]);
      const upstream = String(embedded.address);
      const version = mosquittoVersion();
      expect(listening).toEqual({
        level: INFO,
        time: expect.any(Number),
        msg: `listening on 127.0.0.1:${port}, forwarding to ${upstream} (embedded mosquitto)`,
        event: 'listening',
        addresses: [`127.0.0.1:${port}`],
        upstream,
        embedded: 'mosquitto',
      });
      expect(embedded).toEqual({
        level: INFO,
        time: expect.any(Number),
        msg: `no --upstream: started an embedded mosquitto ${version} on ${upstream} (MQTT 3.1, 3.1.1 and 5.0); it stops with mqtt-tap`,
        event: 'embedded-broker',
        kind: 'mosquitto',
        version,
        address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        protocols: ['3.1', '3.1.1', '5.0'],
      });

      const common = ['-h', '127.0.0.1', '-p', String(port)];
      const sub = spawn(
        MOSQUITTO_SUB,
        [...common, '-V', 'mqttv5', '-i', 'cli-sub', '-t', 'cli/#', '-C', '1'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const subExit = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
      cleanups.add(async () => {
        if (sub.exitCode === null && sub.signalCode === null) sub.kill('SIGKILL');
        await subExit;
      });
      let subOut = '';
      sub.stdout.on('data', (c: Buffer) => {
        subOut += c.toString();
      });
      await cli.waitForRecord((r) => r.type === 'SUBACK');
      const pub = await runTool(MOSQUITTO_PUB, [
        ...common,
        ...['-V', 'mqttv311', '-i', 'cli-pub', '-t', 'cli/hello', '-m', 'hello through the tap', '-q', '1'],
      ]);
      expect(pub).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await subExit).toBe(0);
      expect(subOut).toBe('hello through the tap\n');
      const connOf = (clientId: string): string =>
        String(cli.log().find((r) => r.type === 'CONNECT' && r.clientId === clientId)?.conn);
      await cli.waitForRecord((r) => r.event === 'close' && r.conn === connOf('cli-pub'));
      await cli.waitForRecord((r) => r.event === 'close' && r.conn === connOf('cli-sub'));

      expect(await stopCli(cli)).toBe(0);
      const log = cli.log();
      // Flushed: the last record is there, after the shutdown notice.
      expect(log.slice(-2).map(fields)).toEqual([
        { event: 'shutdown', signal: 'SIGTERM', connections: 0, graceMs: 2000 },
        { event: 'stopped', signal: 'SIGTERM' },
      ]);

      const address = { port, upstream };
      const pubConn = connOf('cli-pub');
      const pubRecords = log.filter((r) => r.conn === pubConn);
      const pubId = Number(pubRecords.find((r) => r.type === 'PUBLISH')?.packetId);
      const p = new Expected(pubConn, 4)
        .connect({ clientId: 'cli-pub' })
        .connack(0)
        .publish('client', { topic: 'cli/hello', payload: 'hello through the tap', qos: 1, packetId: pubId })
        .ack('broker', 'PUBACK', pubId, 'cli/hello')
        .disconnect('client');
      expect(pubRecords.map(fields)).toEqual(
        p.all(address, fields(pubRecords[0]!), {
          closedBy: 'client',
          lastReason: p.lastReason('DISCONNECT', 'client'),
          clean: true,
        }),
      );
      expect(pubRecords.map((r) => r.msg.replace(/\d+(?:\.\d+)? ms\b/g, 'N ms'))).toEqual([
        expect.stringMatching(new RegExp(`^open 127\\.0\\.0\\.1:\\d+ → ${upstream}$`)),
        'CONNECT "cli-pub" MQTT 3.1.1 keepAlive=60 clean',
        'CONNACK 0x00 Connection Accepted (N ms)',
        'session 3.1.1, keep-alive 60 s',
        `PUBLISH cli/hello qos=1 id=${pubId} 21 B "hello through the tap"`,
        `PUBACK id=${pubId} (cli/hello, N ms)`,
        'DISCONNECT',
        'close by client after N ms, 3↑ 2↓ packets, last DISCONNECT, clean',
      ]);

      const subConn = connOf('cli-sub');
      const subRecords = log.filter((r) => r.conn === subConn);
      const subscribeId = Number(subRecords.find((r) => r.type === 'SUBSCRIBE')?.packetId);
      const s = new Expected(subConn, 5)
        // mosquitto_sub asks for Receive Maximum 1 and leaves its DISCONNECT empty (reason 0x00 implied).
        .connect({ clientId: 'cli-sub', properties: { receiveMaximum: 1 }, propertyBytes: 3 })
        .connack(0, { topicAliasMaximum: 10, receiveMaximum: 20 }, 6)
        .subscribe(subscribeId, [['cli/#', 0]])
        .suback(subscribeId, [['cli/#', 0]])
        .publish('broker', { topic: 'cli/hello', payload: 'hello through the tap', qos: 0 })
        .disconnect('client', 0, 0);
      expect(subRecords.map(fields)).toEqual(
        s.all(address, fields(subRecords[0]!), {
          closedBy: 'client',
          lastReason: s.lastReason('DISCONNECT', 'client'),
          clean: true,
        }),
      );
      expect(log.filter((r) => r.event === 'packet').every((r) => r.level === INFO)).toBe(true);
    });
  },
);
