/** Numbers of the capture formats the recorder writes and replay reads: pcap, pcapng and TCP. */

/** pcapng block types (draft-ietf-opsawg-pcapng §4; PB: the obsolete Packet Block, Appendix A). */
export const BLOCK = {
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  PB: 0x00000002,
  SPB: 0x00000003,
  EPB: 0x00000006,
} as const;

/** pcapng option codes (§3.5, §4.1-4.3): the same code means different options in different blocks. */
export const OPTION = {
  END: 0,
  COMMENT: 1,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_DESCRIPTION: 3,
  IF_TSRESOL: 9,
  IF_TSOFFSET: 14,
  EPB_DROPCOUNT: 4,
} as const;

/** A pcapng section's byte-order magic, as its writer's byte order reads it. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Classic libpcap file magics: microsecond and nanosecond timestamps. */
export const PCAP_MAGIC = { US: 0xa1b2c3d4, NS: 0xa1b23c4d } as const;

/** Link-layer header types (tcpdump.org LINKTYPE_*). */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** TCP header flags (RFC 9293 §3.1). */
export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;
