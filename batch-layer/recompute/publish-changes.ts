import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../../core/config.ts';
import type { Kafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { encodeViewChange } from '../../schemas/avro/codec.ts';
import { decodeRowKey, VIEWS, type ViewDefinition } from '../../schemas/views/index.ts';
import type { BatchLayout } from '../layout.ts';
import { diffVersions } from './version-diff.ts';
import { listVersions, readCurrentVersion, type VersionManifest } from './versions.ts';

/** Marker written into a version folder once its changes are all on the view-changes topic. */
const MARKER = 'changes-published.json';
const CHUNK = 1_000;

export interface PublishChangesOptions {
  config: Config;
  log: Logger;
  kafka: Kafka;
  layout: BatchLayout;
  views?: readonly ViewDefinition[];
}

/**
 * Tells downstream services (billing, alerting) what a published batch version changed: one
 * ViewChange of cause BATCH_PUBLISHED per bucket whose values differ from the previous version
 * (at the grains `batch.changes.grains` names; removed buckets carry no measures), then one
 * version event (view "*", no key, the version's offsets B[p]) saying the version is complete
 * (sent last, but the topic has several partitions: a consumer sees it after the bucket events of
 * its own partition only).
 * Events are upserts keyed by view, grain, key and bucket, so a re-publication after a crash
 * repeats values, never adds to them. The marker file makes it at-least-once across crashes:
 * the next batch run publishes what a crashed one did not (ensureChangesPublished).
 */
export async function publishVersionChanges(
  o: PublishChangesOptions,
  current: VersionManifest,
  previous: VersionManifest | undefined,
): Promise<{ events: number }> {
  const log = o.log.child({ component: 'batch-changes', version: current.version });
  const topic = o.config.kafka.topics.viewChanges.name;
  const grains = new Set<string>(o.config.batch.changes.grains);
  const producer = o.kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const offsets = Object.fromEntries(Object.entries(current.offsets).map(([p, off]) => [p, Number(off)]));
  const base = { generation: current.version, cause: 'BATCH_PUBLISHED' as const, batchVersion: current.version, offsets };
  let events = 0;
  await producer.connect();
  try {
    for (const view of o.views ?? VIEWS) {
      for (const grain of view.grains) {
        if (!grains.has(grain)) continue;
        for await (const changes of diffVersions(con, o.layout, view, grain, current, previous, o.config.batch.changes.tolerance)) {
          for (let i = 0; i < changes.length; i += CHUNK) {
            const messages = changes.slice(i, i + CHUNK).map((c) => ({
              key: `${c.view}|${c.grain}|${c.rowKey}|${c.bucket}|batch`,
              value: encodeViewChange({
                ...base,
                view: c.view,
                key: decodeRowKey(c.rowKey),
                grain: c.grain,
                bucketStart: c.bucket,
                measures: c.measures,
              }),
            }));
            await producer.send({ topic, acks: -1, messages });
            events += messages.length;
          }
        }
      }
    }
    await producer.send({
      topic,
      acks: -1,
      messages: [
        {
          key: `batch-version|${current.version}`,
          value: encodeViewChange({ ...base, view: '*', key: {}, grain: '*', bucketStart: 0, measures: {} }),
        },
      ],
    });
    events++;
    await writeFile(
      join(o.layout.viewsDir, `v${current.version}`, MARKER),
      `${JSON.stringify({ events, previous: previous?.version ?? null, at: new Date().toISOString() })}\n`,
    );
    log.info({ events, previous: previous?.version ?? null }, 'batch view changes published');
    return { events };
  } finally {
    con.closeSync();
    db.closeSync();
    await producer.disconnect();
  }
}

/**
 * Publishes the current version's changes unless they are published already, as differences to
 * the newest older version whose changes were published (so a version whose publication failed —
 * Kafka down, a crash — is covered by the next one's: consumers end up with every change). Called
 * after each batch run and rollback; a failure leaves the marker missing for the next call.
 */
export async function publishPendingChanges(o: PublishChangesOptions): Promise<{ version: number; events: number } | undefined> {
  const current = await readCurrentVersion(o.layout);
  if (current === undefined || (await hasMarker(o.layout, current))) return undefined;
  const versions = await listVersions(o.layout);
  const now = versions.find((v) => v.version === current)?.manifest;
  if (now === undefined) return undefined;
  let previous: VersionManifest | undefined;
  for (const v of versions) {
    if (v.version < current && v.manifest !== undefined && (await hasMarker(o.layout, v.version))) {
      previous = v.manifest;
      break;
    }
  }
  const { events } = await publishVersionChanges(o, now, previous);
  return { version: current, events };
}

function hasMarker(layout: BatchLayout, version: number): Promise<boolean> {
  return access(join(layout.viewsDir, `v${version}`, MARKER)).then(
    () => true,
    () => false,
  );
}
