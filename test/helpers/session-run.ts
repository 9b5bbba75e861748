/**
 * Runs a connection through the session as the tap does, without sockets: each step is one
 * direction's bytes (framed, decoded with the session's version and sender, observed at `at` ms),
 * or the loss of a direction. For the stateful checks' vectors.
 */
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import type { Direction } from '../../src/protocol/direction.js';
import { Framer } from '../../src/protocol/framer.js';
import type { Packet, Violation } from '../../src/protocol/types.js';
import { ConnectionSession } from '../../src/session/connection-session.js';

export interface Step {
  from: Direction;
  /** One packet (or several); omitted with `lost`. */
  bytes?: Buffer;
  /** When it arrived, in ms (default: 10 ms after the step before). */
  at?: number;
  /** From here on `from`'s direction is not decoded (a capture gap, malformed input). */
  lost?: true;
}

export interface SessionRun {
  session: ConnectionSession;
  /** Every packet decoded, in order, with the index of the step that carried it. */
  packets: { step: number; from: Direction; packet: Packet }[];
  /** What the close at `closeAt` reported, when asked. */
  atClose: Violation[];
}

export function runSession(
  version: ProtocolVersion,
  steps: readonly Step[],
  opts: { closeAt?: number; stateMax?: number } = {},
): SessionRun {
  const session = new ConnectionSession(version, opts.stateMax, undefined, true);
  const run: SessionRun = { session, packets: [], atClose: [] };
  let step = 0;
  let now = 0;
  const framer = (from: Direction): Framer =>
    new Framer({
      frame(frame) {
        const packet = decodeFrame(frame, session.version, from);
        session.observe(from, packet, now);
        run.packets.push({ step, from, packet });
      },
      error(e) {
        throw new Error(`framing error in a vector: ${e.detail}`);
      },
    });
  const framers = { client: framer('client'), broker: framer('broker') };
  for (const s of steps) {
    now = s.at ?? now + 10;
    if (s.lost) session.lostSight(s.from, now);
    if (s.bytes !== undefined) {
      framers[s.from].push(s.bytes);
      session.heard(s.from, now);
    }
    step++;
  }
  if (opts.closeAt !== undefined) run.atClose = session.end(opts.closeAt);
  return run;
}

/** The violations of a run: where each was reported (a step, or the close) and what it says. */
export function violationsOf(run: SessionRun): { on: number | 'close'; code: string; rule?: string }[] {
  const out: { on: number | 'close'; code: string; rule?: string }[] = [];
  for (const { step, packet } of run.packets) {
    for (const v of packet.violations)
      out.push(v.rule === undefined ? { on: step, code: v.code } : { on: step, code: v.code, rule: v.rule });
  }
  for (const v of run.atClose) {
    out.push(
      v.rule === undefined ? { on: 'close', code: v.code } : { on: 'close', code: v.code, rule: v.rule },
    );
  }
  return out;
}
