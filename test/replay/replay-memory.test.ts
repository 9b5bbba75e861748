/**
 * Replay's memory does not grow with the capture. It waits for its output: with a sink that does
 * not write out what it is given (a reader that stopped reading `mqtt-tap replay | less`), replay
 * stops reading the capture instead of piling records up, and goes on once the sink catches up.
 * (Reassembly's own bounds are in tcp-reassembly.test.ts.)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileHeader, TcpConversation } from '../../src/observe/pcapng-writer.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { replayCapture } from '../../src/replay/replay.js';
import type { RecordSink } from '../../src/sinks/sink.js';
import { BIN } from '../e2e/helpers/build-dist.js';
import { connack, connect, publish } from '../helpers/packets.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-replay-bp-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** One MQTT connection carrying `count` PUBLISHes of `size` bytes: a capture of about count × size. */
function bigCapture(file: string, count: number, size: number): void {
  const conv = new TcpConversation(
    { address: '10.2.0.1', port: 40_000 },
    { address: '10.2.0.2', port: 1883 },
  );
  const parts: Buffer[] = [fileHeader()];
  const add = (segs: ReturnType<TcpConversation['data']>): void => {
    for (const seg of segs) {
      const b = Buffer.alloc(conv.path.blockLength(seg));
      conv.path.writeBlock(b, 0, seg);
      parts.push(b);
    }
  };
  let t = 1_700_000_000_000_000;
  add([conv.syn(t), ...conv.accept(t)]);
  add(conv.data('client', connect({ version: '3.1.1', clientId: 'big' }), ++t));
  add(conv.data('broker', connack({ version: '3.1.1' }), ++t));
  const payload = Buffer.alloc(size, 'p');
  for (let i = 0; i < count; i++) {
    add(conv.data('client', publish({ version: '3.1.1', topic: `t/${i}`, payload }), ++t));
  }
  add(conv.finish('client', ++t));
  writeFileSync(file, Buffer.concat(parts));
}

/**
 * A sink that keeps nothing and counts records; once it holds `limit` of them its output is
 * "behind" (as a log sink whose reader stopped) until the test releases it.
 */
function stalledSink(limit: number) {
  let released = false;
  let release: () => void = () => {};
  const room = new Promise<void>((r) => {
    release = r;
  });
  let calledBack: () => void = () => {};
  const backlogSeen = new Promise<void>((r) => {
    calledBack = r;
  });
  const sink = {
    records: 0,
    isLevelEnabled: () => true,
    write(): void {
      sink.records++;
    },
    writePacket(): void {
      sink.records++;
    },
    flush: (): Promise<void> => Promise.resolve(),
    backlog(): Promise<void> | undefined {
      if (released || sink.records < limit) return undefined;
      calledBack();
      return room;
    },
    release(): void {
      released = true;
      release();
    },
    backlogSeen,
  };
  return sink satisfies RecordSink & object;
}

describe('replay waits for its output', () => {
  it('stops reading the capture while the sink holds what it was given, and finishes once it writes out', async () => {
    const file = join(dir, 'big.pcapng');
    const count = 3000;
    bigCapture(file, count, 4096);
    const sink = stalledSink(count / 3);
    let finished = false;
    const done = replayCapture({
      files: [file],
      sink,
      tap: DEFAULT_TAP_OPTIONS,
      clock: { ms: 0 },
      outputBacklog: sink.backlog,
    }).then((r) => {
      finished = true;
      return r;
    });
    await Promise.race([sink.backlogSeen, done]);
    expect(finished, 'replay ran to the end without waiting for its sink').toBe(false);
    const written = sink.records;
    // A third of the records, the rest not yet read.
    expect(written).toBeLessThan(count / 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.records).toBe(written);
    expect(finished).toBe(false);
    sink.release();
    const result = await done;
    expect(result.mqttConnections).toBe(1);
    // open, CONNECT, CONNACK, session, the PUBLISHes, close.
    expect(sink.records).toBe(count + 5);
  });

  // The command as users run it, its stdout a pipe nobody reads for a while.
  it.skipIf(process.platform !== 'linux')(
    '`mqtt-tap replay big.pcapng | less`: the capture is not read ahead of what the reader took',
    async () => {
      const file = join(dir, 'big.pcapng');
      const count = 6000;
      bigCapture(file, count, 4096);
      const replay = spawn(process.execPath, [BIN, 'replay', '--log-buffer', '64KiB', file], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((r) => replay.once('exit', (code) => r(code)));
      try {
        /** How far mqtt-tap has read the capture; undefined once it closed it (read to the end). */
        const position = (): number | undefined => {
          const fds = `/proc/${replay.pid}/fd`;
          for (const fd of readdirSync(fds)) {
            try {
              if (readlinkSync(`${fds}/${fd}`) !== file) continue;
              return Number(
                /^pos:\s+(\d+)/m.exec(readFileSync(`/proc/${replay.pid}/fdinfo/${fd}`, 'utf8'))![1],
              );
            } catch {
              // closed meanwhile
            }
          }
          return undefined;
        };
        // Wait until it stops reading (the position holds still for a second), or closes the file.
        let last = -1;
        let stillSince = Date.now();
        let opened = false;
        for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
          await new Promise((r) => setTimeout(r, 100));
          const pos = position();
          if (pos === undefined && opened) break;
          if (pos === undefined) continue;
          opened = true;
          if (pos !== last) {
            last = pos;
            stillSince = Date.now();
          } else if (Date.now() - stillSince > 1000) break;
        }
        const pos = position();
        expect(pos, 'mqtt-tap read the whole capture while nobody read its output').toBeDefined();
        // The capture is 24 MiB; replay waits once half the 64 KiB log buffer is held, plus what the
        // pipe holds and the file stream reads ahead.
        expect(pos!).toBeLessThan(8 * 1024 * 1024);
        // Now read: everything comes out, and it exits cleanly.
        let lines = 0;
        let tail = '';
        replay.stdout!.on('data', (chunk: Buffer) => {
          const text = tail + chunk.toString('utf8');
          const parts = text.split('\n');
          tail = parts.pop()!;
          lines += parts.length;
        });
        replay.stderr!.resume();
        expect(await exited).toBe(0);
        expect(lines).toBe(count + 5);
      } finally {
        if (replay.exitCode === null) replay.kill('SIGKILL');
        await exited;
      }
    },
  );

  it('numbers connections of foreign captures past the ids of ours, without remembering every id', async () => {
    const parts: Buffer[] = [fileHeader()];
    const conversation = (port: number, comment?: string): void => {
      const conv = new TcpConversation({ address: '10.3.0.1', port }, { address: '10.3.0.2', port: 1883 });
      const syn = conv.syn(1);
      if (comment !== undefined) syn.comments = [comment];
      const segs = [
        syn,
        ...conv.accept(2),
        ...conv.data('client', connect({ version: '3.1.1', clientId: 'x' }), 3),
      ];
      for (const seg of [...segs, ...conv.finish('client', 4)]) {
        const b = Buffer.alloc(conv.path.blockLength(seg));
        conv.path.writeBlock(b, 0, seg);
        parts.push(b);
      }
    };
    conversation(40_001, `mqtt-tap open ${JSON.stringify({ conn: 'c7', upstream: '10.3.0.2:1883' })}`);
    conversation(40_002);
    const file = join(dir, 'mixed.pcapng');
    writeFileSync(file, Buffer.concat(parts));
    const conns: unknown[] = [];
    await replayCapture({
      files: [file],
      sink: {
        isLevelEnabled: () => true,
        write: (_level, record) => {
          if (record.event === 'open') conns.push(record.conn);
        },
        writePacket: () => {},
        flush: () => Promise.resolve(),
      },
      tap: DEFAULT_TAP_OPTIONS,
      clock: { ms: 0 },
    });
    expect(conns).toEqual(['c7', 'c8']);
  });
});
