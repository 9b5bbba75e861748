import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real sockets and real brokers: generous per test, but a hang must still fail, not stall CI.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Separate processes: tests start brokers and measure memory; a crash stays in its file.
    pool: 'forks',
    // Builds dist/ once, before any file runs, when src/ is newer: tests that spawn the CLI need it.
    globalSetup: ['test/e2e/helpers/build-dist.ts'],
  },
});
