// Shared with the page (web/): types only, no imports.

/** What the connections table shows of one connection; the page computes ages from the times. */
export interface ConnectionRow {
  conn: string;
  clientId?: string;
  username?: string;
  protocol?: string;
  transport?: string;
  client?: string;
  state: 'open' | 'closed';
  startedAt: number;
  durationMs?: number;
  packets: { fromClient: number; fromBroker: number };
  bytes: { fromClient: number; fromBroker: number };
  keepAlive?: number;
  /** When the client's last packet was seen (keep-alive countdown). */
  clientLastAt?: number;
  lastReason?: { type: string; code: number; hex: string; name: string; error: boolean };
  errors: number;
  closedBy?: string;
  clean?: boolean;
  /** The close record's verdict, when it carries one. */
  verdict?: unknown;
}
