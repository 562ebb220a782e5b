import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

/**
 * The real meter data (../shared/data beside the checkout, as CI places it). METERFLOW_TEST_DATA_DIR
 * overrides it for checkouts elsewhere.
 */
export const DATA_DIR = (() => {
  const candidates = [process.env.METERFLOW_TEST_DATA_DIR, join(ROOT, '..', 'shared', 'data'), '/work/shared/data'].filter(
    (d): d is string => d !== undefined && d !== '',
  );
  const found = candidates.find((d) => existsSync(join(d, 'lcl-2013-households.csv')));
  if (found === undefined) throw new Error(`the real meter data is not in any of ${candidates.join(', ')}; set METERFLOW_TEST_DATA_DIR`);
  return found;
})();
