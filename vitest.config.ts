import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/integration/databases.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration files each start an ingestor process; running them side by side on 2 cores
    // only makes each slower. Unit files are fast either way.
    fileParallelism: false,
  },
});
