import { MeterflowError } from '../../core/errors.ts';

/**
 * Every meterflow Avro message starts with a 3-byte header, then the Avro binary body:
 *
 *   byte 0  MAGIC (0x6d, "m")    — tells our messages from anything else on a topic
 *   byte 1  message type id      — MeterReading 1, DeadLetter 2, ViewChange 3
 *   byte 2  schema version       — the writer's version of that type (1..255)
 *
 * Like Confluent's wire format (magic + schema id) but without a schema registry: the schemas live
 * in this folder, one file per version, so the id is (type, version) and resolving needs no network.
 * The header is in the value rather than in a Kafka header so that bytes copied anywhere (a file,
 * a dead letter) stay self-describing.
 */
export const MAGIC = 0x6d;
export const HEADER_LENGTH = 3;

export interface FrameHeader {
  typeId: number;
  version: number;
}

export function writeFrame(header: FrameHeader, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out[0] = MAGIC;
  out[1] = header.typeId;
  out[2] = header.version;
  body.copy(out, HEADER_LENGTH);
  return out;
}

/** Splits a message into header and body; throws MF_SCHEMA_DECODE_FAILED or MF_SCHEMA_BAD_MAGIC. */
export function readFrame(buf: Uint8Array): { header: FrameHeader; body: Buffer } {
  if (buf.length < HEADER_LENGTH) {
    throw new MeterflowError('MF_SCHEMA_DECODE_FAILED', `message of ${buf.length} bytes is shorter than the ${HEADER_LENGTH}-byte header`, {
      details: { length: buf.length },
    });
  }
  if (buf[0] !== MAGIC) {
    throw new MeterflowError(
      'MF_SCHEMA_BAD_MAGIC',
      `first byte is 0x${hex(buf[0])}, expected magic 0x${hex(MAGIC)}: not a meterflow message`,
      {
        details: { magic: buf[0] },
      },
    );
  }
  const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return { header: { typeId: bytes[1] ?? 0, version: bytes[2] ?? 0 }, body: bytes.subarray(HEADER_LENGTH) };
}

function hex(n: number | undefined): string {
  return (n ?? 0).toString(16).padStart(2, '0');
}
