import { describe, expect, it } from 'vitest';
import {
  type PeerIndex,
  type SegmentIn,
  TcpReassembler,
  type TcpStream,
} from '../../src/replay/tcp-reassembly.js';

const A = { address: '10.0.0.1', port: 50_000 };
const B = { address: '10.0.0.2', port: 1883 };
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

type Ev =
  | { e: 'open'; id: number }
  | { e: 'data'; id: number; side: PeerIndex; text: string }
  | { e: 'gap'; id: number; side: PeerIndex; bytes: number; offset: number }
  | { e: 'close'; id: number; how: string; by: PeerIndex | undefined; refused: boolean };

function harness(maxPendingBytes?: number) {
  const events: Ev[] = [];
  const streams: TcpStream[] = [];
  const r = new TcpReassembler(
    {
      open: (s) => {
        streams.push(s);
        events.push({ e: 'open', id: s.id });
      },
      data: (s, side, bytes) => events.push({ e: 'data', id: s.id, side, text: bytes.toString('latin1') }),
      gap: (s, side, bytes, offset) => events.push({ e: 'gap', id: s.id, side, bytes, offset }),
      close: (s) => events.push({ e: 'close', id: s.id, how: s.end!.how, by: s.end!.by, refused: s.refused }),
    },
    maxPendingBytes === undefined ? {} : { maxPendingBytes },
  );
  let ts = 0;
  const seg = (from: 'a' | 'b', flags: number, seq: number, ack: number, text = ''): void => {
    const s: SegmentIn = {
      src: from === 'a' ? A : B,
      dst: from === 'a' ? B : A,
      seq: seq >>> 0,
      ack: ack >>> 0,
      flags,
      payload: Buffer.from(text, 'latin1'),
      length: text.length,
    };
    r.push(s, ++ts);
  };
  /** Text delivered per side of stream `id`, gaps shown as `[n]`. */
  const text = (id: number, side: PeerIndex): string =>
    events
      .filter((e) => (e.e === 'data' || e.e === 'gap') && e.id === id && e.side === side)
      .map((e) => (e.e === 'data' ? e.text : e.e === 'gap' ? `[${e.bytes}]` : ''))
      .join('');
  return { r, events, streams, seg, text, finish: () => r.finish(++ts) };
}

/** Client ISN 1000, server ISN 5000: handshake done, next bytes at 1001 / 5001. */
function handshake(h: ReturnType<typeof harness>): void {
  h.seg('a', SYN, 1000, 0);
  h.seg('b', SYN | ACK, 5000, 1001);
  h.seg('a', ACK, 1001, 5001);
}

describe('TCP reassembly', () => {
  it('in-order data both ways, FIN/FIN/ACK: one open, in-order data, one close; the last ACK is ignored', () => {
    const h = harness();
    handshake(h);
    h.seg('a', ACK | PSH, 1001, 5001, 'hello');
    h.seg('b', ACK | PSH, 5001, 1006, 'world');
    h.seg('a', FIN | ACK, 1006, 5006);
    h.seg('b', FIN | ACK, 5006, 1007);
    h.seg('a', ACK, 1007, 5007);
    expect(h.events).toEqual([
      { e: 'open', id: 1 },
      { e: 'data', id: 1, side: 0, text: 'hello' },
      { e: 'data', id: 1, side: 1, text: 'world' },
      { e: 'close', id: 1, how: 'fin', by: 0, refused: false },
    ]);
    expect(h.streams[0]!.initiator).toBe(0);
  });

  it('out-of-order segments are delivered in order once the hole fills', () => {
    const h = harness();
    handshake(h);
    h.seg('a', ACK, 1011, 5001, 'CCCCC');
    h.seg('a', ACK, 1006, 5001, 'BBBBB');
    expect(h.text(1, 0)).toBe('');
    h.seg('a', ACK, 1001, 5001, 'AAAAA');
    expect(h.text(1, 0)).toBe('AAAAABBBBBCCCCC');
  });

  it('retransmitted and overlapping segments: every byte once, the first copy wins', () => {
    const h = harness();
    handshake(h);
    h.seg('a', ACK, 1001, 5001, 'abcdef');
    h.seg('a', ACK, 1001, 5001, 'abcdef'); // retransmission
    h.seg('a', ACK, 1004, 5001, 'DEFghi'); // overlap: 'def' already delivered
    h.seg('a', ACK, 1013, 5001, 'mno'); // ahead
    h.seg('a', ACK, 1011, 5001, 'KLMN'); // overlaps the pending one
    h.seg('a', ACK, 1010, 5001, 'j'); // fills the hole: j, KLMN, then the 'o' of 'mno'
    expect(h.text(1, 0)).toBe('abcdefghijKLMNo');
  });

  it('sequence numbers wrapping past 2^32', () => {
    const h = harness();
    h.seg('a', SYN, 0xffff_fffd, 0);
    h.seg('b', SYN | ACK, 7, 0xffff_fffe);
    h.seg('a', ACK, 0xffff_fffe, 8, 'wrap');
    h.seg('a', ACK, 2, 8, 'ped');
    expect(h.text(1, 0)).toBe('wrapped');
  });

  it('bytes the receiver acknowledged but the capture missed are a gap, at once', () => {
    const h = harness();
    handshake(h);
    h.seg('a', ACK, 1001, 5001, 'first');
    // 1006..1016 never captured.
    h.seg('a', ACK, 1016, 5001, 'third');
    expect(h.text(1, 0)).toBe('first');
    h.seg('b', ACK, 5001, 1021, '');
    expect(h.text(1, 0)).toBe('first[10]third');
    expect(h.events.find((e) => e.e === 'gap')).toEqual({ e: 'gap', id: 1, side: 0, bytes: 10, offset: 5 });
  });

  it('a segment that acknowledges lost bytes and carries an answer to them: the gap comes first', () => {
    const h = harness();
    handshake(h);
    // 1001..1011 (a request) never captured; the server's answer acknowledges it.
    h.seg('b', ACK | PSH, 5001, 1011, 'answer');
    expect(h.events.filter((e) => e.e === 'gap' || e.e === 'data').map((e) => e.e)).toEqual(['gap', 'data']);
  });

  it('the pending budget bounds memory: past it, the hole is declared lost', () => {
    const h = harness(8);
    handshake(h);
    h.seg('a', ACK, 1011, 5001, 'xxxxx');
    h.seg('a', ACK, 1016, 5001, 'yyyyy');
    expect(h.text(1, 0)).toBe('[10]xxxxxyyyyy');
  });

  it('at the end of the capture, what waits behind a hole comes after a gap; the close says capture-end', () => {
    const h = harness();
    handshake(h);
    h.seg('a', ACK, 1001, 5001, 'one');
    h.seg('a', ACK, 1010, 5001, 'two');
    h.finish();
    expect(h.text(1, 0)).toBe('one[6]two');
    expect(h.events[h.events.length - 1]).toEqual({
      e: 'close',
      id: 1,
      how: 'capture-end',
      by: undefined,
      refused: false,
    });
  });

  it('a capture that starts mid-connection: first sender is side 0, initiator unknown', () => {
    const h = harness();
    h.seg('b', ACK, 9000, 300, 'resp');
    h.seg('a', ACK, 300, 9004, 'req');
    expect(h.streams[0]!.initiator).toBeUndefined();
    expect(h.streams[0]!.endpoints[0]).toEqual(B);
    expect(h.text(1, 0)).toBe('resp');
    expect(h.text(1, 1)).toBe('req');
  });

  it('RST ends the connection; a SYN answered by RST is a refusal', () => {
    const h = harness();
    handshake(h);
    h.seg('a', ACK, 1001, 5001, 'x');
    h.seg('b', RST | ACK, 5001, 1002);
    expect(h.events[h.events.length - 1]).toEqual({ e: 'close', id: 1, how: 'rst', by: 1, refused: false });
    // The same tuple again: a new connection; the broker refuses it.
    h.seg('a', SYN, 777, 0);
    h.seg('b', RST | ACK, 0, 778);
    expect(h.events.slice(-2)).toEqual([
      { e: 'open', id: 2 },
      { e: 'close', id: 2, how: 'rst', by: 1, refused: true },
    ]);
  });

  it('a packet cut by the snap length: what was captured, then a gap for the rest', () => {
    const h = harness();
    handshake(h);
    h.r.push(
      { src: A, dst: B, seq: 1001, ack: 5001, flags: ACK, payload: Buffer.from('abc'), length: 10 },
      10,
    );
    h.seg('a', ACK, 1011, 5001, 'next');
    expect(h.text(1, 0)).toBe('abc[7]next');
  });
});

describe('TCP reassembly: memory does not grow with the capture', () => {
  /** A whole connection on client port `port`: handshake, a request, FIN both ways, the last ACK. */
  function connection(h: ReturnType<typeof harness>, port: number, tsUs: number): void {
    const a = { address: '10.0.0.1', port };
    const seg = (from: 'a' | 'b', flags: number, seq: number, ack: number, text = ''): void =>
      h.r.push(
        {
          src: from === 'a' ? a : B,
          dst: from === 'a' ? B : a,
          seq,
          ack,
          flags,
          payload: Buffer.from(text),
          length: text.length,
        },
        tsUs,
      );
    seg('a', SYN, 1000, 0);
    seg('b', SYN | ACK, 5000, 1001);
    seg('a', ACK | PSH, 1001, 5001, 'hi');
    seg('a', FIN | ACK, 1003, 5001);
    seg('b', FIN | ACK, 5001, 1004);
    seg('a', ACK, 1004, 5002);
  }

  it('ended connections are forgotten: 12,000 one after another leave at most 10,000 remembered', () => {
    const h = harness();
    for (let i = 0; i < 12_000; i++) connection(h, 10_000 + i, i);
    const closes = h.events.filter((e) => e.e === 'close');
    expect(closes).toHaveLength(12_000);
    expect(h.r.sizes.open).toBe(0);
    expect(h.r.sizes.ended).toBeLessThanOrEqual(10_000);
  });

  it('and after two minutes of capture time, none; their late packets meanwhile are still ignored', () => {
    const h = harness();
    for (let i = 0; i < 100; i++) connection(h, 10_000 + i, i);
    // A retransmitted FIN of the first connection: not a new connection.
    h.r.push(
      {
        src: { address: '10.0.0.1', port: 10_000 },
        dst: B,
        seq: 1003,
        ack: 5002,
        flags: FIN | ACK,
        payload: Buffer.alloc(0),
        length: 0,
      },
      1000,
    );
    expect(h.events.filter((e) => e.e === 'open')).toHaveLength(100);
    connection(h, 20_000, 121_000_000);
    expect(h.r.sizes.ended).toBe(1);
  });

  it('a held segment is a copy: it does not pin the buffer it was read from', () => {
    const delivered: Buffer[] = [];
    const r = new TcpReassembler({
      open: () => {},
      data: (_s, _side, bytes) => delivered.push(bytes),
      gap: () => {},
      close: () => {},
    });
    const seg = (seq: number, flags: number, payload: Buffer): void =>
      r.push({ src: A, dst: B, seq, ack: 5001, flags, payload, length: payload.length }, 1);
    seg(1000, SYN, Buffer.alloc(0));
    // A 1 MiB read buffer, as the capture reader's, with four bytes of it ahead of a hole.
    const read = Buffer.alloc(1024 * 1024, 'x');
    read.write('LATE', 1000, 'latin1');
    seg(1005, ACK, read.subarray(1000, 1004));
    seg(1001, ACK, Buffer.from('EARL'));
    expect(Buffer.concat(delivered).toString()).toBe('EARLLATE');
    const late = delivered[delivered.length - 1]!;
    expect(late.buffer).not.toBe(read.buffer);
    expect(late.buffer.byteLength).toBeLessThan(1024);
  });

  it('tiny held segments count what they cost, not only their bytes: 20,000 one-byte holes do not all stay held', () => {
    const h = harness();
    handshake(h);
    // One byte in every other position: each waits behind its own one-byte hole.
    for (let i = 0; i < 20_000; i++) h.seg('a', ACK, 1002 + 2 * i, 5001, 'x');
    expect(h.r.sizes.pendingBytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    // The default budget holds about 16,000 of them; each one more declares the oldest hole lost.
    expect(h.events.filter((e) => e.e === 'gap').length).toBeGreaterThan(3000);
  });

  it('the bytes held by all connections together are bounded too', () => {
    const events: Ev[] = [];
    const r = new TcpReassembler(
      {
        open: () => {},
        data: () => {},
        gap: (s, side, bytes, offset) => events.push({ e: 'gap', id: s.id, side, bytes, offset }),
        close: () => {},
      },
      { maxPendingBytes: 100_000, maxTotalPendingBytes: 50_000 },
    );
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      const a = { address: '10.0.0.1', port: 20_000 + i };
      r.push({ src: a, dst: B, seq: 1000, ack: 0, flags: SYN, payload: Buffer.alloc(0), length: 0 }, i);
      // 200 bytes past a hole: held.
      r.push({ src: a, dst: B, seq: 1011, ack: 0, flags: 0, payload: Buffer.alloc(200), length: 200 }, i);
      peak = Math.max(peak, r.sizes.pendingBytes);
    }
    expect(peak).toBeLessThanOrEqual(50_000);
    expect(events.length).toBeGreaterThan(0);
  });
});
