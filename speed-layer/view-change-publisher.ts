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
  // One request per chunk, awaited (acks from every replica): the round trip, not the bytes, is
  // what a small chunk costs. Chunks are cut by size so a request stays under the broker's
  // message.max.bytes (1 MiB by default) even if every message lands in one partition.
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { key: string; value: Buffer };
    const size = m.value.length + m.key.length + MESSAGE_OVERHEAD;
    if (i > start && bytes + size > CHUNK_BYTES) {
      await producer.send({ topic, acks: -1, messages: messages.slice(start, i) });
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  await producer.send({ topic, acks: -1, messages: messages.slice(start) });
}

const CHUNK_BYTES = 768 * 1024;
/** Record framing per message in a v2 record batch (lengths, offsets delta, timestamp delta, headers), rounded up. */
const MESSAGE_OVERHEAD = 32;
