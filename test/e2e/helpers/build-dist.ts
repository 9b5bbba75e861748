/**
 * vitest globalSetup: the end-to-end tests run the built CLI (`bin/mqtt-tap.js` → `dist/`), so build
 * it once before any test file starts, and only when `src/` is newer than the build. Done here
 * rather than per file so that test files running in parallel never rebuild `dist/` under each other.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(ROOT, 'bin/mqtt-tap.js');
const MAIN_JS = join(ROOT, 'dist/src/cli/main.js');
const UI_JS = join(ROOT, 'dist/ui/app.js');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function builtAt(file = MAIN_JS): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Bundles the web view (web/ → dist/ui/) when missing or older than its sources. */
function ensureUiBuilt(): void {
  const sources = Math.max(newestMtime(join(ROOT, 'web')), newestMtime(join(ROOT, 'scripts/build-ui.mjs')));
  if (builtAt(UI_JS) >= sources) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-ui.mjs')], { cwd: ROOT, stdio: 'pipe' });
}

/** Builds `dist/` (tsc -p tsconfig.build.json) when missing or older than its sources. */
export function ensureBuilt(): void {
  const sources = Math.max(
    newestMtime(join(ROOT, 'src')),
    // The soak test runs dist/scripts/soak.js.
    newestMtime(join(ROOT, 'scripts')),
    newestMtime(join(ROOT, 'tsconfig.json')),
    newestMtime(join(ROOT, 'tsconfig.build.json')),
  );
  if (builtAt() >= sources) return;
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    );
  } catch (err) {
    // tsc still emits JavaScript on type errors (typecheck is its own CI step); a missing build is fatal.
    if (builtAt() === 0) throw err;
  }
}

export function setup(): void {
  ensureBuilt();
  ensureUiBuilt();
}
