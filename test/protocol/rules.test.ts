/**
 * The spec coverage table (src/protocol/catalogue/rules.ts) against the spec, the decoder and the
 * session's checks: every id it lists occurs in the spec text (test/fixtures/spec-ids-*.txt,
 * extracted from the OASIS standards), every statement of the spec is classified, and every
 * `checked` row is produced by a vector: a packet below, or for a stateful check a connection's
 * packets both ways (test/helpers/stateful-cases.ts); the violation it names, carrying its id (or
 * the id it cites).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULE_VERSIONS, RULES, type RuleRow, type RuleVersion } from '../../src/protocol/catalogue/rules.js';
import type { Direction } from '../../src/protocol/direction.js';
import type { Violation } from '../../src/protocol/types.js';
import { VIOLATIONS } from '../../src/protocol/violations.js';
import { hex } from '../helpers/hex.js';
import {
  bin,
  cat,
  connect,
  decodeStream,
  disconnect,
  frame,
  P,
  prop,
  props,
  publish,
  str,
  suback,
  subscribe,
  u16,
  unsuback,
  unsubscribe,
  vbi,
} from '../helpers/packets.js';
import { runSession, type Step } from '../helpers/session-run.js';
import { STATEFUL_CASES } from '../helpers/stateful-cases.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');

/** The ids of a fixture: one statement a line, `id<TAB>text`, `#` lines are comments. */
function specIds(version: RuleVersion): string[] {
  return readFileSync(join(FIXTURES, `spec-ids-${version}.txt`), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split('\t')[0]!);
}

interface Vector {
  /** One direction of a connection: a packet or several, decoded in order. */
  bytes?: Buffer;
  from?: Direction;
  /** Which field the violation is about, where the statement names one. */
  detail?: RegExp;
  /** A stateful check's vector: a connection's packets both ways (test/helpers/stateful-cases.ts). */
  steps?: Step[];
  closeAt?: number;
}

/** Ill-formed UTF-8: an encoded surrogate (U+D800). */
const BAD = Buffer.from([0xed, 0xa0, 0x80]);
const NUL = 'a\u0000b';

/** A 5.0 CONNECT with a raw payload after Connect Flags `flags`, Keep Alive 60 and no properties. */
const connect5 = (flags: number, ...payload: Buffer[]): Buffer =>
  frame(0x10, str('MQTT'), [5, flags], u16(60), [0], ...payload);
const connect311 = (flags: number, ...payload: Buffer[]): Buffer =>
  frame(0x10, str('MQTT'), [4, flags], u16(60), ...payload);

const V5: Record<string, Vector> = {
  'MQTT-1.5.4-1': { bytes: frame(0x30, str(BAD), [0]) },
  'MQTT-1.5.4-2': { bytes: publish({ version: '5.0', topic: NUL }) },
  'MQTT-1.5.5-1': { bytes: frame(0x30, str('t'), [0x80, 0x00], [0x78]) },
  'MQTT-1.5.7-1': {
    bytes: frame(0x30, str('t'), props(cat(vbi(P.userProperty), str('k'), str(BAD)))),
    detail: /User Property value/,
  },
  'MQTT-2.1.3-1': { bytes: hex`42 02 00 01` },
  'MQTT-2.2.1-3': { bytes: publish({ version: '5.0', topic: 't', qos: 1, packetId: 0 }), from: 'client' },
  'MQTT-2.2.1-4': { bytes: publish({ version: '5.0', topic: 't', qos: 2, packetId: 0 }), from: 'broker' },
  'MQTT-3.1.2-1': { bytes: connect({ version: '5.0', protocolName: 'mqtt', clientId: 'c' }) },
  'MQTT-3.1.2-2': { bytes: connect({ version: '5.0', protocolLevel: 6, clientId: 'c' }) },
  'MQTT-3.1.2-3': { bytes: connect({ version: '5.0', flags: 0x03, clientId: 'c' }) },
  'MQTT-3.1.2-11': { bytes: connect({ version: '5.0', flags: 0x0a, clientId: 'c' }) },
  'MQTT-3.1.2-12': {
    bytes: connect({ version: '5.0', clientId: 'c', will: { topic: 't', payload: [], qos: 3 } }),
  },
  'MQTT-3.1.2-13': { bytes: connect({ version: '5.0', flags: 0x22, clientId: 'c' }) },
  'MQTT-3.1.3-4': { bytes: connect5(0x02, str(BAD)), detail: /Client Identifier/ },
  'MQTT-3.1.3-11': { bytes: connect5(0x06, str('c'), props(), str(BAD), bin([])), detail: /Will Topic/ },
  'MQTT-3.1.3-12': { bytes: connect5(0x82, str('c'), str(BAD)), detail: /User Name/ },
  'MQTT-3.2.2-1': { bytes: hex`20 03 80 00 00`, from: 'broker' },
  'MQTT-3.2.2-6': { bytes: hex`20 03 01 87 00`, from: 'broker' },
  'MQTT-3.2.2-8': { bytes: hex`20 03 00 05 00`, from: 'broker' },
  'MQTT-3.3.1-2': { bytes: publish({ version: '5.0', topic: 't', dup: true }) },
  'MQTT-3.3.1-4': { bytes: frame(0x36, str('t'), u16(1), [0]) },
  'MQTT-3.3.2-1': { bytes: frame(0x30, str(BAD), [0]), detail: /Topic Name/ },
  'MQTT-3.3.2-2': { bytes: publish({ version: '5.0', topic: 'a/+' }) },
  'MQTT-3.3.2-8': { bytes: publish({ version: '5.0', topic: 't', properties: [prop(P.topicAlias, 0)] }) },
  'MQTT-3.3.2-13': {
    bytes: frame(0x30, str('t'), props(cat(vbi(P.responseTopic), str(BAD)))),
    detail: /Response Topic/,
  },
  'MQTT-3.3.2-19': {
    bytes: frame(0x30, str('t'), props(cat(vbi(P.contentType), str(BAD)))),
    detail: /Content Type/,
  },
  'MQTT-3.3.4-6': {
    bytes: publish({ version: '5.0', topic: 't', properties: [prop(P.subscriptionIdentifier, 1)] }),
    from: 'client',
  },
  'MQTT-3.4.2-1': { bytes: hex`40 03 00 01 42` },
  'MQTT-3.5.2-1': { bytes: hex`50 03 00 01 92` },
  'MQTT-3.6.1-1': { bytes: hex`60 02 00 01` },
  'MQTT-3.6.2-1': { bytes: hex`62 03 00 01 10` },
  'MQTT-3.7.2-1': { bytes: hex`70 03 00 01 80` },
  'MQTT-3.8.1-1': { bytes: hex`80 07 00 01 00 00 01 61 00` },
  'MQTT-3.8.3-1': { bytes: frame(0x82, u16(1), [0], str(BAD), [0]), detail: /Topic Filter/ },
  'MQTT-3.8.3-2': { bytes: frame(0x82, u16(1), [0]) },
  'MQTT-3.8.3-4': {
    bytes: subscribe({
      version: '5.0',
      packetId: 1,
      subscriptions: [{ filter: '$share/g/t', noLocal: true }],
    }),
  },
  'MQTT-3.8.3-5': {
    bytes: subscribe({ version: '5.0', packetId: 1, subscriptions: [{ filter: 't', options: 0x40 }] }),
  },
  'MQTT-3.9.3-2': { bytes: suback({ version: '5.0', packetId: 1, codes: [0x92] }), from: 'broker' },
  'MQTT-3.10.1-1': { bytes: hex`a0 06 00 01 00 00 01 61` },
  'MQTT-3.10.3-1': { bytes: frame(0xa2, u16(1), [0], str(BAD)), detail: /Topic Filter/ },
  'MQTT-3.10.3-2': { bytes: frame(0xa2, u16(1), [0]) },
  'MQTT-3.11.3-2': { bytes: unsuback({ version: '5.0', packetId: 1, codes: [0x01] }), from: 'broker' },
  'MQTT-3.14.1-1': { bytes: hex`e8 00` },
  'MQTT-3.14.2-1': { bytes: hex`e0 01 01` },
  'MQTT-3.14.2-2': {
    bytes: disconnect({ code: 0x8b, properties: [prop(P.sessionExpiryInterval, 1)] }),
    from: 'broker',
  },
  'MQTT-3.15.1-1': { bytes: hex`f2 00` },
  'MQTT-3.15.2-1': { bytes: hex`f0 01 87` },
  'MQTT-4.3.1-1': { bytes: frame(0x38, str('t'), [0]) },
  'MQTT-4.7.0-1': { bytes: publish({ version: '5.0', topic: 'a/#' }) },
  'MQTT-4.7.1-1': { bytes: subscribe({ version: '5.0', packetId: 1, subscriptions: [{ filter: 'a/#/b' }] }) },
  'MQTT-4.7.1-2': { bytes: unsubscribe({ version: '5.0', packetId: 1, filters: ['a/b+'] }) },
  'MQTT-4.7.3-1': { bytes: publish({ version: '5.0', topic: '' }) },
  'MQTT-4.7.3-2': {
    bytes: subscribe({ version: '5.0', packetId: 1, subscriptions: [{ filter: NUL }] }),
    detail: /Topic Filter/,
  },
  'MQTT-4.8.2-1': {
    bytes: subscribe({ version: '5.0', packetId: 1, subscriptions: [{ filter: '$share//a' }] }),
  },
  'MQTT-4.8.2-2': {
    bytes: subscribe({ version: '5.0', packetId: 1, subscriptions: [{ filter: '$share/+/a' }] }),
  },
};

const V311: Record<string, Vector> = {
  'MQTT-1.5.3-1': { bytes: frame(0x30, str(BAD)) },
  'MQTT-1.5.3-2': { bytes: publish({ version: '3.1.1', topic: NUL }) },
  'MQTT-2.2.2-1': { bytes: hex`41 02 00 01` },
  'MQTT-2.3.1-1': { bytes: publish({ version: '3.1.1', topic: 't', qos: 1, packetId: 0 }), from: 'broker' },
  'MQTT-3.1.2-1': { bytes: connect({ version: '3.1.1', protocolName: 'MQIsdp', clientId: 'c' }) },
  'MQTT-3.1.2-2': { bytes: connect({ version: '3.1.1', protocolLevel: 6, clientId: 'c' }) },
  'MQTT-3.1.2-3': { bytes: connect({ version: '3.1.1', flags: 0x03, clientId: 'c' }) },
  'MQTT-3.1.2-11': { bytes: connect({ version: '3.1.1', flags: 0x12, clientId: 'c' }) },
  'MQTT-3.1.2-13': { bytes: connect({ version: '3.1.1', flags: 0x0a, clientId: 'c' }) },
  'MQTT-3.1.2-14': {
    bytes: connect({ version: '3.1.1', clientId: 'c', will: { topic: 't', payload: [], qos: 3 } }),
  },
  'MQTT-3.1.2-15': { bytes: connect({ version: '3.1.1', flags: 0x22, clientId: 'c' }) },
  'MQTT-3.1.2-22': { bytes: connect({ version: '3.1.1', clientId: 'c', password: [0x70] }) },
  'MQTT-3.1.3-4': { bytes: connect311(0x02, str(BAD)), detail: /Client Identifier/ },
  'MQTT-3.1.3-10': { bytes: connect311(0x06, str('c'), str(BAD), bin([])), detail: /Will Topic/ },
  'MQTT-3.1.3-11': { bytes: connect311(0x82, str('c'), str(BAD)), detail: /User Name/ },
  'MQTT-3.2.2-4': { bytes: hex`20 02 01 05`, from: 'broker' },
  'MQTT-3.3.1-2': { bytes: publish({ version: '3.1.1', topic: 't', dup: true }) },
  'MQTT-3.3.1-4': { bytes: frame(0x36, str('t'), u16(1)) },
  'MQTT-3.3.2-1': { bytes: frame(0x30, str(BAD)), detail: /Topic Name/ },
  'MQTT-3.3.2-2': { bytes: publish({ version: '3.1.1', topic: '+' }) },
  'MQTT-3.6.1-1': { bytes: hex`6a 02 00 01` },
  'MQTT-3.8.1-1': { bytes: hex`88 06 00 01 00 01 61 00` },
  'MQTT-3.8.3-1': { bytes: frame(0x82, u16(1), str(BAD), [0]), detail: /Topic Filter/ },
  'MQTT-3.8.3-3': { bytes: frame(0x82, u16(1)) },
  'MQTT-3-8.3-4': {
    bytes: subscribe({ version: '3.1.1', packetId: 1, subscriptions: [{ filter: 't', options: 0x04 }] }),
  },
  'MQTT-3.9.3-2': { bytes: suback({ version: '3.1.1', packetId: 1, codes: [0x03] }), from: 'broker' },
  'MQTT-3.10.1-1': { bytes: hex`a3 05 00 01 00 01 61` },
  'MQTT-3.10.3-1': { bytes: frame(0xa2, u16(1), str(BAD)), detail: /Topic Filter/ },
  'MQTT-3.10.3-2': { bytes: frame(0xa2, u16(1)) },
  'MQTT-3.14.1-1': { bytes: hex`e2 00` },
  'MQTT-4.3.1-1': { bytes: frame(0x39, str('t')) },
  'MQTT-4.7.1-1': { bytes: publish({ version: '3.1.1', topic: 'a/#' }) },
  'MQTT-4.7.1-2': { bytes: subscribe({ version: '3.1.1', packetId: 1, subscriptions: [{ filter: '#/a' }] }) },
  'MQTT-4.7.1-3': { bytes: unsubscribe({ version: '3.1.1', packetId: 1, filters: ['a+'] }) },
  'MQTT-4.7.3-1': { bytes: unsubscribe({ version: '3.1.1', packetId: 1, filters: [''] }) },
  'MQTT-4.7.3-2': { bytes: frame(0x30, str(NUL)), detail: /Topic Name/ },
};

const VECTORS: Record<RuleVersion, Record<string, Vector>> = { '5.0': V5, '3.1.1': V311 };

/**
 * A row's vector: a packet above, or else the connection of a stateful case that produces the
 * row's code with the id it carries.
 */
function vectorOf(version: RuleVersion, row: RuleRow): Vector | undefined {
  const single = VECTORS[version][row.rule];
  if (single !== undefined) return single;
  const id = row.cited ?? row.rule;
  const found = STATEFUL_CASES.find((c) => c.version === version && c.code === row.code && c.rule === id);
  if (found === undefined) return undefined;
  return found.closeAt === undefined
    ? { steps: found.steps }
    : { steps: found.steps, closeAt: found.closeAt };
}

/** The violations a vector produces. */
function violationsOf(version: RuleVersion, vector: Vector): Violation[] {
  if (vector.steps !== undefined) {
    const run = runSession(
      version,
      vector.steps,
      vector.closeAt === undefined ? {} : { closeAt: vector.closeAt },
    );
    const found = run.packets.flatMap((p) => p.packet.violations);
    return [...found, ...run.atClose];
  }
  const { packets, errors } = decodeStream(vector.bytes!, version, {}, vector.from);
  expect(errors).toEqual([]);
  return packets.flatMap((p) => p.violations);
}

/** The ids VIOLATIONS gives for `version` (3.1.1's side also serves 3.1). */
function violationRules(version: RuleVersion): Map<string, Set<string>> {
  const byRule = new Map<string, Set<string>>();
  for (const [code, sides] of Object.entries(VIOLATIONS)) {
    const rule = (version === '5.0' ? sides.v5 : sides.v3) as string | Record<string, string> | undefined;
    const ids = rule === undefined ? [] : typeof rule === 'string' ? [rule] : Object.values(rule);
    for (const id of ids) byRule.set(id, (byRule.get(id) ?? new Set()).add(code));
  }
  return byRule;
}

const rowsOf = (version: RuleVersion): RuleRow[] => RULES.filter((r) => r.version === version);

describe.each(RULE_VERSIONS)('MQTT %s rules table', (version) => {
  const rows = rowsOf(version);

  it('lists each statement of the spec text once, and nothing else', () => {
    const ids = rows.map((r) => r.rule);
    expect(new Set(ids).size, 'duplicate rows').toBe(ids.length);
    expect([...ids].sort()).toEqual(specIds(version).sort());
  });

  it('says what each status needs: checked a code, not-observable why, not-yet neither', () => {
    for (const row of rows) {
      const shape = {
        code: row.code !== undefined,
        cited: row.cited !== undefined,
        why: row.why !== undefined && row.why.length > 0,
      };
      if (row.status === 'checked') expect(shape, row.rule).toMatchObject({ code: true, why: false });
      else if (row.status === 'not-observable')
        expect(shape, row.rule).toEqual({ code: false, cited: false, why: true });
      else expect(shape, row.rule).toEqual({ code: false, cited: false, why: false });
    }
  });

  it('agrees with VIOLATIONS: every id it cites is a checked row, and every checked row is cited', () => {
    const cited = violationRules(version);
    const byRule = new Map(rows.map((r) => [r.rule, r]));
    for (const [id, codes] of cited) {
      const row = byRule.get(id);
      expect(row?.status, `${id} is cited by ${[...codes].join(', ')}`).toBe('checked');
      expect([...codes], id).toContain(row?.code);
    }
    for (const row of rows.filter((r) => r.status === 'checked')) {
      const id = row.cited ?? row.rule;
      expect([...(cited.get(id) ?? [])], `${row.rule} → ${id}`).toContain(row.code);
      if (row.cited !== undefined) expect(byRule.get(row.cited)?.status, row.rule).toBe('checked');
    }
  });

  it('has a vector for every checked row and none for the others', () => {
    const checked = rows.filter((r) => r.status === 'checked');
    expect(checked.filter((r) => vectorOf(version, r) === undefined).map((r) => r.rule)).toEqual([]);
    const checkedIds = new Set(checked.map((r) => r.rule));
    expect(Object.keys(VECTORS[version]).filter((id) => !checkedIds.has(id))).toEqual([]);
  });

  it.each(rows.filter((r) => r.status === 'checked').map((r) => [r.rule, r] as const))(
    '%s: its vector is reported',
    (_rule, row) => {
      const vector = vectorOf(version, row)!;
      const violations = violationsOf(version, vector);
      const found = violations.filter((v) => v.code === row.code && v.rule === (row.cited ?? row.rule));
      expect(found, JSON.stringify(violations)).not.toHaveLength(0);
      if (vector.detail) expect(found.map((v) => v.detail).join('\n')).toMatch(vector.detail);
    },
  );
});
