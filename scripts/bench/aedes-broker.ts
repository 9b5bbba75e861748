/**
 * The fallback broker when mosquitto is not installed: aedes in its own process (so that its CPU is
 * not the benchmark's), on a loopback port the kernel picks; prints "listening PORT aedes VERSION".
 * MQTT 3.1/3.1.1 only.
 */
import { startAedesBroker } from '../../src/proxy/embedded-broker.js';

const broker = await startAedesBroker();
console.log(`listening ${broker.port} aedes ${broker.version ?? ''}`);
const stop = (): void => {
  void broker.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
