/** Who sent the bytes: the client (toward the broker) or the broker (toward the client). */
export type Direction = 'client' | 'broker';

export function opposite(direction: Direction): Direction {
  return direction === 'client' ? 'broker' : 'client';
}
