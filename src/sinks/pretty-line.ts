/**
 * The pretty view of a record: `time LEVEL conn from→ msg`, coloured for a terminal, and under it
 * what the line alone does not say: each failure code's description from the spec, a close's verdict.
 */
import { verdictSentence } from '../session/verdict.js';
import type { LogRecord } from './sink.js';

type Paint = (text: string) => string;

interface Palette {
  dim: Paint;
  bold: Paint;
  client: Paint;
  broker: Paint;
  levels: Record<string, Paint>;
  warnText: Paint;
  errorText: Paint;
}

const sgr =
  (open: number, close: number): Paint =>
  (text) =>
    `\u001b[${open}m${text}\u001b[${close}m`;
const plain: Paint = (text) => text;

const COLOURS: Palette = {
  dim: sgr(2, 22),
  bold: sgr(1, 22),
  client: sgr(36, 39), // cyan
  broker: sgr(35, 39), // magenta
  levels: {
    TRACE: sgr(90, 39),
    DEBUG: sgr(34, 39),
    INFO: sgr(32, 39),
    WARN: sgr(33, 39),
    ERROR: sgr(31, 39),
    FATAL: (t) => `\u001b[41m\u001b[97m${t}\u001b[39m\u001b[49m`,
  },
  warnText: sgr(33, 39),
  errorText: sgr(31, 39),
};

const NO_COLOURS: Palette = {
  dim: plain,
  bold: plain,
  client: plain,
  broker: plain,
  levels: {},
  warnText: plain,
  errorText: plain,
};

const LEVEL_LABELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/**
 * Logged strings come from the network (topics, client ids): strip terminal control sequences and
 * keep each record on one line.
 */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
  return text.replace(/\r\n|[\r\n]/g, '⏎').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

function wallClock(time: number): string {
  const d = new Date(time);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * The local wall-clock time (what the operator's clock says), the level, the connection id, which
 * side sent the packet, then the record's one-line summary (`msg`). Lines at warn and above are
 * coloured whole so refusals stand out in a scrolling terminal. Then, indented under the summary,
 * one line per failure code with its description, or a close's verdict as a sentence. No line end.
 */
export function formatPrettyLine(
  level: number,
  time: number,
  record: LogRecord,
  msg: string,
  colorize: boolean,
): string {
  const c = colorize ? COLOURS : NO_COLOURS;
  const label = LEVEL_LABELS[level] ?? String(level);
  const paintLevel = c.levels[label] ?? plain;
  let line = `${c.dim(wallClock(time))} ${paintLevel(label.padEnd(5))}`;
  // Columns before the summary: the time, the level, and the connection and side when there are.
  let indent = 19;
  if (typeof record.conn === 'string') {
    const conn = printable(record.conn).padEnd(4);
    indent += conn.length + 9;
    line += ` ${c.bold(conn)}`;
    if (record.from === 'client') line += ` ${c.client('client→')}`;
    else if (record.from === 'broker') line += ` ${c.broker('broker→')}`;
    else line += '        ';
  }
  let text = printable(msg);
  const err = record.err;
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    text += `: ${printable(err.message)}`;
  }
  const paint = level >= 50 ? c.errorText : level >= 40 ? c.warnText : plain;
  let out = `${line} ${paint(text)}`;
  const under = ' '.repeat(indent + 2);
  for (const more of explanations(record)) out += `\n${under}${paint(printable(more))}`;
  return out;
}

/** What goes under a record's line: the spec's description of each failure code, or a close's verdict. */
function explanations(record: LogRecord): string[] {
  if (record.event === 'close') {
    const v = record.verdict as { cause: string; detail: string; rule?: string } | undefined;
    if (v === undefined || typeof record.closedBy !== 'string') return [];
    return [verdictSentence(v as Parameters<typeof verdictSentence>[0], record.closedBy)];
  }
  if (record.event !== 'packet') return [];
  const out: string[] = [];
  const reason = record.reason as { error?: boolean; description?: string } | undefined;
  if (reason?.error === true && typeof reason.description === 'string') out.push(reason.description);
  const reasons = record.reasons as { error?: boolean; description?: string; hex?: string }[] | undefined;
  if (Array.isArray(reasons)) {
    // One line per code: five filters refused alike need the words once.
    const seen = new Set<string>();
    for (const r of reasons) {
      if (r.error !== true || typeof r.description !== 'string' || seen.has(r.description)) continue;
      seen.add(r.description);
      const named = reasons.length === 1 || r.hex === undefined || r.description.startsWith(r.hex);
      out.push(named ? r.description : `${r.hex}: ${r.description}`);
    }
  }
  return out;
}
