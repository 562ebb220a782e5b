import { GENERATION_ZERO, type Generation } from '../schemas/generation.ts';
import { type CassandraClient, toNumber } from './cassandra.ts';

const SCOPE = 'readings';

/** Published batch generations in Cassandra (table batch_generations, migration 0003). */
export class GenerationStore {
  constructor(private readonly client: CassandraClient) {}

  /** The newest published generation, or generation 0 when no batch has run. */
  async current(): Promise<Generation> {
    const row = (
      await this.client.execute('SELECT generation, offsets, published_at FROM batch_generations WHERE scope = ? LIMIT 1', [SCOPE])
    ).first();
    return row ? rowToGeneration(row) : GENERATION_ZERO;
  }

  async publish(g: Generation, manifest: string): Promise<void> {
    await this.client.execute('INSERT INTO batch_generations (scope, generation, offsets, published_at, manifest) VALUES (?, ?, ?, ?, ?)', [
      SCOPE,
      g.generation,
      Object.fromEntries(Object.entries(g.offsets).map(([p, o]) => [Number(p), o])),
      new Date(g.publishedAt),
      manifest,
    ]);
  }
}

function rowToGeneration(row: { get(name: string): unknown }): Generation {
  const offsets: Record<number, number> = {};
  const map = (row.get('offsets') ?? {}) as Record<string, unknown>;
  for (const [p, o] of Object.entries(map)) offsets[Number(p)] = toNumber(o);
  return { generation: toNumber(row.get('generation')), offsets, publishedAt: (row.get('published_at') as Date | null)?.getTime() ?? 0 };
}
