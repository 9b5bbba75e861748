/**
 * The bounded line batch against a destination the test controls: what it holds never exceeds its
 * bound, lines beyond it are dropped and counted, a notice follows once writing resumes, and a
 * failed destination holds nothing.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import { Framer } from '../../src/protocol/framer.js';
import type { Frame } from '../../src/protocol/types.js';
import { DEFAULT_RECORD_OPTIONS } from '../../src/record/defaults.js';
import { writePacketLine, writeRecordLine } from '../../src/record/ndjson-line.js';
import { LineBatch } from '../../src/sinks/line-batch.js';
import type { LogDestination } from '../../src/sinks/log-destination.js';
import type { PacketHead } from '../../src/sinks/sink.js';
import * as mqtt from '../helpers/packets.js';

const LIMIT = 256 * 1024;

/** A destination whose writes complete only when the test says so. */
class HeldDestination implements LogDestination {
  readonly written: Buffer[] = [];
  pending: { chunk: Buffer; done: (err: Error | null) => void } | undefined;
  closed = false;
  closedWhileWriting = false;

  write(chunk: Buffer, done: (err: Error | null) => void): void {
    // The batch may reuse the buffer once the write is done: keep a copy.
    this.pending = { chunk: Buffer.from(chunk), done };
  }
  writeNow(chunk: Buffer): boolean {
    this.written.push(Buffer.from(chunk));
    return true;
  }
  close(): void {
    this.closed = true;
    if (this.pending !== undefined) this.closedWhileWriting = true;
  }
  /** Completes the write in progress; false when there is none. */
  complete(err: Error | null = null): boolean {
    const p = this.pending;
    if (p === undefined) return false;
    this.pending = undefined;
    if (err === null) this.written.push(p.chunk);
    p.done(err);
    return true;
  }
  drain(): void {
    while (this.complete()) {}
  }
  text(): string {
    return Buffer.concat(this.written).toString('utf8');
  }
}

function batchOn(dest: LogDestination, failures: Error[] = []): LineBatch {
  return new LineBatch(LIMIT, dest, {
    dropNotice: (out, n) => out.putText(`{"event":"log-dropped","lines":${n}}\n`),
    failed: (err) => failures.push(err),
  });
}

const line = (i: number): string => `{"i":${i},"pad":"${'x'.repeat(200)}"}\n`;

describe('LineBatch', () => {
  it('holds at most its bound while the destination is stuck; the rest is dropped and counted', () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    for (let i = 0; i < 20_000; i++) {
      batch.putText(line(i));
      expect(batch.heldBytes()).toBeLessThanOrEqual(LIMIT);
    }
    expect(batch.droppedLines()).toBeGreaterThan(18_000);
    // Nothing was written, and the first line is at the head of the write in progress.
    expect(dest.written).toEqual([]);
    expect(dest.pending?.chunk.toString('utf8').startsWith(line(0))).toBe(true);
  });

  it('once writing resumes: every line kept arrives whole and in order, then one notice with the count, then new lines', async () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    let i = 0;
    while (batch.droppedLines() === 0) batch.putText(line(i++));
    for (let k = 0; k < 100; k++) batch.putText(line(i++));
    const dropped = batch.droppedLines();
    expect(dropped).toBe(101);
    dest.drain();
    batch.putText(line(i));
    await Promise.all([batch.flush(), Promise.resolve().then(() => dest.drain())]);
    dest.drain();
    const out = dest.text().split('\n').slice(0, -1);
    const kept = out.filter((l) => !l.includes('log-dropped'));
    const notices = out.filter((l) => l.includes('log-dropped'));
    expect(notices).toEqual([`{"event":"log-dropped","lines":${dropped}}`]);
    // Kept: everything before the first drop, in order, and the line after the notice.
    const numbers = kept.map((l) => (JSON.parse(l) as { i: number }).i);
    expect(numbers).toEqual([...Array.from({ length: i - dropped }, (_, n) => n), i]);
    expect(out.indexOf(notices[0]!)).toBe(out.length - 2);
  });

  it('writes the notice as soon as half the bound is free, without waiting for another line', () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    let i = 0;
    while (batch.droppedLines() === 0) batch.putText(line(i++));
    dest.drain();
    batch.tick();
    dest.drain();
    expect(dest.text()).toContain('{"event":"log-dropped","lines":1}\n');
  });

  it('flush() also waits for lines written while it waits (the drop notice among them)', async () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    let i = 0;
    while (batch.droppedLines() === 0) batch.putText(line(i++));
    let flushed = false;
    const flushing = batch.flush().then(() => {
      flushed = true;
    });
    while (dest.complete()) await Promise.resolve();
    await flushing;
    expect(flushed).toBe(true);
    expect(dest.text().endsWith('{"event":"log-dropped","lines":1}\n')).toBe(true);
    expect(batch.heldBytes()).toBe(0);
  });

  it('a failed destination: reported once, everything held is let go, later lines are discarded', async () => {
    const dest = new HeldDestination();
    const failures: Error[] = [];
    const batch = batchOn(dest, failures);
    for (let i = 0; i < 5_000; i++) batch.putText(line(i));
    const droppedBefore = batch.droppedLines();
    const flushed = batch.flush();
    dest.complete(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await flushed;
    expect(failures.map((e) => e.message)).toEqual(['write EPIPE']);
    expect(batch.failed).toBe(true);
    expect(batch.heldBytes()).toBe(0);
    for (let i = 0; i < 5_000; i++) batch.putText(line(i));
    expect(batch.heldBytes()).toBe(0);
    expect(batch.buf.length).toBe(0);
    expect(dest.pending).toBeUndefined();
    expect(failures).toHaveLength(1);
    // Discarded after a failure is not "dropped for want of room".
    expect(batch.droppedLines()).toBe(droppedBefore);
  });

  it('a line longer than a batch buffer arrives whole', async () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    const big = `{"big":"${'y'.repeat(200_000)}"}\n`;
    batch.putText(line(1));
    batch.putText(big);
    batch.putText(line(2));
    const flushed = batch.flush();
    dest.drain();
    await flushed;
    dest.drain();
    expect(dest.text()).toBe(line(1) + big + line(2));
  });

  it('close() while a write is in progress lets go of the destination only once that write is done', () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    batch.putText(line(1));
    batch.tick();
    expect(dest.pending).toBeDefined();
    batch.close();
    expect(dest.closed).toBe(false);
    dest.complete();
    expect(dest.closed).toBe(true);
    expect(dest.closedWhileWriting).toBe(false);
    batch.putText(line(2));
    expect(batch.heldBytes()).toBe(0);
  });

  it('whenRoom() waits while more than half the bound is held', async () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    expect(batch.whenRoom()).toBeUndefined();
    let i = 0;
    while (batch.heldBytes() <= LIMIT / 2) batch.putText(line(i++));
    const room = batch.whenRoom();
    expect(room).toBeInstanceOf(Promise);
    let resolved = false;
    void room!.then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    dest.drain();
    await room;
    expect(batch.droppedLines()).toBe(0);
  });
});

describe('record/ writes its lines into the batch: reserve, write in place, commit', () => {
  const head: PacketHead = { event: 'packet', conn: 'c1', from: 'client' };
  const frames: Frame[] = [];
  new Framer({ frame: (f) => frames.push(f), error: () => {} }).push(
    mqtt.publish({ version: '5.0', topic: 't', payload: Buffer.from('x') }),
  );
  const packet = decodeFrame(frames[0]!, '5.0');

  it('commits the line written', async () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    expect(writePacketLine(batch, 'info', 1, head, packet, undefined, DEFAULT_RECORD_OPTIONS)).toBe(true);
    expect(writeRecordLine(batch, 'info', 1, { event: 'open' }, 'm')).toBe(true);
    const flushed = batch.flush();
    dest.drain();
    await flushed;
    const lines = dest.text().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, time: 1, event: 'packet', topic: 't' });
    expect(lines[1]).toBe('{"level":30,"time":1,"event":"open","msg":"m"}');
  });

  it('a line with no room is dropped and counted once', () => {
    const batch = batchOn(new HeldDestination());
    const big = { event: 'x', pad: 'y'.repeat(LIMIT) };
    expect(writeRecordLine(batch, 'info', 1, big, 'm')).toBe(false);
    expect(batch.droppedLines()).toBe(1);
    expect(batch.heldBytes()).toBe(0);
  });

  it('never holds more than its bound, even from lines that outgrow their first reservation', () => {
    const dest = new HeldDestination();
    const batch = batchOn(dest);
    // Lines of many lengths, most longer than the room a line first asks for.
    for (let i = 0; i < 2000; i++) {
      writeRecordLine(batch, 'info', 1, { event: 'x', pad: 'y'.repeat((i * 397) % 9000) }, 'm');
      expect(batch.heldBytes()).toBeLessThanOrEqual(LIMIT);
    }
    expect(batch.droppedLines()).toBeGreaterThan(0);
  });
});
