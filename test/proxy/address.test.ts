import { describe, expect, it } from 'vitest';
import {
  formatAddress,
  formatHostPort,
  parseHostPort,
  parseListen,
  parseUpstream,
  redactQuery,
} from '../../src/proxy/address.js';

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
    ['broker:1883', { host: 'broker', port: 1883, transport: 'tcp' }],
    ['broker', { host: 'broker', port: 1883, transport: 'tcp' }],
    ['mqtt://10.0.0.5:1884', { host: '10.0.0.5', port: 1884, transport: 'tcp' }],
    ['mqtt://10.0.0.5', { host: '10.0.0.5', port: 1883, transport: 'tcp' }],
    ['MQTT://broker:1/', { host: 'broker', port: 1, transport: 'tcp' }],
    ['tcp://[fd00::1]:1883', { host: 'fd00::1', port: 1883, transport: 'tcp' }],
    ['mqtts://broker', { host: 'broker', port: 8883, transport: 'tls' }],
    ['mqtts://broker:18883', { host: 'broker', port: 18883, transport: 'tls' }],
    ['ssl://broker:8883', { host: 'broker', port: 8883, transport: 'tls' }],
    ['tls://[::1]:8883', { host: '::1', port: 8883, transport: 'tls' }],
    ['ws://broker', { host: 'broker', port: 80, transport: 'ws', path: '/mqtt' }],
    ['ws://broker:8080/', { host: 'broker', port: 8080, transport: 'ws', path: '/' }],
    ['wss://broker/mqtt', { host: 'broker', port: 443, transport: 'wss', path: '/mqtt' }],
    ['WSS://[::1]:8443/ws/mqtt', { host: '::1', port: 8443, transport: 'wss', path: '/ws/mqtt' }],
    [
      'wss://iot.example:443/mqtt?x-token=abc',
      { host: 'iot.example', port: 443, transport: 'wss', path: '/mqtt?x-token=abc' },
    ],
    ['ws://broker:9001?v=1', { host: 'broker', port: 9001, transport: 'ws', path: '/mqtt?v=1' }],
  ])('%s', (input, expected) => {
    expect(parseUpstream(input)).toEqual(expected);
  });

  it.each([
    ['http://broker:80', 'unsupported scheme "http://"'],
    ['mqtt://user:pw@broker:1883', 'no credentials in the address'],
    ['wss://user@broker/mqtt', 'no credentials in the address'],
    ['mqtt://broker:1883/topic', 'only ws:// and wss:// addresses have a path'],
    ['mqtts://broker/x', 'only ws:// and wss:// addresses have a path'],
    ['ws://broker/mqtt#frag', 'a fragment (#) means nothing here'],
    ['ws:///mqtt', 'missing host'],
    ['mqtts://broker:0', 'out of range 1..65535'],
    ['1883', 'upstream needs a host'],
  ])('refuses %s', (input, message) => {
    expect(() => parseUpstream(input)).toThrow(message);
  });
});

describe('parseListen (-l: [HOST:]PORT or a URL)', () => {
  it.each([
    ['1884', { host: '127.0.0.1', port: 1884, transport: 'tcp' }],
    ['0.0.0.0:1884', { host: '0.0.0.0', port: 1884, transport: 'tcp' }],
    ['mqtt://0.0.0.0:1884', { host: '0.0.0.0', port: 1884, transport: 'tcp' }],
    ['mqtts://127.0.0.1:8883', { host: '127.0.0.1', port: 8883, transport: 'tls' }],
    ['mqtts://8884', { host: '127.0.0.1', port: 8884, transport: 'tls' }],
    ['mqtts://0', { host: '127.0.0.1', port: 0, transport: 'tls' }],
    ['mqtts://', { host: '127.0.0.1', port: 8883, transport: 'tls' }],
    ['ws://127.0.0.1:8080', { host: '127.0.0.1', port: 8080, transport: 'ws', path: '/mqtt' }],
    ['ws://127.0.0.1:8080/', { host: '127.0.0.1', port: 8080, transport: 'ws', path: '/' }],
    ['wss://[::]:8443/mqtt', { host: '::', port: 8443, transport: 'wss', path: '/mqtt' }],
    ['wss://localhost:0/custom/path', { host: 'localhost', port: 0, transport: 'wss', path: '/custom/path' }],
  ])('%s', (input, expected) => {
    expect(parseListen(input)).toEqual(expected);
  });

  it.each([
    ['ws://127.0.0.1:8080/mqtt?x=1', 'a listener path has no query'],
    ['mqtts://127.0.0.1:8883/mqtt', 'only ws:// and wss:// addresses have a path'],
    ['https://127.0.0.1:443', 'unsupported scheme "https://"'],
    ['ws://127.0.0.1:99999/mqtt', 'out of range'],
  ])('refuses %s', (input, message) => {
    expect(() => parseListen(input)).toThrow(message);
  });
});

describe('formatAddress', () => {
  it('host:port for TCP (as before), a URL with the canonical scheme for the others', () => {
    expect(formatAddress({ host: '127.0.0.1', port: 1883, transport: 'tcp' })).toBe('127.0.0.1:1883');
    expect(formatAddress({ host: 'b', port: 8883, transport: 'tls' })).toBe('mqtts://b:8883');
    expect(formatAddress({ host: '::1', port: 80, transport: 'ws' })).toBe('ws://[::1]:80/mqtt');
    expect(formatAddress({ host: 'b', port: 443, transport: 'wss', path: '/m?q=1' })).toBe(
      'wss://b:443/m?q=<redacted>',
    );
  });

  it.each(['mqtts://b:8883', 'ws://[::1]:80/mqtt', 'wss://b:443/x/y?z=<redacted>'])(
    '%s parses back to itself',
    (url) => {
      expect(formatAddress(parseUpstream(url))).toBe(url);
    },
  );
});

describe('redactQuery: query values are never shown, keys are', () => {
  it.each([
    ['/mqtt', '/mqtt'],
    ['/mqtt?token=s3cr3t', '/mqtt?token=<redacted>'],
    [
      '/mqtt?x-amz-Signature=abc&x-amz-Date=2025&empty=',
      '/mqtt?x-amz-Signature=<redacted>&x-amz-Date=<redacted>&empty=',
    ],
    ['/mqtt?bare-token', '/mqtt?<redacted>'],
    ['/mqtt?a=1&&b==2', '/mqtt?a=<redacted>&&b=<redacted>'],
    ['/mqtt?', '/mqtt?'],
    ['/p#access_token=abc', '/p#<redacted>'],
    ['/p?k=v#f', '/p?k=<redacted>#<redacted>'],
    ['wss://h:443/mqtt?jwt=e.y.J', 'wss://h:443/mqtt?jwt=<redacted>'],
  ])('%s → %s', (input, expected) => {
    expect(redactQuery(input)).toBe(expected);
  });

  it.each([
    ['wss://broker/mqtt?token=s3cr3t#x', 'a fragment (#) means nothing here'],
    ['mqtt://user:s3cr3t@broker:1883', 'no credentials in the address, please: "mqtt://broker:1883"'],
    ['ws://u:s3cr3t@broker/mqtt?token=s3cr3t', '"ws://broker/mqtt?token=<redacted>"'],
    ['mqtts://broker/x?token=s3cr3t', 'only ws:// and wss:// addresses have a path'],
    ['wss://broker/a b?token=s3cr3t', 'spaces in the path'],
  ])('an address error about %s does not repeat the secret', (input, message) => {
    let error: unknown;
    try {
      parseUpstream(input);
    } catch (err) {
      error = err;
    }
    expect(String(error)).toContain(message);
    expect(String(error)).not.toContain('s3cr3t');
  });

  it('a listener address with a query: the error does not repeat its value', () => {
    expect(() => parseListen('ws://127.0.0.1:8080/mqtt?x=s3cr3t')).toThrow(
      'a listener path has no query: "ws://127.0.0.1:8080/mqtt?x=<redacted>"',
    );
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
