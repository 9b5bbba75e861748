/**
 * A broker to proxy to when the user gives no upstream, so `npm start` works out of the box.
 *
 * mosquitto is preferred when installed: it speaks MQTT 3.1, 3.1.1 and 5.0. aedes (in-process) is the
 * fallback and speaks 3.1/3.1.1 only: it answers a 5.0 CONNECT with return code 1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants as fsConstants,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { DEFAULT_EMBEDDED_BROKER } from './limits.js';

export type EmbeddedBrokerKind = 'mosquitto' | 'aedes';

export interface EmbeddedBroker {
  kind: EmbeddedBrokerKind;
  version?: string;
  host: string;
  port: number;
  /** Protocol versions the broker accepts (MQTT protocol levels: 3 = 3.1, 4 = 3.1.1, 5 = 5.0). */
  protocolLevels: readonly number[];
  /** Why mosquitto was not used although one was found (it failed to start); absent otherwise. */
  fallbackReason?: string;
  /** Stops the broker and removes its temporary files. Idempotent. */
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  /** `PATH`-style list of directories to look for `mosquitto` in (the CLI passes `process.env.PATH`). */
  searchPath?: string;
  /** An explicit mosquitto binary, or false to go straight to aedes. */
  mosquitto?: string | false;
  /** `auto` (default): mosquitto if found and it starts, else aedes. `mosquitto`: that or an error. */
  kind?: 'auto' | EmbeddedBrokerKind;
  /** Called if the broker process dies while it should be running (mosquitto only). */
  onUnexpectedExit?: (detail: string) => void;
  startTimeoutMs?: number;
}

const LOOPBACK = '127.0.0.1';

/**
 * Debian installs mosquitto in /usr/sbin, which is not on a non-root user's PATH; look there too
 * so that an installed broker is found whoever runs the tool.
 */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `mosquitto` on `searchPath`, then in the sbin directories; undefined if none. */
export function findMosquitto(searchPath = ''): string | undefined {
  const dirs = [...searchPath.split(delimiter).filter((d) => d !== ''), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, 'mosquitto');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0 }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface MosquittoProcess {
  pid: number;
  host: string;
  port: number;
  version?: string;
  /** The temporary directory holding the generated config (removed on stop). */
  dir: string;
  /** Everything mosquitto logged so far (stdout and stderr, bounded). */
  logs(): string;
  /** Sends a signal without cleaning up (tests kill brokers mid-session). */
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, SIGKILL after a timeout, then removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface LaunchMosquittoOptions {
  binary: string;
  /** Writes the config (and any files it references) into `dir` for `port`; returns the config text. */
  config: (port: number, dir: string) => string;
  startTimeoutMs?: number;
  /** Log lines that mean the broker is running but not as configured (e.g. a plugin config unreadable). */
  fatalLogPatterns?: readonly RegExp[];
  onUnexpectedExit?: (detail: string) => void;
}

const LOG_LIMIT = 64 * 1024;
const BIND_FAILURE = /Address already in use|Error: Unable to open listen socket|Error creating listener/i;

/**
 * Runs mosquitto with a private config in a fresh temp dir on a free loopback port, and resolves once
 * it accepts connections. Retries with another port if the one picked was taken in the meantime.
 */
export async function launchMosquitto(options: LaunchMosquittoOptions): Promise<MosquittoProcess> {
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-mosquitto-'));
  // Run as root, mosquitto drops to its own user before reading plugin configs, password and ACL
  // files: they must be readable by others (they hold only hashes and test data).
  chmodSync(dir, 0o755);
  let lastError: Error | undefined;
  try {
    for (let attempt = 0; attempt < 4; attempt++) {
      const port = await freeLoopbackPort();
      const configPath = join(dir, 'mosquitto.conf');
      writeFileSync(configPath, options.config(port, dir), { mode: 0o644 });
      try {
        return await runOnce(options, dir, configPath, port, startTimeoutMs);
      } catch (err) {
        lastError = err instanceof Error ? err : new Error(String(err));
        if (!(lastError as Error & { retryable?: boolean }).retryable) break;
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('mosquitto did not start');
}

/**
 * Runs the broker (`$2...`) in this shell's place, so it keeps the pid mqtt-tap knows, beside a
 * watchdog that reads the shell's stdin, a pipe only mqtt-tap writes to. The pipe ends when
 * mqtt-tap exits however it exits (SIGKILL included); the watchdog then stops the broker if it
 * still runs (same pid and start time: never a process that reused the pid) and removes `$1`.
 */
const WATCHDOG = `
dir=$1; shift
started() {
  read -r s < /proc/$$/stat 2>/dev/null || return 0
  s=\${s##*") "}; set -- $s
  [ "$1" = Z ] || echo "\${20}"
}
exec 3<&0
(
  exec 0<&3 3<&- >/dev/null 2>&1
  me=$(started)
  [ -n "$me" ] || [ ! -d /proc/self ] || exit 0
  while read -r _; do :; done
  [ "$(started)" = "$me" ] || exit 0
  kill -TERM $$
  i=0
  while [ $i -lt 30 ] && [ "$(started)" = "$me" ]; do sleep 0.1; i=$((i+1)); done
  [ "$(started)" = "$me" ] && kill -KILL $$
  rm -rf -- "$dir"
) &
exec "$@" </dev/null 3<&-
`;

function runOnce(
  options: LaunchMosquittoOptions,
  dir: string,
  configPath: string,
  port: number,
  startTimeoutMs: number,
): Promise<MosquittoProcess> {
  // Its own process group: a Ctrl-C in the terminal must reach mqtt-tap only, which then lets
  // connections close during the grace period before stopping the broker itself.
  const child: ChildProcess = spawn(
    '/bin/sh',
    ['-c', WATCHDOG, 'mqtt-tap-broker', dir, options.binary, '-c', configPath],
    { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
  );
  // Never written: its end is the watchdog's signal. Node closes it when the broker exits.
  child.stdin?.on('error', () => {});
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // Never leave a broker behind if the process exits without stopping us (crash, process.exit).
  const onProcessExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onProcessExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping = true;
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', onProcessExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const proc: MosquittoProcess = {
    pid: child.pid ?? 0,
    host: LOOPBACK,
    port,
    dir,
    logs: () => log,
    kill: (signal) => {
      child.kill(signal);
    },
    exited,
    stop,
  };

  return (async () => {
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const deadline = Date.now() + startTimeoutMs;
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void exited.then((e) => {
      exitInfo = e;
    });
    let failure: Error | undefined;
    void spawnError.then((e) => {
      failure = e;
    });
    for (;;) {
      if (failure !== undefined) break;
      if (exitInfo !== undefined) {
        const err = new Error(
          `mosquitto exited during start (code ${exitInfo.code}, signal ${exitInfo.signal}): ${log.trim()}`,
        );
        (err as Error & { retryable?: boolean }).retryable = BIND_FAILURE.test(log);
        failure = err;
        break;
      }
      const fatal = options.fatalLogPatterns?.find((p) => p.test(log));
      if (fatal !== undefined) {
        failure = new Error(`mosquitto started but not as configured (${fatal}): ${log.trim()}`);
        break;
      }
      if (/ running\b/.test(log) && (await canConnect(LOOPBACK, port))) {
        const version = /mosquitto version (\S+) (?:starting|running)/.exec(log)?.[1];
        if (version !== undefined) proc.version = version;
        void exited.then(({ code, signal }) => {
          if (!stopping) {
            options.onUnexpectedExit?.(
              `mosquitto (pid ${proc.pid}) exited unexpectedly (code ${code}, signal ${signal}); last log: ${log.trim().split('\n').slice(-3).join(' | ')}`,
            );
          }
        });
        return proc;
      }
      if (Date.now() > deadline) {
        failure = new Error(
          `mosquitto did not accept on ${LOOPBACK}:${port} within ${startTimeoutMs} ms: ${log.trim()}`,
        );
        break;
      }
      await delay(20);
    }
    // Clean up this attempt but keep the dir: launchMosquitto owns it and may retry in it.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    process.off('exit', onProcessExit);
    throw failure;
  })();
}

/** Plain anonymous broker config: a single loopback listener, nothing written to disk. */
function embeddedMosquittoConfig(port: number): string {
  return [
    '# Generated by mqtt-tap for its embedded broker; removed when mqtt-tap stops.',
    `listener ${port} ${LOOPBACK}`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    '',
  ].join('\n');
}

function aedesVersion(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = join(dirname(require.resolve('aedes')), 'package.json');
    const pkg: unknown = JSON.parse(readFileSync(pkgPath, 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') {
      return pkg.version;
    }
  } catch {
    // The version is informational only.
  }
  return undefined;
}

/** aedes in-process on a loopback port picked by the kernel. */
export async function startAedesBroker(): Promise<EmbeddedBroker> {
  // Loaded on demand: most runs have an upstream or mosquitto, and the CLI should start fast.
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('aedes listener has no port');
  let closed: Promise<void> | undefined;
  const result: EmbeddedBroker = {
    kind: 'aedes',
    host: LOOPBACK,
    port: addr.port,
    protocolLevels: [3, 4],
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close();
        for (const socket of sockets) socket.destroy();
        broker.close(() => resolve());
      });
      return closed;
    },
  };
  const version = aedesVersion();
  if (version !== undefined) result.version = version;
  return result;
}

/** mosquitto when one is installed (unless disabled), else aedes. */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const kind = options.kind ?? DEFAULT_EMBEDDED_BROKER;
  const binary =
    options.mosquitto === false || kind === 'aedes'
      ? undefined
      : (options.mosquitto ?? findMosquitto(options.searchPath));
  if (binary === undefined) {
    if (kind === 'mosquitto') {
      throw new Error(`no mosquitto binary found on PATH or in ${SBIN_DIRS.join(', ')}`);
    }
    return startAedesBroker();
  }
  let fallbackReason: string;
  try {
    const launchOptions: LaunchMosquittoOptions = {
      binary,
      config: (port) => embeddedMosquittoConfig(port),
    };
    if (options.startTimeoutMs !== undefined) launchOptions.startTimeoutMs = options.startTimeoutMs;
    if (options.onUnexpectedExit !== undefined) launchOptions.onUnexpectedExit = options.onUnexpectedExit;
    const proc = await launchMosquitto(launchOptions);
    const result: EmbeddedBroker = {
      kind: 'mosquitto',
      host: proc.host,
      port: proc.port,
      protocolLevels: [3, 4, 5],
      close: () => proc.stop(),
    };
    if (proc.version !== undefined) result.version = proc.version;
    return result;
  } catch (err) {
    if (kind === 'mosquitto') throw err;
    fallbackReason = `${binary} failed to start: ${err instanceof Error ? err.message : String(err)}`;
  }
  const aedes = await startAedesBroker();
  aedes.fallbackReason = fallbackReason;
  return aedes;
}
