/** The two ends of a connection, each the sender of one direction. */
export type Side = 'client' | 'broker';

export function other(side: Side): Side {
  return side === 'client' ? 'broker' : 'client';
}
