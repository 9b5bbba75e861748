/**
 * The proxy's limits and their defaults, in one place: startProxy applies them when not told
 * otherwise, and the CLI shows and checks them.
 */
import { DEFAULT_TAP_OPTIONS } from '../observe/tap-options.js';

/** Without an upstream: mosquitto if installed and it starts, else aedes. */
export const DEFAULT_EMBEDDED_BROKER = 'auto';

/** Forwarded connections at once; one more is closed at once, never dialled upstream. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/**
 * What a WebSocket message may hold beyond the bytes of a packet the tap keeps (`--capture-max`):
 * ws holds a whole message in memory before handing it over, so its bound is of the same order.
 */
export const WS_MESSAGE_HEADROOM = 4 * 1024 * 1024;

/**
 * The largest `--ws-max-message`: the largest MQTT packet (1 + 4 + 268,435,455 bytes, MQTT 5.0
 * §1.5.5) plus room for another packet's start.
 */
export const WS_MAX_MESSAGE_LIMIT = 256 * 1024 * 1024 + 64 * 1024;

/** The default `--ws-max-message` for a given `--capture-max`. */
export function defaultWsMaxMessage(captureMax: number): number {
  return Math.min(captureMax + WS_MESSAGE_HEADROOM, WS_MAX_MESSAGE_LIMIT);
}

export const DEFAULT_WS_MAX_MESSAGE = defaultWsMaxMessage(DEFAULT_TAP_OPTIONS.captureCap);

/** --metrics without a host listens on loopback only; the port of the deploy/ samples. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
export const DEFAULT_METRICS_PORT = 9464;
/** /readyz: how long the broker may take to accept a TCP connection. */
export const READY_TIMEOUT_MS = 2000;
