import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../core/cassandra.ts';
import type { Config } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { withFreshKeyspace } from '../test/support/speed-helpers.ts';
import { testConfig } from '../test/support/test-config.ts';
import { JobLeases, newHolderId, withLease } from './lease.ts';
import { startScheduler } from './scheduler.ts';

const log = createLogger('test-jobs', 'warn');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('job leases on real Cassandra', () => {
  let config: Config;
  let a: CassandraClient;
  let b: CassandraClient;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'meterflow-jobs-int-'));
    config = await withFreshKeyspace(testConfig({ batch: { dataDir } }), 'meterflow_jobs_a');
    // Two clients: two workers.
    a = createCassandra(config);
    b = createCassandra(config);
    await Promise.all([a.connect(), b.connect()]);
  });
  afterAll(async () => {
    await Promise.all([a?.shutdown(), b?.shutdown()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('of two contenders exactly one wins; only the holder renews and releases', async () => {
    const [la, lb] = [new JobLeases(a), new JobLeases(b)];
    const [ha, hb] = [newHolderId(), newHolderId()];
    const won = await Promise.all([la.acquire('contended', ha, 60), lb.acquire('contended', hb, 60)]);
    expect(won.filter(Boolean)).toHaveLength(1);
    const [winner, loser] = won[0] ? [ha, hb] : [hb, ha];
    expect(await la.holder('contended')).toBe(winner);
    expect(await lb.renew('contended', loser, 60)).toBe(false);
    expect(await la.renew('contended', winner, 60)).toBe(true);
    expect(await lb.release('contended', loser)).toBe(false);
    expect(await la.release('contended', winner)).toBe(true);
    expect(await lb.acquire('contended', loser, 60)).toBe(true);
    expect(await lb.release('contended', loser)).toBe(true);
  });

  it('a lease whose holder died expires with its TTL; a renewed one does not', async () => {
    const [la, lb] = [new JobLeases(a), new JobLeases(b)];
    const dead = newHolderId();
    expect(await la.acquire('expiring', dead, 2)).toBe(true);
    expect(await lb.acquire('expiring', newHolderId(), 2)).toBe(false);
    await sleep(4_000);
    const next = newHolderId();
    expect(await lb.acquire('expiring', next, 3)).toBe(true);
    for (let i = 0; i < 4; i++) {
      await sleep(1_000);
      expect(await lb.renew('expiring', next, 3)).toBe(true);
    }
    expect(await la.acquire('expiring', newHolderId(), 3)).toBe(false);
    expect(await lb.release('expiring', next)).toBe(true);
  });

  it('withLease runs the work on one worker only and keeps the lease past its TTL while working', async () => {
    let runs = 0;
    const work = async () => {
      runs++;
      await sleep(5_000);
      return 'done';
    };
    const first = withLease(new JobLeases(a), 'exclusive', 3, log, work);
    await sleep(300);
    await expect(withLease(new JobLeases(b), 'exclusive', 3, log, work)).rejects.toMatchObject({ code: 'MF_JOB_LEASE_HELD' });
    await sleep(3_700); // past the 3 s TTL: renewed, still held
    await expect(withLease(new JobLeases(b), 'exclusive', 3, log, work)).rejects.toMatchObject({ code: 'MF_JOB_LEASE_HELD' });
    expect(await first).toBe('done');
    expect(runs).toBe(1);
    expect(await new JobLeases(b).holder('exclusive')).toBeUndefined();
  });

  it('a standby waits for the lease and runs once the holder is done; aborting the wait fails with MF_JOB_LEASE_HELD', async () => {
    const order: string[] = [];
    const first = withLease(new JobLeases(a), 'standby', 3, log, async () => {
      order.push('first started');
      await sleep(2_000);
      order.push('first done');
    });
    await sleep(300);
    const standby = withLease(
      new JobLeases(b),
      'standby',
      3,
      log,
      async () => {
        order.push('standby started');
      },
      { standby: true },
    );
    await Promise.all([first, standby]);
    expect(order).toEqual(['first started', 'first done', 'standby started']);

    const holding = withLease(new JobLeases(a), 'standby', 3, log, () => sleep(2_000));
    await sleep(300);
    const controller = new AbortController();
    const gaveUp = withLease(new JobLeases(b), 'standby', 3, log, async () => 'ran', { standby: true, signal: controller.signal });
    await sleep(500);
    controller.abort();
    await expect(gaveUp).rejects.toMatchObject({ code: 'MF_JOB_LEASE_HELD' });
    await holding;
  });

  it('the scheduler runs a job on its cron expression under the lease', async () => {
    const outcomes: string[] = [];
    const scheduler = startScheduler(
      {
        config: {
          ...config,
          batch: {
            ...config.batch,
            jobs: { ...config.batch.jobs, archive: 'off', recompute: 'off', recomputeFull: 'off', gc: '* * * * * *' },
          },
        },
        log,
        cassandra: a,
      },
      (job, outcome) => outcomes.push(`${job}:${outcome}`),
    );
    const deadline = Date.now() + 10_000;
    while (!outcomes.includes('gc:done') && Date.now() < deadline) await sleep(100);
    await scheduler.stop();
    expect(outcomes).toContain('gc:done');
    expect(() =>
      startScheduler({
        config: { ...config, batch: { ...config.batch, jobs: { ...config.batch.jobs, gc: 'every tuesday' } } },
        log,
        cassandra: a,
      }),
    ).toThrow(expect.objectContaining({ code: 'MF_CONFIG_INVALID' }));
  });
});
