import type { GenerationPublisher } from '../../batch-layer/recompute/versions.ts';
import { GENERATION_ZERO, type Generation } from '../../schemas/generation.ts';

/**
 * Generations kept in memory, for batch unit tests that check what a run publishes; the Cassandra
 * GenerationStore itself is exercised by the integration tests.
 */
export class MemoryGenerations implements GenerationPublisher {
  published: Generation[] = [];
  async current(): Promise<Generation> {
    return this.published.reduce((a, b) => (b.generation > a.generation ? b : a), GENERATION_ZERO);
  }
  async publish(g: Generation): Promise<void> {
    this.published.push(g);
  }
}
