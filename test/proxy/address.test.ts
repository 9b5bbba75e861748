import { describe, expect, it } from 'vitest';
import { formatHostPort, parseHostPort, parseUpstream } from '../../src/proxy/address.js';

describe('parseHostPort ([HOST:]PORT as typed after -l)', () => {
  const listen = (s: string) => parseHostPort(s, { host: '127.0.0.1' }, true);
  it.each([
    ['1884', { host: '127.0.0.1', port: 1884 }],
    ['0.0.0.0:1884', { host: '0.0.0.0', port: 1884 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['[::1]:1884', { host: '::1', port: 1884 }],
    ['[::]:1884', { host: '::', port: 1884 }],
    ['0', { host: '127.0.0.1', port: 0 }],
    [' 127.0.0.1:65535 ', { host: '127.0.0.1', port: 65535 }],
  ])('%s', (input, expected) => {
    expect(listen(input)).toEqual(expected);
  });

  it.each([
    ['', 'empty address'],
    ['host:', 'missing port'],
    [':1884', 'missing host'],
    ['host:70000', 'out of range'],
    ['host:12ab', 'invalid port'],
    ['[::1]:x', 'invalid port'],
  ])('refuses %j (%s)', (input, message) => {
    expect(() => parseHostPort(input, {})).toThrow(message);
  });

  it('port 0 only where allowed (a listener, not a broker)', () => {
    expect(() => parseHostPort('h:0', {})).toThrow('out of range 1..65535');
  });
});

describe('parseUpstream (-u)', () => {
  it.each([
    ['broker:1883', { host: 'broker', port: 1883 }],
    ['broker', { host: 'broker', port: 1883 }],
    ['mqtt://10.0.0.5:1884', { host: '10.0.0.5', port: 1884 }],
    ['mqtt://10.0.0.5', { host: '10.0.0.5', port: 1883 }],
    ['MQTT://broker:1/', { host: 'broker', port: 1 }],
    ['tcp://[fd00::1]:1883', { host: 'fd00::1', port: 1883 }],
  ])('%s', (input, expected) => {
    expect(parseUpstream(input)).toEqual(expected);
  });

  it.each([
    ['mqtts://broker:8883', 'unsupported upstream scheme "mqtts://"'],
    ['ws://broker/mqtt', 'unsupported upstream scheme "ws://"'],
    ['mqtt://user:pw@broker:1883', 'without path or credentials'],
    ['1883', 'upstream needs a host'],
  ])('refuses %s', (input, message) => {
    expect(() => parseUpstream(input)).toThrow(message);
  });
});

describe('formatHostPort', () => {
  it('brackets IPv6 literals so the text parses back', () => {
    expect(formatHostPort({ host: '::1', port: 1884 })).toBe('[::1]:1884');
    expect(parseHostPort(formatHostPort({ host: 'fe80::1', port: 2 }), {})).toEqual({
      host: 'fe80::1',
      port: 2,
    });
    expect(formatHostPort({ host: '127.0.0.1', port: 1883 })).toBe('127.0.0.1:1883');
  });
});
