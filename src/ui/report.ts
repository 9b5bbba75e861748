/** The self-contained HTML report of a replayed capture (replay --html). */
import type { RecordKeeper } from './consumers.js';
import type { UiHub } from './hub.js';
import { pageHtml } from './page.js';

export function reportHtml(hub: UiHub, keeper: RecordKeeper, title: string): string {
  const { limits } = keeper;
  const note =
    keeper.leftOut > 0
      ? `This capture is larger than a report holds: ${keeper.leftOut} of ${keeper.seen} records are left out ` +
        `(kept: the first ${limits.headPerConnection} and last ${limits.tailPerConnection} records of each connection, ` +
        `${limits.total} in all). The counts in the connections table are the capture's own. ` +
        'mqtt-tap replay FILE writes every record.'
      : undefined;
  return pageHtml({
    mode: 'report',
    title,
    rows: [...hub.rows.values()],
    records: keeper.records(),
    ...(note !== undefined ? { note } : {}),
  });
}
