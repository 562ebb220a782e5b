import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { IngestPipeline } from '../../ingest/pipeline/ingest-pipeline.ts';
import type { OutboundMessage, ProducerTransport } from '../../ingest/producer/transport.ts';
import { createValidationContext } from '../../ingest/validation/context.ts';
import type { Meter } from '../../schemas/reading.ts';
import { startRegistryRefresh } from './registry-refresh.ts';
import { RenewingIngest } from './renewing-ingest.ts';

const log = createLogger('test', 'silent');
const meter = (meterId: string): Meter => ({
  meterId,
  siteId: 's',
  region: 'r',
  timeZone: 'UTC',
  tariff: 't',
  ratedKw: 10,
  readingKind: 'interval',
  intervalMinutes: 30,
});

describe('startRegistryRefresh', () => {
  it('updates the Map in place: adds, replaces and removes meters; keeps it on failure', async () => {
    const meters = new Map([
      ['a', meter('a')],
      ['b', meter('b')],
    ]);
    const same = meters;
    let next: Map<string, Meter> | Error = new Map([
      ['b', { ...meter('b'), ratedKw: 20 }],
      ['c', meter('c')],
    ]);
    const refresh = startRegistryRefresh(
      async () => {
        if (next instanceof Error) throw next;
        return next;
      },
      meters,
      60_000,
      log,
    );
    expect(await refresh.refresh()).toBe(2);
    expect(same).toBe(meters);
    expect([...meters.keys()].sort()).toEqual(['b', 'c']);
    expect(meters.get('b')?.ratedKw).toBe(20);
    next = new Error('Cassandra down');
    await expect(refresh.refresh()).rejects.toThrow('Cassandra down');
    expect([...meters.keys()].sort()).toEqual(['b', 'c']);
    refresh.stop();
  });
});

class FlakyTransport implements ProducerTransport {
  readonly name = 'kafkajs' as const;
  failing = false;
  disconnected = false;
  sent = 0;
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
  async send(_topic: string, messages: OutboundMessage[]): Promise<void> {
    if (this.failing) throw new Error('broker gone');
    this.sent += messages.length;
  }
}

describe('RenewingIngest', () => {
  it('drops a failed pipeline and opens a fresh one for the next request', async () => {
    const transports: FlakyTransport[] = [];
    const ingest = new RenewingIngest(async () => {
      const transport = new FlakyTransport();
      transports.push(transport);
      const pipeline = new IngestPipeline({
        transport,
        topics: { readings: 'r', deadLetters: 'd' },
        validation: createValidationContext({ meters: [meter('m')] }),
        batchSize: 10,
        maxInFlightBatches: 2,
        log,
      });
      return { pipeline, transport };
    }, log);
    const input = { reject: { reason: 'MALFORMED' as const, message: 'x', raw: Buffer.from('x') }, source: 'test', origin: null };
    await ingest.start();
    expect(await ingest.enqueue(input)).toMatchObject({ status: 'rejected' });
    (transports[0] as FlakyTransport).failing = true;
    await expect(ingest.enqueue(input)).rejects.toThrow('broker gone');
    expect(transports[0]?.disconnected).toBe(true);
    expect(await ingest.enqueue(input)).toMatchObject({ status: 'rejected' });
    expect(transports).toHaveLength(2);
    await ingest.close();
    expect(transports[1]?.disconnected).toBe(true);
    await expect(ingest.enqueue(input)).rejects.toThrow(/shutting down/);
  });

  it('says Kafka is unreachable when no pipeline can be opened', async () => {
    const ingest = new RenewingIngest(() => Promise.reject(new Error('ECONNREFUSED')), log);
    await expect(ingest.start()).rejects.toMatchObject({ code: 'MF_KAFKA_UNREACHABLE' });
  });
});
