/** CONNECTs that carry a secret somewhere mqtt-tap must not show, shared by the log and recording tests. */
import { hex } from '../helpers/hex.js';

export const PASSWORD = Buffer.from('s3cretPassw0rd');

/**
 * A 5.0 CONNECT whose Authentication Data identifier lost a bit: 0x16 read as 0x12 (Assigned Client
 * Identifier, not allowed in CONNECT). Its lengths add up (soak f426e5b1, m-295).
 */
export const DAMAGED_AUTH_DATA = (() => {
  const data = Buffer.from('QXZJVKWqxzjvkw');
  const props = Buffer.concat([hex`14 12 00 0e`, data, hex`21 e1 15`]);
  const connect = Buffer.concat([
    hex`10 35 00 04 4d 51 54 54 05 c2 00 33`,
    props,
    hex`00 01 64 00 01 75 00 0e`,
    PASSWORD,
  ]);
  return { data, connect };
})();

/** `stream` cut into chunks of `size` bytes. */
export function chunksOf(stream: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
  return chunks;
}
