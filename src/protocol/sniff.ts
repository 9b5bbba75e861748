/**
 * Recognises the non-MQTT protocols people most often point at an MQTT port by mistake, so the
 * report says "TLS ClientHello on a plain listener" instead of "malformed packet".
 */

import type { Direction } from './direction.js';

export interface SniffResult {
  looksLike: 'tls' | 'http' | 'proxy-v1' | 'proxy-v2' | 'ssh' | 'unknown';
  detail: string;
  hint?: string;
}

/** First bytes that open an MQTT conversation [MQTT-3.1.0-1]: CONNECT from clients; CONNACK, AUTH or DISCONNECT from brokers. */
export function isMqttOpening(side: Direction, firstByte: number): boolean {
  return side === 'client'
    ? firstByte === 0x10
    : firstByte === 0x20 || firstByte === 0xf0 || firstByte === 0xe0;
}

interface Signature {
  bytes: Buffer;
  result: (side: Direction) => SniffResult;
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

const tlsResult = (side: Direction): SniffResult =>
  side === 'client'
    ? {
        looksLike: 'tls',
        detail: 'TLS ClientHello received on a plain MQTT listener: is the client using mqtts?',
        hint: 'Listen with mqtts://HOST:PORT (and --tls-cert/--tls-key), or make the client use plain mqtt://',
      }
    : {
        looksLike: 'tls',
        detail: 'TLS record received from the broker: the upstream port expects TLS',
        hint: 'Use --upstream mqtts://HOST:PORT',
      };

const httpRequest = (side: Direction): SniffResult => ({
  looksLike: 'http',
  detail:
    side === 'client'
      ? 'HTTP request received on a plain MQTT listener: is the client using MQTT over WebSocket?'
      : 'HTTP request received from the broker side: this is not an MQTT broker',
  hint: side === 'client' ? 'Listen with ws://HOST:PORT/mqtt for WebSocket clients' : undefined,
});

const SIGNATURES: readonly Signature[] = [
  // TLS handshake (ClientHello / ServerHello) and alert records: content type, then version 3.x.
  { bytes: Buffer.from([0x16, 0x03]), result: tlsResult },
  { bytes: Buffer.from([0x15, 0x03]), result: tlsResult },
  ...['GET ', 'POST ', 'PUT ', 'HEAD ', 'OPTIONS ', 'DELETE ', 'PATCH ', 'CONNECT ', 'PRI * HTTP/2'].map(
    (m) => ({
      bytes: ascii(m),
      result: httpRequest,
    }),
  ),
  {
    bytes: ascii('HTTP/'),
    result: (side: Direction): SniffResult => ({
      looksLike: 'http',
      detail:
        side === 'broker'
          ? 'HTTP response received from the broker: the upstream is an HTTP or WebSocket port, not plain MQTT'
          : 'HTTP response received from the client: this is not an MQTT client',
      hint: side === 'broker' ? 'Use --upstream ws://HOST:PORT/mqtt for a WebSocket endpoint' : undefined,
    }),
  },
  {
    bytes: ascii('PROXY '),
    result: () => ({
      looksLike: 'proxy-v1',
      detail:
        'PROXY protocol v1 header received: a load balancer in front of mqtt-tap sends the PROXY protocol',
      hint: 'Start mqtt-tap with --accept-proxy-protocol, or disable the PROXY protocol on the load balancer for this port',
    }),
  },
  {
    bytes: Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]),
    result: () => ({
      looksLike: 'proxy-v2',
      detail:
        'PROXY protocol v2 header received: a load balancer in front of mqtt-tap sends the PROXY protocol',
      hint: 'Start mqtt-tap with --accept-proxy-protocol, or disable the PROXY protocol on the load balancer for this port',
    }),
  },
  {
    bytes: ascii('SSH-'),
    result: () => ({ looksLike: 'ssh', detail: 'SSH banner received: this is an SSH connection, not MQTT' }),
  },
];

/** Longest signature: the most bytes the framer holds before deciding. */
export const SNIFF_BYTES = 12;

/**
 * Classifies the first bytes of a stream that did not open with an MQTT packet. Returns undefined
 * while the bytes seen so far could still become a known signature and more may come.
 */
export function sniffNonMqtt(first: Buffer, side: Direction, final: boolean): SniffResult | undefined {
  let couldGrow = false;
  for (const sig of SIGNATURES) {
    const n = Math.min(first.length, sig.bytes.length);
    if (first.compare(sig.bytes, 0, n, 0, n) !== 0) continue;
    if (n === sig.bytes.length) return sig.result(side);
    couldGrow = true;
  }
  if (couldGrow && !final && first.length < SNIFF_BYTES) return undefined;
  const expected =
    side === 'client' ? 'a CONNECT packet (first byte 0x10)' : 'a CONNACK packet (first byte 0x20)';
  return {
    looksLike: 'unknown',
    detail: `the ${side} did not open with ${expected}: first byte is 0x${first[0]!.toString(16).padStart(2, '0')}; this is not MQTT`,
  };
}
