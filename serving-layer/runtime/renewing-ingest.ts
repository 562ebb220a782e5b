import { MeterflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { IngestInput, IngestOutcome, IngestPipeline } from '../../ingest/pipeline/ingest-pipeline.ts';
import type { ProducerTransport } from '../../ingest/producer/transport.ts';
import type { IngestSink } from '../routes/ingest-routes.ts';

export interface PipelineHandle {
  pipeline: IngestPipeline;
  transport: ProducerTransport;
}

/**
 * An IngestPipeline stops for good after a produce fails (right for a file replay, which must stop
 * and report). A server must outlive a broker outage instead: the failed pipeline is dropped, the
 * requests caught in it get 503 (retriable; a re-sent reading counts once), and the next request
 * opens a fresh pipeline — one attempt at a time, however many requests arrive meanwhile.
 */
export class RenewingIngest implements IngestSink {
  private current: PipelineHandle | undefined;
  private opening: Promise<PipelineHandle> | undefined;
  private closed = false;

  constructor(
    private readonly open: () => Promise<PipelineHandle>,
    private readonly log: Logger,
  ) {}

  /** Opens the first pipeline now (serve fails fast when Kafka is down at start). */
  async start(): Promise<void> {
    await this.handle();
  }

  async enqueue(input: IngestInput): Promise<IngestOutcome> {
    const handle = await this.handle();
    try {
      return await handle.pipeline.enqueue(input);
    } catch (err) {
      this.discard(handle, err);
      throw err;
    }
  }

  /** Waits for every queued input's acknowledgement, then disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    const handle = this.current ?? (await this.opening?.catch(() => undefined));
    this.current = undefined;
    if (!handle) return;
    try {
      await handle.pipeline.flush();
    } finally {
      await handle.transport.disconnect();
    }
  }

  private handle(): Promise<PipelineHandle> {
    if (this.closed) return Promise.reject(new MeterflowError('MF_SERVICE_NOT_READY', 'the server is shutting down'));
    if (this.current) return Promise.resolve(this.current);
    this.opening ??= this.open()
      .then((h) => {
        this.current = h;
        return h;
      })
      .catch((cause: unknown) => {
        throw new MeterflowError('MF_KAFKA_UNREACHABLE', `cannot open a Kafka producer: ${(cause as Error).message}`, { cause });
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  private discard(handle: PipelineHandle, err: unknown): void {
    if (this.current !== handle) return;
    this.current = undefined;
    this.log.warn({ err }, 'ingest pipeline failed; the next request opens a new one');
    handle.transport.disconnect().catch(() => {});
  }
}
