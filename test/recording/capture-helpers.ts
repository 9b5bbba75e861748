/** Reads a capture back into per-connection byte streams, for recorder and replay tests. */
import { readFileSync } from 'node:fs';
import { type CaptureEvent, decodeTcp, parseCapture } from '../../src/replay/pcap-reader.js';
import { TcpReassembler, type TcpStream } from '../../src/replay/tcp-reassembly.js';

export interface ReadConnection {
  stream: TcpStream;
  /** Bytes per side (side 0 = the SYN's sender for our recordings), gaps as zero-filled holes. */
  bytes: [Buffer, Buffer];
  gaps: { side: 0 | 1; bytes: number; offset: number }[];
}

export interface ReadCapture {
  events: CaptureEvent[];
  warnings: CaptureEvent[];
  connections: ReadConnection[];
  flags: number[];
}

export function readConnections(files: string | string[] | Buffer): ReadCapture {
  const buffers = Buffer.isBuffer(files)
    ? [files]
    : (Array.isArray(files) ? files : [files]).map((f) => readFileSync(f));
  const connections = new Map<TcpStream, { parts: [Buffer[], Buffer[]]; gaps: ReadConnection['gaps'] }>();
  const r = new TcpReassembler({
    open: (s) => connections.set(s, { parts: [[], []], gaps: [] }),
    data: (s, side, bytes) => connections.get(s)!.parts[side].push(Buffer.from(bytes)),
    gap: (s, side, bytes, offset) => {
      const c = connections.get(s)!;
      c.parts[side].push(Buffer.alloc(bytes));
      c.gaps.push({ side, bytes, offset });
    },
    close: () => {},
  });
  const events: CaptureEvent[] = [];
  const flags: number[] = [];
  let last = 0;
  for (const buf of buffers) {
    for (const e of parseCapture(buf)) {
      events.push(e);
      if (e.kind !== 'packet') continue;
      last = e.tsUs;
      const d = decodeTcp(e.linkType, e.data);
      if (d.kind !== 'tcp') continue;
      flags.push(d.segment.flags);
      r.push(d.segment, e.tsUs, e.comments);
    }
  }
  r.finish(last);
  return {
    events,
    warnings: events.filter((e) => e.kind === 'warning'),
    flags,
    connections: [...connections].map(([stream, c]) => ({
      stream,
      bytes: [Buffer.concat(c.parts[0]), Buffer.concat(c.parts[1])],
      gaps: c.gaps,
    })),
  };
}
