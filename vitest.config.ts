import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each suite starts its own nats-server on a free port; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
