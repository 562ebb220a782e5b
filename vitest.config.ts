import { defineConfig } from 'vitest/config';

/**
 * Two projects, both run by `npm test`:
 * - unit: pure code, no services (`*.test.ts` beside the code);
 * - integration: real Kafka and Cassandra (`*.int.test.ts`), started once by the global setup
 *   (test/support/global-setup.ts) on their own ports and state folder, stopped at the end.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**', '.meterflow/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          exclude: ['node_modules/**', '.meterflow/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Two cores and two JVMs: test files share the services, one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
