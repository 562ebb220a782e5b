import type { Producer } from 'kafkajs';
import { encodeViewChange } from '../schemas/avro/codec.ts';
import { decodeRowKey, finalizeStates, type ViewDefinition } from '../schemas/views/index.ts';
import type { SpeedRowWrite } from './store/speed-store.ts';

/**
 * Publishes what a flush changed as Avro ViewChange events. The message key names the row and the
 * readings partition whose piece it is, so the compacted topic keeps the latest value of each.
 * A replay republishes the same absolute values: consumers treat events as upserts.
 */
export async function publishViewChanges(
  producer: Producer,
  topic: string,
  views: ReadonlyMap<string, ViewDefinition>,
  o: { generation: number; partition: number; throughOffset: number; rows: readonly SpeedRowWrite[] },
): Promise<void> {
  if (o.rows.length === 0) return;
  const messages = o.rows.map((r) => {
    const view = views.get(r.view) as ViewDefinition;
    const measures: Record<string, number> = {};
    if (!r.removed) {
      for (const [name, value] of Object.entries(finalizeStates(view, r.states)))
        if (value !== null && Number.isFinite(value)) measures[name] = value;
    }
    return {
      key: `${r.view}|${r.grain}|${r.key}|${r.bucket}|${o.partition}`,
      value: encodeViewChange({
        view: r.view,
        key: decodeRowKey(r.key),
        grain: r.grain,
        bucketStart: r.bucket,
        measures,
        generation: o.generation,
        cause: 'SPEED_FLUSH',
        batchVersion: o.generation === 0 ? null : o.generation,
        offsets: { [String(o.partition)]: o.throughOffset },
      }),
    };
  });
  // Chunks keep each produce request under the broker's message.max.bytes (1 MiB by default).
  for (let i = 0; i < messages.length; i += CHUNK) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + CHUNK) });
}

const CHUNK = 1_000;
