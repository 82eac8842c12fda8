/**
 * STUB on branch `states` (H-states): the long-term statistics importer is built by H-stats on its
 * own branch; the lead merges the real module over this file. It does nothing and reports done,
 * so that the import job (src/import/job.ts) compiles and runs its importers in order.
 */
import type { Importer, ImportProgress } from './importer.js';

export const statisticsImporter: Importer = {
  name: 'statistics',
  run: (): Promise<ImportProgress> => Promise.resolve({ importer: 'statistics', fraction: 1, items: 0, points: 0, requests: 0, bytes: 0 }),
};
