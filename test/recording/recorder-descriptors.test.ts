/**
 * A rotating recording that cannot open its next file for want of a file descriptor (EMFILE)
 * pauses, holds what it can within its buffer, and resumes in that file once descriptors free up;
 * before, the first EMFILE stopped the recording for good.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPcapngRecorder } from '../../src/observe/pcapng-recorder.js';
import { ROOT } from '../e2e/helpers/build-dist.js';
import { readConnections } from './capture-helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-rec-fds-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const info = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 40_001 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: Date.now(),
};

describe('pcapng recorder out of file descriptors', () => {
  it('a real EMFILE (ulimit -n): paused once, resumed in the same file, nothing lost within the buffer', () => {
    const out = execFileSync(
      'sh',
      [
        '-c',
        `ulimit -n 64 && exec "${process.execPath}" "$@"`,
        'sh',
        join(ROOT, 'test/recording/fixtures/recorder-out-of-fds.mjs'),
        ROOT,
        dir,
      ],
      { encoding: 'utf8' },
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
      held: number;
      sent: number;
      whilePaused: Array<Record<string, string>>;
      events: Array<Record<string, string>>;
      stats: { files: string[]; recordedBytes: number; droppedBytes: number; error?: string };
    };
    expect(r.held).toBeGreaterThan(0);
    const pausedFile = join(dir, 'cap-0002.pcapng');
    expect(r.whilePaused).toEqual([{ pause: 'EMFILE', file: pausedFile }]);
    expect(r.events).toEqual([{ pause: 'EMFILE', file: pausedFile }, { resume: pausedFile }]);
    expect(r.stats.error).toBeUndefined();
    expect(r.stats.droppedBytes).toBe(0);
    expect(r.stats.recordedBytes).toBe(r.sent);
    const files = readdirSync(dir).sort();
    expect(r.stats.files).toEqual(files.map((f) => join(dir, f)));
    const all = readConnections(r.stats.files);
    expect(all.warnings).toEqual([]);
    expect(all.connections[0]!.bytes[0].length + all.connections[0]!.bytes[1].length).toBe(r.sent);
  });

  it('EMFILE at the file-open seam, twice: one pause, one resume, no error; other open errors still stop it', async () => {
    let refusals = 2;
    const events: string[] = [];
    const rec = await createPcapngRecorder({
      file: join(dir, 'cap.pcapng'),
      rotateBytes: 2048,
      openFile: (path) => {
        if (path.endsWith('-0002.pcapng') && refusals > 0) {
          refusals--;
          throw Object.assign(new Error(`EMFILE: too many open files, open '${path}'`), { code: 'EMFILE' });
        }
        if (path.endsWith('-0003.pcapng')) {
          throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
        }
        return createWriteStream(path);
      },
      onPause: (err) => events.push(`pause ${(err as { code: string }).code}`),
      onResume: (file) => events.push(`resume ${file.slice(dir.length + 1)}`),
      onError: (err) => events.push(`error ${(err as { code: string }).code}`),
    });
    const c = rec.open(info);
    c.upstreamConnected?.(info);
    c.data('client', Buffer.alloc(1500, 1));
    c.data('broker', Buffer.alloc(1500, 2));
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['pause EMFILE']);
    // Retried every second; the third try opens cap-0002, whose next rotation meets EACCES.
    c.data('client', Buffer.alloc(1500, 3));
    await new Promise((r) => setTimeout(r, 2300));
    expect(events).toEqual(['pause EMFILE', 'resume cap-0002.pcapng', 'error EACCES']);
    await rec.close();
    expect(rec.stats().files).toEqual([join(dir, 'cap-0001.pcapng'), join(dir, 'cap-0002.pcapng')]);
  });
});
