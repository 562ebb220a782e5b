/**
 * The Kafka boundary of ingest: bytes in, acknowledged writes out. Domain code never sees a client
 * library; the transport is chosen by config (`ingest.transport`).
 */
export interface OutboundMessage {
  key: Buffer | string;
  value: Buffer;
  headers?: Record<string, string | Buffer>;
}

export interface ProducerTransport {
  readonly name: 'kafkajs' | 'rdkafka';
  connect(): Promise<void>;
  /** Resolves once the broker has acknowledged every message (acks=all); rejects otherwise. */
  send(topic: string, messages: OutboundMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}
