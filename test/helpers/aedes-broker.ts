/**
 * aedes in-process on a free loopback port: the fast MQTT 3.1/3.1.1 peer for integration tests.
 * aedes answers a 5.0 CONNECT with return code 1; with `credentials` it refuses any other user name
 * or password with return code 4 ("bad user name or password"), which mosquitto never sends.
 */
import * as net from 'node:net';
import { Aedes, type AedesOptions, type AuthenticateError } from 'aedes';

export interface AedesBrokerOptions {
  /** Accept only this user; everyone else gets CONNACK return code 4. */
  credentials?: { username: string; password: string };
  /** Passed to aedes as is (hooks such as authorizeSubscribe). */
  aedes?: AedesOptions;
}

export interface AedesBroker {
  broker: Aedes;
  host: string;
  port: number;
  /** `mqtt://127.0.0.1:PORT` */
  url: string;
  /** Destroys the broker's sockets now, as a crash would (the server keeps listening). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startAedes(options: AedesBrokerOptions = {}): Promise<AedesBroker> {
  const opts: AedesOptions = { ...options.aedes };
  const creds = options.credentials;
  if (creds) {
    opts.authenticate = (_client, username, password, done) => {
      if (username === creds.username && password?.toString('utf8') === creds.password) {
        done(null, true);
        return;
      }
      const err = Object.assign(new Error('bad user name or password'), {
        returnCode: 4,
      }) as AuthenticateError;
      done(err, null);
    };
  }
  const broker = await Aedes.createBroker(opts);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('aedes server has no port');
  const dropConnections = (): void => {
    for (const s of sockets) s.destroy();
  };
  return {
    broker,
    host: '127.0.0.1',
    port: addr.port,
    url: `mqtt://127.0.0.1:${addr.port}`,
    dropConnections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close();
        dropConnections();
        broker.close(() => resolve());
      }),
  };
}
