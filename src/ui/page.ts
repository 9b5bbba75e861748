/**
 * The page: one HTML document with the bundled app (web/, built into dist/ui/ by scripts/build-ui.mjs)
 * and, for a report, the data inline. Nothing is fetched from elsewhere.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The bundle, from dist/src/ui/ (the package) or src/ui/ (tests run from the sources). */
const BUNDLE_DIRS = ['../../ui/', '../../dist/ui/'];

let bundle: { js: string; css: string } | undefined;

export function loadBundle(): { js: string; css: string } {
  if (bundle !== undefined) return bundle;
  for (const dir of BUNDLE_DIRS) {
    try {
      const js = readFileSync(fileURLToPath(new URL(`${dir}app.js`, import.meta.url)), 'utf8');
      const css = readFileSync(fileURLToPath(new URL(`${dir}app.css`, import.meta.url)), 'utf8');
      bundle = { js, css };
      return bundle;
    } catch {}
  }
  throw new Error('the web view is not built (dist/ui/app.js is missing): run npm run build');
}

/** Text safe inside a <script> element: no `</script`, no `<!--`. */
function scriptText(text: string): string {
  return text.replace(/<(\/script|!--)/gi, '\\u003c$1');
}

/** What the page reads on start: live (connect back over WebSocket) or a report's data. */
export type PageBoot =
  | { mode: 'live' }
  | { mode: 'report'; title: string; rows: unknown[]; records: string[]; note?: string };

/**
 * The Content-Security-Policy: inline script and style only; a live page may open its own WebSocket
 * and nothing else, a report nothing at all.
 */
export function contentSecurityPolicy(mode: PageBoot['mode']): string {
  return [
    "default-src 'none'",
    "script-src 'unsafe-inline'",
    "style-src 'unsafe-inline'",
    'img-src data:',
    `connect-src ${mode === 'live' ? "'self'" : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function pageHtml(boot: PageBoot): string {
  const { js, css } = loadBundle();
  const title = boot.mode === 'report' ? `mqtt-tap report: ${boot.title}` : 'mqtt-tap';
  // Records are already JSON texts: joined, not parsed and written again.
  const data =
    boot.mode === 'live'
      ? '{"mode":"live"}'
      : `{"mode":"report","title":${JSON.stringify(boot.title)},"note":${JSON.stringify(boot.note ?? null)},"rows":${JSON.stringify(boot.rows)},"records":[${boot.records.join(',')}]}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(boot.mode)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${css.replace(/<\/style/gi, '<\\/style')}</style>`,
    '</head><body><div id="app"></div>',
    `<script type="application/json" id="mqtt-tap-data">${scriptText(data)}</script>`,
    `<script>${scriptText(js)}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
