/**
 * The hash slot of a key, as Redis Cluster computes it: CRC16 (XMODEM) of
 * the key, or of its hash tag — the bytes between the first `{` and the
 * first `}` after it, when there are any — modulo 16,384. Every key of an
 * event carries the tag `{<event id>}`, so this names the event's slot.
 *
 * Needed where a command is sent to a node chosen by hand (the connections
 * of sales that wait for replicas) rather than routed by the cluster client.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      return crc16(bytes, open + 1, close) & 0x3fff;
    }
  }
  return crc16(bytes, 0, bytes.length) & 0x3fff;
}

/** CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, over `bytes[from, to)`. */
function crc16(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc ^= (bytes[i] as number) << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}
