import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { createKafka } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { createIngestPipeline } from '../../ingest/pipeline/create-pipeline.ts';
import { replayFiles } from '../../ingest/replay/replay.ts';
import { lclMeters } from '../../ingest/sources/index.ts';
import type { Meter } from '../../schemas/reading.ts';
import { SpeedLayer } from '../../speed-layer/speed-layer.ts';
import { DATA_DIR } from '../../test/support/data-dir.ts';
import { withFreshTopics } from '../../test/support/kafka-helpers.ts';
import { waitForSpeedCaughtUp, withFreshKeyspace } from '../../test/support/speed-helpers.ts';
import { testConfig } from '../../test/support/test-config.ts';
import { CassandraKeyStore } from '../auth/cassandra-key-store.ts';
import { createApiKey } from '../auth/key-store.ts';
import { DASHBOARD_DIST } from '../routes/dashboard-routes.ts';
import { type RunningServer, startServer } from '../runtime/start-server.ts';

// The dashboard in a real browser (Debian chromium through playwright-core) against the real
// pipeline: a tiny replay of two LCL households (1 Jan 2013 and the morning of 2 Jan), the speed
// layer, `meterflow serve` with auth on. Screenshots of every view go to test-results/screenshots/.
const ROOT = join(import.meta.dirname, '..', '..');
const SHOTS = join(ROOT, 'test-results', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const HOUSEHOLDS = ['MAC000002', 'MAC000003'];
/** CSV lines kept per household: 48 half-hours of 1 Jan and 24 of 2 Jan (00:00–11:30 UTC). */
const LINES = 72;
const DAY = '2013-01-02';
const log = createLogger('test-dashboard', 'warn');

describe('dashboard in a real browser on the real pipeline', () => {
  let config: Config;
  let meters: Meter[];
  let client: CassandraClient;
  let server: RunningServer;
  let speed: SpeedLayer | undefined;
  let browser: Browser;
  let page: Page;
  let token: string;
  let dataDir: string;

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }
  async function ingest(files: string[], extra: { meterId: string; intervalStart: number; value: number } | null): Promise<void> {
    const { pipeline, transport } = await createIngestPipeline(config, log, new Map(meters.map((m) => [m.meterId, m])));
    try {
      if (files.length > 0) await replayFiles(files, 'lcl', pipeline);
      if (extra !== null) {
        const outcome = await pipeline.enqueue({
          reading: {
            ...extra,
            intervalMinutes: 30,
            channel: 'import',
            kind: 'interval',
            quality: 'actual',
            source: 'e2e',
            correction: false,
          },
          source: 'e2e',
          origin: null,
        });
        expect(outcome.status).toBe('accepted');
      }
      await pipeline.flush();
    } finally {
      await transport.disconnect();
    }
  }
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const dayTotals = () =>
    api<{ rows: { values: Record<string, number | null> }[] }>(
      `/v1/views/fleet_hourly/keys?from=${DAY}T00:00:00Z&to=2013-01-03T00:00:00Z&grain=hour&measures=importKwh,exportKwh,costCents`,
    );

  beforeAll(async () => {
    if (!existsSync(join(DASHBOARD_DIST, 'index.html'))) {
      const built = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'serving-layer/dashboard/vite.config.ts'],
        {
          cwd: ROOT,
          encoding: 'utf8',
        },
      );
      expect(built.status, built.stderr).toBe(0);
    }
    mkdirSync(SHOTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'meterflow-dashboard-'));
    const files = HOUSEHOLDS.map((h) => {
      const lines = readFileSync(join(DATA_DIR, 'lcl-2013', `${h}.csv`), 'utf8').split('\n');
      const file = join(dataDir, `${h}.csv`);
      writeFileSync(file, `${lines.slice(0, LINES + 1).join('\n')}\n`);
      return file;
    });
    const base = testConfig({
      ingest: { retentionDays: 36_500 },
      serving: { port: 0, auth: { required: true, cacheTtlMs: 60_000 } },
      speed: { groupId: `test-dashboard-speed-${randomUUID()}`, flushIntervalMs: 200, refreshIntervalMs: 500 },
    });
    config = await withFreshKeyspace(await withFreshTopics(base, 1), 'meterflow_dashboard');
    meters = (await lclMeters(join(DATA_DIR, 'lcl-2013-households.csv'))).filter((m) => HOUSEHOLDS.some((h) => m.meterId.endsWith(h)));
    client = createCassandra(config);
    await client.connect();
    await new MeterRegistryStore(client).upsert(meters);
    token = (await createApiKey(new CassandraKeyStore(client), 'dashboard-e2e')).token;
    await ingest(files, null);
    speed = new SpeedLayer({ config, log, kafka: createKafka(config, log), cassandra: client });
    await speed.start();
    await waitForSpeedCaughtUp(config, 60_000, client, 0);
    server = await startServer(config, log);
    await server.feed.ready;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await speed?.stop();
    await server?.close();
    await client?.shutdown();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('overview: the numbers equal the API’s, one heatmap cell per meter-hour, a new reading shows up without reload', async () => {
    await page.goto(`${server.url}/?key=${encodeURIComponent(token)}&tz=UTC`);
    // The page picks the newest day with data by itself.
    await expect.poll(() => page.inputValue('#day'), { timeout: 15_000 }).toBe(DAY);
    await page.waitForSelector('[data-testid=heatmap]', { timeout: 20_000 });

    const before = (await dayTotals()).rows[0]?.values ?? {};
    const shown = async (id: string) => page.getAttribute(`[data-testid=${id}]`, 'data-value');
    expect(await shown('meters')).toBe('2');
    expect(Number(await shown('consumption'))).toBe(before.importKwh);
    expect(Number(await shown('generation'))).toBe(before.exportKwh);
    expect(Number(await shown('cost'))).toBeCloseTo((before.costCents as number) / 100, 9);

    // 2 meters × 24 hours of the UTC day; filled = the hours the API has data for (00–11 each).
    expect(await page.locator('[data-testid=heatmap] .cell').count()).toBe(2 * 24);
    expect(await page.locator('[data-testid=heatmap] .cell:not(.empty)').count()).toBe(2 * 12);
    await shot('overview');

    // A reading produced now, for an hour the page shows empty: the live stream brings it in.
    const cell = page.locator('[data-testid=heatmap] .cell[data-meter="lcl:MAC000002"][data-hour="2013-01-02T15:00:00.000Z"]');
    expect(await cell.getAttribute('class')).toBe('cell empty');
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await ingest([], { meterId: 'lcl:MAC000002', intervalStart: Date.parse('2013-01-02T15:00:00Z'), value: 3 });
    await expect.poll(() => cell.getAttribute('data-value'), { timeout: 20_000 }).toBe('3');
    const after = (await dayTotals()).rows[0]?.values ?? {};
    expect(after.importKwh).toBeCloseTo((before.importKwh as number) + 3, 9);
    await expect.poll(async () => Number(await shown('consumption')), { timeout: 10_000 }).toBe(after.importKwh);
    expect(navigations).toEqual([]);
    expect(await page.textContent('#live')).toMatch(/live: \d+ change/);
    await shot('overview-after-live-reading');
  });

  it('drill-down, meter and pipeline views render from the API; phone width; a missing key shows the error state', async () => {
    await page.goto(`${server.url}/#/drill`);
    await page.waitForSelector('[data-testid=regions] tbody tr');
    const regions = await api<{ rows: unknown[] }>(`/v1/views/region_hourly/keys?from=${DAY}&to=2013-01-03&grain=hour`);
    expect(await page.locator('[data-testid=regions] tbody tr').count()).toBe(regions.rows.length);
    await shot('regions');
    await page.locator('[data-testid=regions] tbody tr a').first().click();
    await page.waitForSelector('[data-testid=top-consumers] tbody tr');
    await page.waitForSelector('[data-testid=drill-chart] svg');
    await shot('region');

    await page.goto(`${server.url}/#/meter?meter=${encodeURIComponent('lcl:MAC000002')}`);
    await page.waitForSelector('[data-testid=meter-chart-0] svg');
    expect(Number(await page.getAttribute('[data-testid=readings]', 'data-value'))).toBe(25);
    await shot('meter');

    await page.goto(`${server.url}/#/pipeline`);
    await page.waitForSelector('[data-testid=partitions] tbody tr');
    expect(await page.getAttribute('[data-testid=lag]', 'data-value')).toBe('0');
    await shot('pipeline');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/#/overview`);
    await page.waitForSelector('[data-testid=heatmap]');
    // The page fits the phone; only the heatmap panel scrolls sideways inside itself.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('overview-phone');

    const anonymous = await browser.newPage();
    await anonymous.goto(`${server.url}/`);
    await anonymous.waitForSelector('[data-state=error]');
    expect(await anonymous.textContent('[data-state=error]')).toMatch(/^401: .*API key/);
    await anonymous.screenshot({ path: join(SHOTS, 'error-no-key.png') });
    await anonymous.close();
  });
});
