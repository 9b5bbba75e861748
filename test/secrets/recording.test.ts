/** A recording masks a password whose packet lies about its lengths, and whatever may be more of it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CloseInfo, OpenInfo } from '../../src/observe/observer.js';
import { createPcapngRecorder } from '../../src/observe/pcapng-recorder.js';
import { hex } from '../helpers/hex.js';
import { findInBytes } from '../helpers/secret-finder.js';
import { readConnections } from '../recording/capture-helpers.js';
import {
  CONNECT,
  chunksOf,
  DAMAGED_AUTH_DATA,
  FLAG_CLEAR,
  FLAG_CLEAR_SHORT,
  PASSWORD,
  SHORT,
} from './vectors.js';

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
};
const CLOSE: CloseInfo = { closedBy: 'client', durationMs: 1, bytes: { fromClient: 0, fromBroker: 0 } };

describe('secrets in the recording: a CONNECT whose lengths lie', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-secrets-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function recordingOf(chunks: Buffer[]): Promise<Buffer> {
    const file = join(dir, 'r.pcapng');
    const rec = await createPcapngRecorder({ file });
    const conn = rec.open(OPEN);
    conn.upstreamConnected?.(OPEN);
    for (const chunk of chunks) conn.data('client', chunk);
    conn.close(CLOSE);
    await rec.close();
    return readConnections(file).connections[0]!.bytes[0];
  }

  for (const [name, connect] of [
    ['Remaining Length ending inside the password', SHORT],
    ['Password Flag clear', FLAG_CLEAR],
    ['Password Flag clear and a Remaining Length ending before the password', FLAG_CLEAR_SHORT],
  ] as const) {
    it(`${name}: no run of the password is recorded, whatever the chunking`, async () => {
      const stream = Buffer.concat([connect, hex`c0 00 e0 00`]);
      for (const size of [1, 3, stream.length]) {
        const recorded = await recordingOf(chunksOf(stream, size));
        expect(recorded.length).toBe(stream.length);
        expect(findInBytes(recorded, PASSWORD), `chunks of ${size}`).toBeUndefined();
      }
    });
  }

  it('5.0: what follows a property the CONNECT does not allow (a damaged Authentication Data identifier)', async () => {
    const { data: DATA, connect } = DAMAGED_AUTH_DATA;
    const stream = Buffer.concat([connect, hex`c0 00`]);
    for (const size of [1, 5, stream.length]) {
      const recorded = await recordingOf(chunksOf(stream, size));
      expect(recorded.length).toBe(stream.length);
      expect(findInBytes(recorded, DATA), `chunks of ${size}`).toBeUndefined();
      expect(findInBytes(recorded, PASSWORD), `chunks of ${size}`).toBeUndefined();
      // The frame parses: its client id and the packet after it are shown.
      expect(recorded.subarray(-2)).toEqual(hex`c0 00`);
    }
  });

  it('a password read as the user name (User Name Flag set, Password Flag clear) that is not UTF-8', async () => {
    const secret = hex`31 bc a0 20 94 eb`;
    const stream = Buffer.concat([hex`10 14 00 04 4d 51 54 54 04 82 00 1e 00 00 00 06`, secret, hex`c0 00`]);
    for (const size of [1, 8, stream.length]) {
      const recorded = await recordingOf(chunksOf(stream, size));
      expect(findInBytes(recorded, secret), `chunks of ${size}`).toBeUndefined();
    }
  });

  it('a second CONNECT later in a 3.1.1 stream has its password masked too', async () => {
    const first = hex`10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61`;
    const recorded = await recordingOf([first, hex`c0 00`, CONNECT]);
    expect(findInBytes(recorded, PASSWORD)).toBeUndefined();
  });
});
