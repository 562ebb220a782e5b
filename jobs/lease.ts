import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CassandraClient } from '../core/cassandra.ts';
import { MeterflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Who holds a lease: host, pid and a random part (two runs in one process are two holders). */
export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * Job leases in Cassandra (table job_leases, migration 0004), with lightweight transactions so
 * that of two contenders exactly one wins. A lease lives `ttlSeconds` unless renewed; a holder that
 * dies (kill -9, lost host) stops renewing and the lease expires.
 */
export class JobLeases {
  constructor(private readonly client: CassandraClient) {}

  async acquire(job: string, holder: string, ttlSeconds: number): Promise<boolean> {
    const now = new Date();
    const rs = await this.client.execute(
      'INSERT INTO job_leases (job, holder, acquired_at, renewed_at) VALUES (?, ?, ?, ?) IF NOT EXISTS USING TTL ?',
      [job, holder, now, now, ttlSeconds],
    );
    return applied(rs);
  }

  /** Extends the lease; false when it is no longer ours (expired and taken, or released). */
  async renew(job: string, holder: string, ttlSeconds: number): Promise<boolean> {
    // holder is rewritten with the new TTL: the row lives as long as its latest renewal.
    const rs = await this.client.execute('UPDATE job_leases USING TTL ? SET holder = ?, renewed_at = ? WHERE job = ? IF holder = ?', [
      ttlSeconds,
      holder,
      new Date(),
      job,
      holder,
    ]);
    return applied(rs);
  }

  async release(job: string, holder: string): Promise<boolean> {
    const rs = await this.client.execute('DELETE FROM job_leases WHERE job = ? IF holder = ?', [job, holder]);
    return applied(rs);
  }

  async holder(job: string): Promise<string | undefined> {
    const row = (await this.client.execute('SELECT holder FROM job_leases WHERE job = ?', [job])).first();
    return (row?.get('holder') as string | null) ?? undefined;
  }
}

function applied(rs: { first(): { get(name: string): unknown } | null }): boolean {
  return rs.first()?.get('[applied]') === true;
}

export interface LeaseRun<T> {
  ran: boolean;
  holder?: string;
  result?: T;
}

export interface LeaseWait {
  /** Wait for the lease instead of failing: a standby that takes over when the holder stops or dies. */
  standby: true;
  /** Stops waiting (MF_JOB_LEASE_HELD is thrown then). */
  signal?: AbortSignal;
}

/**
 * Runs `work` under the lease of `job`, renewing it every third of the TTL. Throws
 * MF_JOB_LEASE_HELD when another worker holds it, or, with `wait.standby`, polls until it is free
 * (a holder killed -9 frees it when its TTL runs out). If a renewal finds the lease lost, `signal`
 * aborts so the work stops before publishing anything.
 */
export async function withLease<T>(
  leases: JobLeases,
  job: string,
  ttlSeconds: number,
  log: Logger,
  work: (signal: AbortSignal) => Promise<T>,
  wait?: LeaseWait,
): Promise<T> {
  const holder = newHolderId();
  for (let announced = false; !(await leases.acquire(job, holder, ttlSeconds)); announced = true) {
    const other = await leases.holder(job).catch(() => undefined);
    if (wait === undefined || wait.signal?.aborted) {
      throw new MeterflowError('MF_JOB_LEASE_HELD', `job ${job} is running elsewhere (lease held by ${other ?? 'another worker'})`, {
        details: { job, holder: other },
      });
    }
    if (!announced) log.info({ job, holder: other }, 'job lease held elsewhere; standing by until it is free');
    await sleep(Math.max(500, (ttlSeconds * 1000) / 3), wait.signal);
  }
  const controller = new AbortController();
  const renewal = setInterval(
    () => {
      void leases.renew(job, holder, ttlSeconds).then(
        (ok) => {
          if (!ok) {
            log.error({ job, holder }, 'job lease lost; stopping the job');
            controller.abort(new Error(`lease of job ${job} lost`));
          }
        },
        (err) => log.warn({ err, job }, 'job lease renewal failed; retrying'),
      );
    },
    Math.max(500, (ttlSeconds * 1000) / 3),
  );
  try {
    return await work(controller.signal);
  } finally {
    clearInterval(renewal);
    await leases.release(job, holder).catch((err) => log.warn({ err, job }, 'job lease release failed; it expires with its TTL'));
  }
}
