/**
 * mqtt-tap's page: connections, a ladder diagram per connection (or per client id), topics, the
 * record behind an arrow. Live over a WebSocket from the proxy, or a report's inline data.
 */
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { PACKET_TYPE_NAMES } from '../src/protocol/constants.js';
import './app.css';
import {
  arrowLabel,
  clock,
  duration,
  type Filters,
  globRegExp,
  hasFailureCode,
  isError,
  KEEP_PER_CONNECTION,
  type Rec,
  type Row,
  recordPasses,
  rowPasses,
  Store,
  type TopicStats,
} from './model.js';

type Boot =
  | { mode: 'live' }
  | { mode: 'report'; title: string; note: string | null; rows: Row[]; records: Rec[] };

const boot = JSON.parse(document.getElementById('mqtt-tap-data')?.textContent ?? '{"mode":"live"}') as Boot;
const store = new Store(boot.mode === 'live' ? KEEP_PER_CONNECTION : Number.POSITIVE_INFINITY);
if (boot.mode === 'report') {
  store.setRows(boot.rows);
  store.add(boot.records);
}

/** What the ladder shows: one connection, or every connection of one client id in turn. */
type Selection = { conn: string } | { clientId: string } | undefined;

/** Re-renders when the store changes, at most every `ms` while not paused. */
function useStoreVersion(paused: boolean, ms: number): number {
  const [version, setVersion] = useState(store.version);
  useEffect(() => {
    if (paused) return;
    const t = setInterval(() => {
      if (store.version !== version) setVersion(store.version);
    }, ms);
    return () => clearInterval(t);
  }, [paused, version]);
  return version;
}

/** Live: the WebSocket back to mqtt-tap (the page's own token in its query). */
function useLive(onStatus: (s: string) => void): void {
  useEffect(() => {
    if (boot.mode !== 'live') return;
    let ws: WebSocket | undefined;
    let stopped = false;
    const open = (): void => {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      ws = new WebSocket(`${proto}//${location.host}/ws${location.search}`);
      ws.onopen = () => onStatus('live');
      ws.onclose = () => {
        onStatus('disconnected: retrying');
        if (!stopped) setTimeout(open, 2000);
      };
      ws.onmessage = (ev) => {
        const m = JSON.parse(String(ev.data)) as { t: string; rows: Row[]; records: Rec[]; missed?: number };
        if (m.t === 'hello') {
          store.setRows(m.rows);
          store.add(m.records);
        } else if (m.t === 'batch') {
          store.setRows(m.rows);
          store.add(m.records);
          store.missed = m.missed ?? store.missed;
        }
      };
    };
    open();
    return () => {
      stopped = true;
      ws?.close();
    };
  }, []);
}

function App() {
  const [paused, setPaused] = useState(false);
  const [status, setStatus] = useState(boot.mode === 'live' ? 'connecting' : 'report');
  const [filters, setFilters] = useState<Filters>({ clientId: '', topic: '', type: '', errorsOnly: false });
  const [selection, setSelection] = useState<Selection>(undefined);
  const [detail, setDetail] = useState<Rec | undefined>(undefined);
  const [tab, setTab] = useState<'ladder' | 'topics'>('ladder');
  const [now, setNow] = useState(Date.now());
  useLive(setStatus);
  const version = useStoreVersion(paused, 250);
  useEffect(() => {
    if (boot.mode !== 'live' || paused) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [paused]);

  const glob = filters.clientId === '' ? undefined : safeGlob(filters.clientId);
  const rows = [...store.rows.values()].filter((r) => rowPasses(r, filters, glob));
  // Without a choice: the first connection, so that a report opens on a ladder.
  const sel: Selection = selection ?? (rows[0] !== undefined ? { conn: rows[0].conn } : undefined);
  const set = (patch: Partial<Filters>): void => setFilters({ ...filters, ...patch });

  return (
    <div class="app">
      <header>
        <h1>mqtt-tap{boot.mode === 'report' ? ` report: ${boot.title}` : ''}</h1>
        <span class={`status ${status.startsWith('live') ? 'ok' : ''}`} id="status">
          {status}
        </span>
        <span id="received">{store.received} records</span>
        {store.missed > 0 && (
          <span class="missed" id="missed" title="records this page could not be sent in time">
            {store.missed} missed by this page
          </span>
        )}
        {boot.mode === 'live' && (
          <button type="button" id="pause" onClick={() => setPaused(!paused)}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        )}
        <label>
          client id{' '}
          <input
            id="f-client"
            value={filters.clientId}
            placeholder="glob"
            onInput={(e) => set({ clientId: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          topic{' '}
          <input
            id="f-topic"
            value={filters.topic}
            placeholder="a/+/#"
            onInput={(e) => set({ topic: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          type{' '}
          <select
            id="f-type"
            value={filters.type}
            onChange={(e) => set({ type: (e.target as HTMLSelectElement).value })}
          >
            <option value="">all</option>
            {TYPES.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          <input
            id="f-errors"
            type="checkbox"
            checked={filters.errorsOnly}
            onChange={(e) => set({ errorsOnly: (e.target as HTMLInputElement).checked })}
          />{' '}
          errors only
        </label>
      </header>
      {boot.mode === 'report' && boot.note !== null && (
        <p class="note" id="note">
          {boot.note}
        </p>
      )}
      <Connections
        rows={rows}
        now={boot.mode === 'live' ? now : undefined}
        selection={sel}
        onSelect={setSelection}
        version={version}
      />
      <nav class="tabs">
        <button type="button" class={tab === 'ladder' ? 'on' : ''} onClick={() => setTab('ladder')}>
          Ladder
        </button>
        <button
          type="button"
          id="tab-topics"
          class={tab === 'topics' ? 'on' : ''}
          onClick={() => setTab('topics')}
        >
          Topics
        </button>
      </nav>
      <main>
        {tab === 'ladder' ? (
          <Ladder selection={sel} filters={filters} onPick={setDetail} version={version} picked={detail} />
        ) : (
          <Topics filters={filters} version={version} />
        )}
        {detail !== undefined && <Detail rec={detail} onClose={() => setDetail(undefined)} />}
      </main>
    </div>
  );
}

const TYPES = PACKET_TYPE_NAMES.filter((t) => t !== undefined);

function safeGlob(glob: string): RegExp | undefined {
  try {
    return globRegExp(glob);
  } catch {
    return undefined;
  }
}

function Connections(props: {
  rows: Row[];
  now: number | undefined;
  selection: Selection;
  onSelect: (s: Selection) => void;
  version: number;
}) {
  const { rows, now, selection } = props;
  return (
    <section class="connections" id="connections">
      <table>
        <thead>
          <tr>
            <th>conn</th>
            <th>client id</th>
            <th>user</th>
            <th>protocol</th>
            <th>transport</th>
            <th>client</th>
            <th>state</th>
            <th>duration</th>
            <th>packets ↑/↓</th>
            <th>bytes ↑/↓</th>
            <th>last reason</th>
            <th>verdict</th>
            <th>keep-alive</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const selected = selection !== undefined && 'conn' in selection && selection.conn === r.conn;
            // `now` only makes the table tick; the age is the clock's (never below 0 on a skewed one).
            const dur =
              r.durationMs ?? (now !== undefined ? Math.max(0, Date.now() - r.startedAt) : undefined);
            return (
              <tr
                key={r.conn}
                data-conn={r.conn}
                class={`${selected ? 'selected' : ''} ${r.lastReason?.error ? 'refused' : ''}`}
                onClick={() => props.onSelect({ conn: r.conn })}
              >
                <td>{r.conn}</td>
                <td>
                  {r.clientId !== undefined && (
                    <button
                      type="button"
                      class="client-id"
                      title="every connection of this client id, one after the other"
                      onClick={(e) => {
                        e.stopPropagation();
                        props.onSelect({ clientId: r.clientId! });
                      }}
                    >
                      {r.clientId}
                    </button>
                  )}
                </td>
                <td>{r.username ?? ''}</td>
                <td>{r.protocol ?? ''}</td>
                <td>{r.transport ?? ''}</td>
                <td>{r.client ?? ''}</td>
                <td class={`state ${r.state}`}>
                  {r.state}
                  {r.closedBy !== undefined ? ` by ${r.closedBy}` : ''}
                </td>
                <td>{dur !== undefined ? duration(dur) : ''}</td>
                <td>
                  {r.packets.fromClient}/{r.packets.fromBroker}
                </td>
                <td>
                  {r.bytes.fromClient}/{r.bytes.fromBroker}
                </td>
                <td class={`last-reason ${r.lastReason?.error ? 'error' : ''}`}>
                  {r.lastReason !== undefined
                    ? `${r.lastReason.type} ${r.lastReason.hex} ${r.lastReason.name}`
                    : ''}
                </td>
                <td class="verdict">{verdictText(r.verdict)}</td>
                <td class="keepalive">{keepAliveText(r, now)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {rows.length === 0 && <p class="empty">no connection yet</p>}
    </section>
  );
}

function verdictText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'object') return String(v);
  const o = v as { cause?: unknown; detail?: unknown; rule?: unknown };
  return [o.cause, o.detail, o.rule].filter((x) => typeof x === 'string').join(': ');
}

/** Time since the client's last packet against its keep-alive (open connections, live). */
function keepAliveText(r: Row, now: number | undefined): string {
  if (r.keepAlive === undefined) return '';
  if (r.state !== 'open' || now === undefined || r.clientLastAt === undefined)
    return r.keepAlive === 0 ? 'off' : `${r.keepAlive} s`;
  if (r.keepAlive === 0) return 'off';
  const since = Math.max(0, (Math.max(now, Date.now()) - r.clientLastAt) / 1000);
  return `${since.toFixed(0)} s of ${r.keepAlive} s${since > r.keepAlive * 1.5 ? ' (overdue)' : ''}`;
}

/** One line of the ladder: a record, or the head of a connection when several are shown. */
type Item = { rec: Rec; dt: number | undefined } | { head: Row };

const ROW_HEIGHT = 30;

function Ladder(props: {
  selection: Selection;
  filters: Filters;
  onPick: (r: Rec) => void;
  picked: Rec | undefined;
  version: number;
}) {
  const { selection, filters } = props;
  const items = useMemo(() => {
    const out: Item[] = [];
    if (selection === undefined) return out;
    const conns =
      'conn' in selection
        ? [selection.conn]
        : [...store.rows.values()]
            .filter((r) => r.clientId === selection.clientId)
            .sort((a, b) => a.startedAt - b.startedAt)
            .map((r) => r.conn);
    for (const conn of conns) {
      let last: number | undefined;
      const row = store.rows.get(conn);
      if (conns.length > 1 && row !== undefined) out.push({ head: row });
      const kept = store.records.get(conn);
      for (const rec of kept?.list ?? []) {
        if (!recordPasses(rec, filters)) continue;
        out.push({ rec, dt: last === undefined || rec.event === 'left-out' ? undefined : rec.time - last });
        if (rec.event !== 'left-out') last = rec.time;
      }
    }
    return out;
  }, [selection, filters, props.version]);

  const dropped =
    selection !== undefined && 'conn' in selection ? (store.records.get(selection.conn)?.dropped ?? 0) : 0;
  const scroller = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = scroller.current;
    if (el !== null) setHeight(el.clientHeight);
  }, []);
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - 10);
  const last = Math.min(items.length, Math.ceil((top + height) / ROW_HEIGHT) + 10);

  return (
    <section class="ladder" id="ladder">
      <div class="lanes-head">
        <span>time</span>
        <span>Δt</span>
        <span class="lane-names">
          <span>client</span>
          <span>mqtt-tap</span>
          <span>broker</span>
        </span>
      </div>
      {boot.mode === 'live' && dropped > 0 && (
        <p class="note" id="dropped">
          {dropped} earlier records of this connection are not kept by the page (the latest{' '}
          {KEEP_PER_CONNECTION} are)
        </p>
      )}
      <div class="scroller" ref={scroller} onScroll={(e) => setTop((e.target as HTMLDivElement).scrollTop)}>
        <div style={{ height: `${items.length * ROW_HEIGHT}px`, position: 'relative' }}>
          {items.slice(first, last).map((item, i) => (
            <div class="line" style={{ top: `${(first + i) * ROW_HEIGHT}px` }}>
              {'head' in item ? (
                <ConnHead row={item.head} />
              ) : (
                <Arrow item={item} onPick={props.onPick} picked={props.picked === item.rec} />
              )}
            </div>
          ))}
        </div>
        {items.length === 0 && <p class="empty">no records{selection === undefined ? '' : ' match'}</p>}
      </div>
    </section>
  );
}

function ConnHead(props: { row: Row }) {
  const r = props.row;
  return (
    <div class="conn-head">
      {r.conn} {r.client ?? ''} {r.state}
      {r.durationMs !== undefined ? `, ${duration(r.durationMs)}` : ''}
      {r.lastReason !== undefined
        ? `, last ${r.lastReason.type} ${r.lastReason.hex} ${r.lastReason.name}`
        : ''}
      {r.verdict !== undefined ? `, verdict ${verdictText(r.verdict)}` : ''}
    </div>
  );
}

function Arrow(props: {
  item: { rec: Rec; dt: number | undefined };
  onPick: (r: Rec) => void;
  picked: boolean;
}) {
  const { rec, dt } = props.item;
  const packet = rec.event === 'packet' && rec.type !== undefined;
  const failed = hasFailureCode(rec);
  const cls = [
    'arrow',
    packet ? (rec.from === 'client' ? 'to-broker' : 'to-client') : 'event',
    failed ? 'error' : isError(rec) ? 'warn' : '',
    props.picked ? 'picked' : '',
  ].join(' ');
  // An answer's time: `ms` (CONNACK, SUBACK...) or the request it answers (PUBACK...).
  const ms = rec.ms ?? rec.request?.ms;
  const latency = packet && ms !== undefined && rec.type !== 'PUBLISH' ? `${ms} ms` : undefined;
  return (
    <>
      <span class="time">{rec.event === 'left-out' ? '' : clock(rec.time)}</span>
      <span class="dt">{dt !== undefined ? `+${dt} ms` : ''}</span>
      <button
        type="button"
        class={cls}
        data-type={rec.type ?? rec.event}
        data-from={rec.from ?? ''}
        title={rec.msg}
        onClick={() => props.onPick(rec)}
      >
        <span class="label">
          {packet
            ? arrowLabel(rec)
            : rec.event === 'left-out'
              ? `… ${rec.records} records left out …`
              : rec.msg}
          {latency !== undefined && <span class="latency"> ({latency})</span>}
        </span>
      </button>
    </>
  );
}

function Detail(props: { rec: Rec; onClose: () => void }) {
  const r = props.rec;
  const reasons = r.reasons ?? (r.reason !== undefined ? [r.reason] : []);
  return (
    <aside class="detail" id="detail">
      <button type="button" class="close" onClick={props.onClose}>
        ×
      </button>
      <h2>{r.msg}</h2>
      <p>
        {clock(r.time)} {r.conn ?? ''} {r.from !== undefined ? `from ${r.from}` : ''}
      </p>
      {reasons.map((x) => (
        <div class={`reason ${x.error ? 'error' : ''}`}>
          <strong>
            {x.filter !== undefined ? `${x.filter}: ` : ''}
            {x.hex} {x.name}
          </strong>
          <p class="description">{x.description}</p>
        </div>
      ))}
      {r.violations !== undefined && r.violations.length > 0 && (
        <div class="violations">
          <h3>Violations</h3>
          <ul>
            {r.violations.map((v) => (
              <li>
                <code>{v.rule ?? v.code}</code> {v.detail}
              </li>
            ))}
          </ul>
        </div>
      )}
      {r.payload?.preview !== undefined && (
        <div class="payload">
          <h3>
            Payload ({r.payload.length} B{r.payload.encoding !== undefined ? `, ${r.payload.encoding}` : ''}
            {r.payload.truncated ? ', truncated' : ''})
          </h3>
          <pre>{r.payload.preview}</pre>
        </div>
      )}
      <h3>Record</h3>
      <pre class="json">{JSON.stringify(r, null, 2)}</pre>
    </aside>
  );
}

interface TopicNode {
  name: string;
  path: string;
  children: Map<string, TopicNode>;
  stats?: TopicStats;
  total: number;
}

function Topics(props: { filters: Filters; version: number }) {
  const tree = useMemo(() => {
    const root: TopicNode = { name: '', path: '', children: new Map(), total: 0 };
    for (const [topic, stats] of store.topics) {
      if (
        props.filters.topic !== '' &&
        !recordPasses({ topic } as Rec, { ...props.filters, type: '', errorsOnly: false })
      )
        continue;
      let node = root;
      node.total += stats.count;
      for (const part of topic.split('/')) {
        let next = node.children.get(part);
        if (next === undefined) {
          next = {
            name: part,
            path: node.path === '' ? part : `${node.path}/${part}`,
            children: new Map(),
            total: 0,
          };
          node.children.set(part, next);
        }
        next.total += stats.count;
        node = next;
      }
      node.stats = stats;
    }
    return root;
  }, [props.version, props.filters]);
  const lines: preact.JSX.Element[] = [];
  const walk = (node: TopicNode, depth: number): void => {
    for (const child of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const s = child.stats;
      lines.push(
        <tr data-topic={child.path}>
          <td style={{ paddingLeft: `${depth * 1.2 + 0.3}em` }}>
            {child.name === '' ? '(empty)' : child.name}
          </td>
          <td>{child.total}</td>
          <td>{s !== undefined ? s.qos : ''}</td>
          <td>{s?.retain ? 'retained' : ''}</td>
          <td class="preview">{s?.last ?? ''}</td>
        </tr>,
      );
      if (lines.length < 5000) walk(child, depth + 1);
    }
  };
  walk(tree, 0);
  return (
    <section class="topics" id="topics">
      <table>
        <thead>
          <tr>
            <th>topic</th>
            <th>messages</th>
            <th>QoS</th>
            <th>retain</th>
            <th>last payload</th>
          </tr>
        </thead>
        <tbody>{lines}</tbody>
      </table>
      {lines.length === 0 && <p class="empty">no PUBLISH yet</p>}
    </section>
  );
}

render(<App />, document.getElementById('app')!);
