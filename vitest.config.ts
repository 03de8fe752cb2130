import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // packages/*/test/unit: pure code of a package that otherwise needs the regions' databases.
          include: ['packages/core/test/**/*.test.ts', 'packages/*/test/unit/**/*.test.ts', 'infra/test/**/*.test.ts', 'test/support/**/*.test.ts'],
          // Loading Pulumi's SDK cold takes seconds on a busy 2-core machine.
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'regions',
          include: ['packages/{db,api,cli,edge,orchestrator}/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'packages/*/test/unit/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // The web app in Debian's Chromium against a cluster started by `atlas up` (its own databases).
          name: 'e2e',
          include: ['packages/web/e2e/**/*.e2e.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
