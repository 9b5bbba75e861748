/**
 * Debian's mosquitto (2.0.11) as a real peer: started on a free loopback port with a generated config
 * in a temp dir, optionally with password-file users, an acl_file, or the dynamic-security plugin.
 *
 * Facts this relies on (measured with 2.0.11):
 * - dynsec and password-file hashes are both PBKDF2-HMAC-SHA512, 101 iterations by default, over the
 *   *decoded* 12-byte salt, 64-byte output; the dynsec JSON stores salt and hash in separate base64
 *   fields, the password file as `user:$7$101$<salt>$<hash>`. Generated here, no tool needed.
 * - Started as root, mosquitto drops to the `mosquitto` user before reading plugin configs, password
 *   and ACL files; an unreadable dynsec JSON is logged ("Error loading Dynamic security plugin
 *   config") and the broker runs *without* it. We treat that log line as a start failure.
 * - `acl_file` never refuses a SUBSCRIBE (it grants and drops messages later); dynsec does refuse.
 */
import { execFileSync } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchMosquitto, type MosquittoProcess } from '../../src/proxy/embedded-broker.js';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';
export const DYNSEC_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';
export const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';

export interface MosquittoUser {
  username: string;
  password: string;
}

export type DynsecAclType =
  | 'publishClientSend'
  | 'publishClientReceive'
  | 'subscribeLiteral'
  | 'subscribePattern'
  | 'unsubscribeLiteral'
  | 'unsubscribePattern';

export interface DynsecAcl {
  acltype: DynsecAclType;
  topic: string;
  allow: boolean;
  /** Higher is checked first; the first ACL whose topic matches decides. */
  priority?: number;
}

export interface DynsecRole {
  rolename: string;
  acls: DynsecAcl[];
}

export interface DynsecClient extends MosquittoUser {
  roles: string[];
  clientid?: string;
}

export interface DynsecConfig {
  clients: DynsecClient[];
  roles: DynsecRole[];
  /** What applies when no ACL matches; mosquitto's own defaults when omitted. */
  defaultACLAccess?: Partial<
    Record<'publishClientSend' | 'publishClientReceive' | 'subscribe' | 'unsubscribe', boolean>
  >;
}

export interface MosquittoOptions {
  /** Users in a password file (anonymous access is then refused unless allowAnonymous). */
  users?: MosquittoUser[];
  /** Content of an acl_file (mosquitto's own syntax). */
  acl?: string;
  /** Users, roles and ACLs for the dynamic-security plugin. */
  dynsec?: DynsecConfig;
  /** Default: true when neither users nor dynsec are given. */
  allowAnonymous?: boolean;
  /** More config lines, appended verbatim. */
  extraConfig?: string[];
}

export interface Mosquitto extends MosquittoProcess {
  /** `mqtt://127.0.0.1:PORT` */
  url: string;
}

let unavailableReason: string | undefined | null = null;

function executable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why mosquitto (broker, dynsec plugin, clients) cannot be used here; undefined when it can. */
export function mosquittoUnavailableReason(): string | undefined {
  if (unavailableReason !== null) return unavailableReason;
  const missing = [MOSQUITTO_BIN, MOSQUITTO_PUB, MOSQUITTO_SUB].filter((f) => !executable(f));
  try {
    accessSync(DYNSEC_PLUGIN, fsConstants.R_OK);
  } catch {
    missing.push(DYNSEC_PLUGIN);
  }
  unavailableReason =
    missing.length > 0
      ? `missing ${missing.join(', ')} (apt-get install mosquitto mosquitto-clients)`
      : undefined;
  return unavailableReason;
}

export function mosquittoAvailable(): boolean {
  return mosquittoUnavailableReason() === undefined;
}

/**
 * For `describe.skipIf(!requireMosquitto())`: true when mosquitto is usable. Under CI=true a missing
 * mosquitto is an error (the suite fails); locally the reason is printed and the tests are skipped.
 */
export function requireMosquitto(): boolean {
  const reason = mosquittoUnavailableReason();
  if (reason === undefined) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`mosquitto is required in CI: ${reason}`);
  }
  console.warn(`[skip] mosquitto tests skipped: ${reason}`);
  return false;
}

/** The installed version, e.g. "2.0.11" (from `mosquitto -h`, which exits 3 after printing it). */
export function mosquittoVersion(): string | undefined {
  try {
    execFileSync(MOSQUITTO_BIN, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = typeof err === 'object' && err !== null && 'stdout' in err ? String(err.stdout) : '';
    return /mosquitto version (\S+)/.exec(out)?.[1];
  }
  return undefined;
}

/** PBKDF2-SHA512 as mosquitto 2.0 does it; returns base64 salt and hash. */
export function mosquittoHash(password: string, iterations = 101): { salt: string; hash: string } {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return { salt: salt.toString('base64'), hash: hash.toString('base64') };
}

/** One `mosquitto_passwd` line (`$7$` = sha512-pbkdf2). */
export function passwordFileLine({ username, password }: MosquittoUser): string {
  const { salt, hash } = mosquittoHash(password);
  return `${username}:$7$101$${salt}$${hash}`;
}

/** The JSON the dynamic-security plugin reads (the shape `mosquitto_ctrl dynsec init` writes). */
export function dynsecJson(config: DynsecConfig): string {
  const clients = config.clients.map((c) => {
    const { salt, hash } = mosquittoHash(c.password);
    return {
      username: c.username,
      ...(c.clientid !== undefined ? { clientid: c.clientid } : {}),
      password: hash,
      salt,
      iterations: 101,
      roles: c.roles.map((rolename) => ({ rolename })),
    };
  });
  const roles = config.roles.map((r) => ({
    rolename: r.rolename,
    acls: r.acls.map((a) => ({
      acltype: a.acltype,
      topic: a.topic,
      allow: a.allow,
      priority: a.priority ?? 0,
    })),
  }));
  const doc: Record<string, unknown> = { clients, roles, groups: [] };
  if (config.defaultACLAccess) doc.defaultACLAccess = config.defaultACLAccess;
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * A ready-made dynsec setup: user `alice` (password `alice-pw`) may publish and subscribe anywhere
 * except `denied/#`, where both subscribe and publish are refused (SUBACK 0x80/0x87, PUBACK 0x87).
 */
export function denyTopicDynsec(deniedFilter = 'denied/#'): DynsecConfig {
  return {
    clients: [{ username: 'alice', password: 'alice-pw', roles: ['limited'] }],
    roles: [
      {
        rolename: 'limited',
        acls: [
          { acltype: 'subscribePattern', topic: deniedFilter, allow: false, priority: 10 },
          { acltype: 'publishClientSend', topic: deniedFilter, allow: false, priority: 10 },
          { acltype: 'subscribePattern', topic: '#', allow: true },
          { acltype: 'publishClientSend', topic: '#', allow: true },
          { acltype: 'publishClientReceive', topic: '#', allow: true },
          { acltype: 'unsubscribePattern', topic: '#', allow: true },
        ],
      },
    ],
  };
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const reason = mosquittoUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start mosquitto: ${reason}`);
  const anonymous = options.allowAnonymous ?? (options.users === undefined && options.dynsec === undefined);
  const proc = await launchMosquitto({
    binary: MOSQUITTO_BIN,
    // The plugin keeps running without its config when it cannot read it: never accept that silently.
    fatalLogPatterns: [/Error loading Dynamic security plugin config/i, /Error: Unable to open/i],
    config: (port, dir) => {
      const lines = [
        `listener ${port} 127.0.0.1`,
        `allow_anonymous ${anonymous}`,
        'persistence false',
        'log_dest stderr',
        'log_type all',
      ];
      if (options.users) {
        const file = join(dir, 'passwd');
        writeFileSync(file, `${options.users.map(passwordFileLine).join('\n')}\n`, { mode: 0o644 });
        lines.push(`password_file ${file}`);
      }
      if (options.acl !== undefined) {
        const file = join(dir, 'acl');
        writeFileSync(file, options.acl, { mode: 0o644 });
        lines.push(`acl_file ${file}`);
      }
      if (options.dynsec) {
        const file = join(dir, 'dynsec.json');
        writeFileSync(file, dynsecJson(options.dynsec), { mode: 0o644 });
        lines.push(`plugin ${DYNSEC_PLUGIN}`, `plugin_opt_config_file ${file}`);
      }
      lines.push(...(options.extraConfig ?? []), '');
      return lines.join('\n');
    },
  });
  return Object.assign(proc, { url: `mqtt://${proc.host}:${proc.port}` });
}
