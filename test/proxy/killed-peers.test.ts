/**
 * Peers that die: real processes killed with SIGKILL, so the kernel (not our code) closes their
 * sockets, as when a device loses power or a broker crashes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../../src/proxy/server.js';
import { connectClient, plainServer, RecordingObserver, waitUntil, whenClosed } from './harness.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A node child running `source`; resolves with the child and its first stdout line. */
async function child(source: string): Promise<{ proc: ChildProcess; firstLine: string }> {
  const proc = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let out = '';
  for await (const chunk of proc.stdout!) {
    out += String(chunk);
    if (out.includes('\n')) break;
  }
  return { proc, firstLine: out.split('\n')[0]! };
}

describe('peers killed mid-stream', () => {
  it('client process killed while streaming: the broker side is closed, closedBy client', async () => {
    let brokerBytes = 0;
    let brokerSocket: net.Socket | undefined;
    const upstream = await plainServer((s) => {
      brokerSocket = s;
      s.on('data', (c: Buffer) => {
        brokerBytes += c.length;
      });
    });
    cleanups.push(() => upstream.close());
    const observer = new RecordingObserver();
    const proxy = await startProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: upstream.port },
      observer,
    });
    cleanups.push(() => proxy.close(0));
    const { proc } = await child(`
      const s = require('node:net').connect(${proxy.addresses[0]!.port}, '127.0.0.1', () => {
        console.log('connected');
        // A PUBLISH header announcing 100 MB, then its body for as long as we live.
        s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x30]));
        const b = Buffer.alloc(65536, 1);
        const w = () => { while (s.write(b)) {} s.once('drain', w); };
        w();
      });`);
    await waitUntil(() => brokerBytes > 1024 * 1024, 5000, 'bytes at the broker');
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    const conn = await observer.nth(0);
    const info = await conn.closed;
    expect(info.closedBy).toBe('client');
    expect(info.bytes.fromClient).toBe(conn.bytes.client);
    await whenClosed(brokerSocket!);
    // Everything the proxy read from the client reached the broker before the close.
    expect(brokerBytes).toBe(info.bytes.fromClient);
  });

  it('broker process killed mid-session: the client sees the close, closedBy broker', async () => {
    const { proc, firstLine } = await child(`
      const srv = require('node:net').createServer((s) => {
        s.on('data', () => {});
        s.write(Buffer.from([0x20, 0x02, 0x00, 0x00])); // CONNACK accepted
      });
      srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));`);
    const observer = new RecordingObserver();
    const proxy = await startProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: Number(firstLine) },
      observer,
    });
    cleanups.push(() => proxy.close(0));
    const client = await connectClient(proxy.addresses[0]!.port);
    client.on('error', () => {});
    const received: Buffer[] = [];
    client.on('data', (c: Buffer) => received.push(c));
    client.write(Buffer.from('101000044d5154540402003c000474657374', 'hex'));
    await waitUntil(() => Buffer.concat(received).length >= 4, 5000, 'CONNACK');
    proc.kill('SIGKILL');
    await whenClosed(client);
    const info = await (await observer.nth(0)).closed;
    expect(info.closedBy).toBe('broker');
    expect(info.bytes).toEqual({ fromClient: 18, fromBroker: 4 });
    expect(Buffer.concat(received).toString('hex')).toBe('20020000');
  });
});
