/**
 * The baseline: a plain `node:net` relay, `client.pipe(upstream).pipe(client)` and nothing else on
 * the data path. Run as its own process so its CPU and memory can be read from /proc.
 *
 *   node dist/scripts/bench/relay.js LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT
 *
 * Like mqtt-tap (and mosquitto's clients in the benchmark) it sets TCP_NODELAY on both sockets, so
 * the comparison is about the work per chunk, not about Nagle's algorithm. The error handlers only
 * keep a reset connection from crashing the process.
 */
import * as net from 'node:net';

const [listenPort, upstreamHost, upstreamPort] = process.argv.slice(2);
if (listenPort === undefined || upstreamHost === undefined || upstreamPort === undefined) {
  console.error('usage: relay LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT');
  process.exit(2);
}

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: upstreamHost, port: Number(upstreamPort), noDelay: true });
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen({ host: '127.0.0.1', port: Number(listenPort) }, () => {
  console.log('listening');
});
process.on('SIGTERM', () => process.exit(0));
