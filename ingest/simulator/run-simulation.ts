import type { MeterReading } from '../../schemas/reading.ts';
import type { IngestPipeline, IngestStats } from '../pipeline/ingest-pipeline.ts';
import { type FaultOptions, type FaultTally, injectFaults } from './faults.ts';
import { type SimulationOptions, simulateReadings } from './generate.ts';
import { createPacer, type PacingMode, sleep } from './pacing.ts';

export interface RunSimulationOptions {
  simulation: SimulationOptions;
  pacing: PacingMode;
  faults?: FaultOptions;
  signal?: AbortSignal;
  onProgress?: (produced: number, simTime: number) => void;
}

export interface SimulationResult extends IngestStats {
  produced: number;
  faults: FaultTally | undefined;
}

/**
 * Feeds simulated readings through the ingest pipeline (the same validation and producer as every
 * other input), paced against the wall clock, until the simulated range ends or the signal aborts.
 * A reading is sent once its interval has ended in simulated time.
 */
export async function runSimulation(pipeline: IngestPipeline, o: RunSimulationOptions): Promise<SimulationResult> {
  const step = o.simulation.intervalMinutes * 60_000;
  const readings = simulateReadings(o.simulation);
  const faulty = o.faults ? injectFaults(readings, o.faults) : undefined;
  const items: Iterable<{ reading: MeterReading }> = faulty?.items ?? wrap(readings);
  const pacer = createPacer(o.pacing, o.simulation.start + step, Date.now());
  let produced = 0;
  let lastProgress = 0;
  for (const { reading } of items) {
    if (o.signal?.aborted) break;
    const wait = pacer.delayMs(reading.intervalStart + step, Date.now());
    if (wait > 0) await sleep(wait, o.signal);
    if (o.signal?.aborted) break;
    if (!pipeline.hasRoom()) await pipeline.ready();
    pipeline.offer({ reading, source: reading.source, origin: null });
    produced++;
    if (produced - lastProgress >= 5_000) {
      lastProgress = produced;
      o.onProgress?.(produced, reading.intervalStart);
    }
  }
  await pipeline.flush();
  return { produced, faults: faulty?.tally, ...pipeline.stats };
}

function* wrap<T>(readings: Iterable<T>): Generator<{ reading: T }> {
  for (const reading of readings) yield { reading };
}
