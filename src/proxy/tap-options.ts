/** How the tap decodes and what it puts in records; set from the CLI. */
export type PayloadMode = 'none' | 'auto' | 'text' | 'hex' | 'base64';

export interface TapOptions {
  /** Body bytes of one packet kept for decoding (default 64 KiB); the rest is counted. */
  captureCap: number;
  payload: PayloadMode;
  /** Bytes of payload shown in a preview (default 256). */
  payloadMax: number;
  /** Log CONNECT passwords and AUTH data in clear. */
  showSecrets: boolean;
  /** Only log packets of connections whose client id matches this glob (`*`, `?`). */
  clientId?: string;
  /** Only log PUBLISH/SUBSCRIBE/UNSUBSCRIBE traffic matching this MQTT filter (`+`, `#`). */
  topic?: string;
}

export const DEFAULT_TAP_OPTIONS: TapOptions = {
  captureCap: 64 * 1024,
  payload: 'auto',
  payloadMax: 256,
  showSecrets: false,
};
