/**
 * fanOut: several observers of one connection as one. Each observer adds to the close record
 * through the contract (closeFields), and countOnly says what every observer would only count.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { deferredObserver } from '../../src/observe/deferred-observer.js';
import {
  type CloseInfo,
  type ConnectionObserver,
  fanOut,
  type OpenInfo,
  type ProxyObserver,
} from '../../src/observe/observer.js';
import { createPcapngRecorder } from '../../src/observe/pcapng-recorder.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { createCollectSink } from '../helpers/collect-sink.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
};
const CLOSE: CloseInfo = { closedBy: 'client', durationMs: 12, bytes: { fromClient: 0, fromBroker: 0 } };
// 3.1.1 CONNECT, client id "c"
const CONNECT = hex('10 0d 0004 4d515454 04 02 003c 0001 63');
// The start of a QoS 0 PUBLISH to "a" of 1,000,000 bytes: the header and 2 payload bytes.
const BIG_PUBLISH_HEAD = hex('30 c3 84 3d 0001 61 7878');

/** An observer that adds `fields` to the close record and keeps the close it is given. */
function adding(fields: Record<string, unknown> | undefined, closes: CloseInfo[]): ProxyObserver {
  return {
    open: (): ConnectionObserver => ({
      data() {},
      upstreamError() {},
      closeFields: () => fields,
      close: (info) => closes.push(info),
    }),
  };
}

/** A disk that takes nothing until released: everything past the recorder's buffer is dropped. */
function stalledDisk(): { stream: Writable; release(): void } {
  const held: Array<() => void> = [];
  let released = false;
  const stream = new Writable({
    write(_chunk, _enc, cb) {
      if (released) cb();
      else held.push(() => cb());
    },
  });
  return {
    stream,
    release() {
      released = true;
      for (const cb of held.splice(0)) cb();
    },
  };
}

describe('fanOut: close fields through the observer contract', () => {
  it('hands each observer what the others add to the close record, not its own', () => {
    const [a, b, c]: CloseInfo[][] = [[], [], []];
    const errors: unknown[] = [];
    const conn = fanOut([adding({ x: 1 }, a), adding({ y: 2 }, b), adding(undefined, c)], (e) =>
      errors.push(e),
    ).open(OPEN);
    conn.close(CLOSE);
    expect(a).toEqual([{ ...CLOSE, fields: { y: 2 } }]);
    expect(b).toEqual([{ ...CLOSE, fields: { x: 1 } }]);
    expect(c).toEqual([{ ...CLOSE, fields: { x: 1, y: 2 } }]);
    expect(errors).toEqual([]);
  });

  it('an observer whose closeFields throws is reported; the others still close', () => {
    const a: CloseInfo[] = [];
    const errors: unknown[] = [];
    const failing: ProxyObserver = {
      open: () => ({
        data() {},
        upstreamError() {},
        closeFields: () => {
          throw new Error('boom');
        },
        close() {},
      }),
    };
    fanOut([failing, adding(undefined, a)], (e) => errors.push(e))
      .open(OPEN)
      .close(CLOSE);
    expect(a).toEqual([CLOSE]);
    expect(errors).toHaveLength(1);
  });

  it("the tap's close record carries the bytes the recorder dropped (a deferred tap, as the proxy runs it)", async () => {
    const sink = createCollectSink('info');
    const disk = stalledDisk();
    const recorder = await createPcapngRecorder({
      file: 'stalled.pcapng',
      openFile: () => disk.stream,
      bufferBytes: 64 * 1024,
    });
    const tap = deferredObserver(createTap(sink, DEFAULT_TAP_OPTIONS));
    const conn = fanOut([tap, recorder], (e) => {
      throw e;
    }).open(OPEN);
    conn.upstreamConnected?.(OPEN);
    conn.data('client', CONNECT);
    const chunk = Buffer.alloc(32 * 1024, 0x41);
    conn.data('client', hex('30 80 80 80 01 0001 61'));
    for (let i = 0; i < 8; i++) conn.data('client', chunk);
    conn.close(CLOSE);
    tap.drain();
    const record = sink.events('close')[0]!.record;
    expect(record.recordDroppedBytes).toBeGreaterThan(0);
    expect(record.recordDroppedBytes).toBe(recorder.stats().droppedBytes);
    disk.release();
    await recorder.close();
  });
});

/** Keeps the connection observers `inner` opens, to ask each on its own. */
function kept(inner: ProxyObserver, conns: ConnectionObserver[]): ProxyObserver {
  return {
    open(info) {
      const c = inner.open(info);
      conns.push(c);
      return c;
    },
  };
}

describe('fanOut: countOnly', () => {
  it('is what every observer would only count: the least of theirs', () => {
    const sink = createCollectSink('info');
    const [keeps64k, keepsNone]: ConnectionObserver[][] = [[], []];
    const both = fanOut(
      [
        kept(createTap(sink, DEFAULT_TAP_OPTIONS), keeps64k),
        kept(createTap(sink, { ...DEFAULT_TAP_OPTIONS, captureCap: 0 }), keepsNone),
      ],
      (e) => {
        throw e;
      },
    ).open(OPEN);
    both.data('client', CONNECT);
    both.data('client', BIG_PUBLISH_HEAD);
    // One tap keeps nothing of the payload, the other the next 64 KiB.
    expect(keepsNone[0]!.countOnly!('client')).toBeGreaterThan(0);
    expect(keeps64k[0]!.countOnly!('client')).toBe(0);
    expect(both.countOnly?.('client')).toBe(0);
    both.data('client', Buffer.alloc(64 * 1024));
    const left = keeps64k[0]!.countOnly!('client');
    expect(left).toBeGreaterThan(0);
    expect(both.countOnly?.('client')).toBe(Math.min(left, keepsNone[0]!.countOnly!('client')));
  });

  it('is 0 when one observer cannot say', () => {
    const sink = createCollectSink('info');
    const conn = fanOut(
      [createTap(sink, { ...DEFAULT_TAP_OPTIONS, captureCap: 0 }), adding(undefined, [])],
      (e) => {
        throw e;
      },
    ).open(OPEN);
    conn.data('client', CONNECT);
    conn.data('client', BIG_PUBLISH_HEAD);
    expect(conn.countOnly?.('client')).toBe(0);
  });
});
