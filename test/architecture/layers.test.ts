import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Imports point one way: cli → proxy/replay/ui; proxy, replay → observe → sinks → record → session →
 * protocol; ui (the web view's server side) → sinks → record → session → protocol.
 * A layer may import itself and the layers listed for it, nothing else.
 */
const ALLOWED: Record<string, readonly string[]> = {
  protocol: ['protocol'],
  session: ['session', 'protocol'],
  record: ['record', 'session', 'protocol'],
  sinks: ['sinks', 'record', 'session', 'protocol'],
  observe: ['observe', 'sinks', 'record', 'session', 'protocol'],
  proxy: ['proxy', 'observe', 'sinks', 'record', 'session', 'protocol'],
  replay: ['replay', 'observe', 'sinks', 'record', 'session', 'protocol'],
  ui: ['ui', 'sinks', 'record', 'session', 'protocol'],
  cli: ['cli', 'ui', 'replay', 'proxy', 'observe', 'sinks', 'record', 'session', 'protocol'],
};

/** The codec is pure: no I/O, no clock, no logger. */
const PROTOCOL_NODE_MODULES = new Set(['node:buffer']);

const SRC = join(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
}

const files = sources(SRC);

/** The page (web/) runs in a browser: it may import only itself and the bundled UI library. */
const WEB = join(import.meta.dirname, '../../web');
const WEB_PACKAGES = /^preact(\/|$)/;

describe('architecture: layering', () => {
  it('knows every layer in src/', () => {
    const layers = new Set(files.map((f) => relative(SRC, f).split('/')[0]!));
    for (const layer of layers) expect(Object.keys(ALLOWED), `unknown layer ${layer}`).toContain(layer);
  });

  it('only the CLI reads process.argv/env or exits the process', () => {
    for (const file of files) {
      if (relative(SRC, file).startsWith('cli/')) continue;
      const text = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      expect(
        /process\.(argv|env|exit)\b/.test(text),
        `${relative(SRC, file)} touches process.argv/env/exit`,
      ).toBe(false);
    }
  });

  for (const file of files) {
    const rel = relative(SRC, file);
    const layer = rel.split('/')[0]!;
    it(`${rel} imports only downward`, () => {
      for (const spec of imports(file)) {
        if (spec.startsWith('.')) {
          const target = relative(SRC, join(file, '..', spec)).split('/')[0]!;
          expect(ALLOWED[layer], `${rel} imports ${spec} (layer ${target})`).toContain(target);
        } else if (layer === 'protocol') {
          expect(PROTOCOL_NODE_MODULES.has(spec), `the pure codec imports ${spec}`).toBe(true);
        }
      }
    });
  }
});

describe('architecture: the page', () => {
  const webFiles = readdirSync(WEB)
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => join(WEB, f));

  it('has sources', () => expect(webFiles.length).toBeGreaterThan(0));

  for (const file of webFiles) {
    it(`web/${relative(WEB, file)} imports only web/, preact and import-free src/ modules, and reaches no network`, () => {
      const text = readFileSync(file, 'utf8');
      for (const spec of imports(file)) {
        if (!spec.startsWith('.')) {
          expect(WEB_PACKAGES.test(spec), `web/ imports ${spec}`).toBe(true);
          continue;
        }
        const target = join(file, '..', spec.replace(/\.js$/, '.ts'));
        if (!relative(WEB, target).startsWith('..')) continue;
        // Beyond web/: only src/ data and types that import nothing, so no Node module reaches the page.
        expect(relative(SRC, target).startsWith('..'), `${spec} is outside src/`).toBe(false);
        expect(imports(target), `${spec} imports other modules`).toEqual([]);
      }
      // The page only listens: no fetch, no XHR, no sending on its WebSocket.
      expect(/\bfetch\(|XMLHttpRequest|\.send\(|sendBeacon/.test(text), 'the page sends something').toBe(
        false,
      );
    });
  }
});
