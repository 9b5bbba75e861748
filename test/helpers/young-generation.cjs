// Preload (`node --require`) for tests: at exit, allocates short-lived objects with survivors (what
// makes V8 grow its young generation), then writes the new space's size in bytes to $YOUNG_GEN_FILE.
const { writeFileSync } = require('node:fs');
const { getHeapSpaceStatistics } = require('node:v8');

process.on('exit', () => {
  const keep = [];
  for (let i = 0; i < 3e6; i++) {
    keep.push({ i, list: [i] });
    if (keep.length > 200_000) keep.splice(0, 100_000);
  }
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  writeFileSync(process.env.YOUNG_GEN_FILE, String(space ? space.space_size : -1));
});
