/**
 * Debian's mosquitto 2.0.11 with every transport at once: plain TCP (the helper's own listener), TLS,
 * TLS requiring a client certificate, WebSocket and WebSocket over TLS, all on 127.0.0.1.
 *
 * Measured with 2.0.11 (libwebsockets 4.1.6 built in): `protocol websockets` listeners work, also
 * with certfile/keyfile (wss); a config with *only* websockets listeners exits "Unable to start any
 * listening sockets", which the plain listener the helper always adds avoids.
 */
import { freePort } from '../../helpers/free-port.js';
import { type Mosquitto, type MosquittoUser, startMosquitto } from '../../helpers/mosquitto.js';
import type { TestCerts } from './certs.js';

export interface TransportBroker {
  mosquitto: Mosquitto;
  ports: { tcp: number; tls: number; mtls: number; ws: number; wss: number };
  stop(): Promise<void>;
}

export async function startTransportBroker(
  certs: TestCerts,
  options: { users?: MosquittoUser[] } = {},
): Promise<TransportBroker> {
  let lastError: unknown;
  // The extra ports were free a moment ago; if one was taken meanwhile, try other ones.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [tls, mtls, ws, wss] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const keyPair = [`certfile ${certs.server}`, `keyfile ${certs.serverKey}`];
    try {
      const mosquitto = await startMosquitto({
        ...(options.users !== undefined ? { users: options.users } : {}),
        extraConfig: [
          `listener ${tls} 127.0.0.1`,
          `cafile ${certs.ca}`,
          ...keyPair,
          `listener ${mtls} 127.0.0.1`,
          `cafile ${certs.ca}`,
          ...keyPair,
          'require_certificate true',
          `listener ${ws} 127.0.0.1`,
          'protocol websockets',
          `listener ${wss} 127.0.0.1`,
          'protocol websockets',
          ...keyPair,
        ],
      });
      return {
        mosquitto,
        ports: { tcp: mosquitto.port, tls, mtls, ws, wss },
        stop: () => mosquitto.stop(),
      };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
