// Bundles the page (web/) into dist/ui/app.js and app.css: Preact and all, nothing fetched at run time.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../web/main.tsx', import.meta.url).pathname],
  outfile: new URL('../dist/ui/app.js', import.meta.url).pathname,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'inline',
  logLevel: 'warning',
});
