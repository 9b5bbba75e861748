/** CONNECTs that carry a secret somewhere mqtt-tap must not show, shared by the log and recording tests. */
import { hex } from '../helpers/hex.js';

export const PASSWORD = Buffer.from('s3cretPassw0rd');

/** 3.1.1 CONNECT, client id "d", user "u", password "s3cretPassw0rd": Remaining Length 0x20. */
export const CONNECT = hex`10 20 00 04 4d 51 54 54 04 c2 00 3c 00 01 64 00 01 75 00 0e ${PASSWORD}`;
/** The same CONNECT with a Remaining Length (0x14) that ends two bytes into the password. */
export const SHORT = hex`10 14 ${CONNECT.subarray(2)}`;
/** The same CONNECT with the Password Flag clear: the password bytes are left over. */
export const FLAG_CLEAR = hex`10 20 00 04 4d 51 54 54 04 82 00 3c ${CONNECT.subarray(12)}`;
/** The Password Flag clear and a Remaining Length that ends with the user name: the password follows the packet. */
export const FLAG_CLEAR_SHORT = hex`10 10 00 04 4d 51 54 54 04 82 00 3c ${CONNECT.subarray(12)}`;

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
