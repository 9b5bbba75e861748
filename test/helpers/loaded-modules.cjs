// Preload (`node --require`) for tests: at exit, appends every module the process loaded to
// $LOADED_MODULES_FILE, one per line: ES modules as resolved URLs (a resolve hook), CommonJS
// modules as the paths in require.cache.
const { register } = require('node:module');
const { appendFileSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const out = process.env.LOADED_MODULES_FILE;
register(pathToFileURL(join(__dirname, 'loaded-modules-hooks.mjs')), { data: { out } });
process.on('exit', () => appendFileSync(out, `${Object.keys(require.cache).join('\n')}\n`));
