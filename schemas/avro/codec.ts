import { isMeterflowError, MeterflowError } from '../../core/errors.ts';
import type { MeterReading } from '../reading.ts';
import { readFrame, writeFrame } from './framing.ts';
import { decoderOrThrow, type MessageTypeName, type SchemaFamily, schemaFamily } from './registry.ts';
import type { DeadLetter, DeadLetterOrigin, ViewChange } from './types.ts';

/**
 * Bytes ⇄ domain objects for the three message types. Encoding always writes the newest schema
 * version; decoding reads any known version. Every failure is a MeterflowError:
 * MF_SCHEMA_DECODE_FAILED (empty, truncated, trailing or invalid bytes), MF_SCHEMA_BAD_MAGIC,
 * MF_SCHEMA_WRONG_TYPE (e.g. a dead letter given to decodeReading), MF_SCHEMA_UNKNOWN_VERSION,
 * and MF_SCHEMA_ENCODE_FAILED for an object that does not fit the schema.
 */

export function encodeReading(reading: MeterReading): Buffer {
  return encodeMessage('MeterReading', reading);
}

export function decodeReading(buf: Uint8Array): MeterReading {
  return decodeMessage('MeterReading', buf) as MeterReading;
}

export function encodeDeadLetter(letter: DeadLetter): Buffer {
  return encodeMessage('DeadLetter', { ...letter, origin: originToWire(letter.origin) });
}

export function decodeDeadLetter(buf: Uint8Array): DeadLetter {
  const wire = decodeMessage('DeadLetter', buf) as Omit<DeadLetter, 'origin'> & { origin: WireOrigin };
  return { ...wire, origin: originFromWire(wire.origin) };
}

export function encodeViewChange(change: ViewChange): Buffer {
  return encodeMessage('ViewChange', change);
}

export function decodeViewChange(buf: Uint8Array): ViewChange {
  return decodeMessage('ViewChange', buf) as ViewChange;
}

/** Writes `value` with the newest version of a family (exported for tests writing older versions via `family.typeOf`). */
export function encodeMessage(name: MessageTypeName, value: unknown, version?: number): Buffer {
  const family = schemaFamily(name);
  const v = version ?? family.latest;
  const type = family.typeOf(v);
  if (type === undefined) {
    throw new MeterflowError('MF_SCHEMA_UNKNOWN_VERSION', `${name} schema version ${v} is unknown (this build writes 1..${family.latest})`);
  }
  let body: Buffer;
  try {
    body = type.toBuffer(value);
  } catch (cause) {
    throw new MeterflowError('MF_SCHEMA_ENCODE_FAILED', `${name} does not fit schema v${v}: ${describeInvalid(type, value)}`, { cause });
  }
  return writeFrame({ typeId: family.typeId, version: v }, body);
}

export function decodeMessage(name: MessageTypeName, buf: Uint8Array): unknown {
  const family = schemaFamily(name);
  const { header, body } = readFrame(buf);
  if (header.typeId !== family.typeId) {
    throw new MeterflowError('MF_SCHEMA_WRONG_TYPE', `expected a ${name} (type ${family.typeId}), got a message of type ${header.typeId}`, {
      details: { expected: family.typeId, actual: header.typeId },
    });
  }
  const decode = decoderOrThrow(family, header.version);
  try {
    return decode(body);
  } catch (cause) {
    if (isMeterflowError(cause)) throw cause;
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new MeterflowError('MF_SCHEMA_DECODE_FAILED', `${name} v${header.version} body of ${body.length} bytes does not decode: ${why}`, {
      cause,
      details: { type: name, version: header.version },
    });
  }
}

/** Names the first field that makes `value` invalid for `type`, for encode error messages. */
function describeInvalid(type: SchemaFamily['reader'], value: unknown): string {
  let found = 'invalid value';
  type.isValid(value, {
    errorHook: (path: string[], v: unknown) => {
      if (found === 'invalid value') found = `field ${path.join('.') || '(root)'} = ${JSON.stringify(v)}`;
    },
  });
  return found;
}

// The origin union has two record branches, so avsc wraps it ({ 'meterflow.KafkaOrigin': {...} });
// the domain uses a `kind` tag instead.
type WireOrigin =
  | null
  | { 'meterflow.KafkaOrigin': { topic: string; partition: number; offset: number } }
  | { 'meterflow.FileOrigin': { file: string; line: number } };

function originToWire(origin: DeadLetterOrigin): WireOrigin {
  if (origin === null) return null;
  if (origin.kind === 'kafka')
    return { 'meterflow.KafkaOrigin': { topic: origin.topic, partition: origin.partition, offset: origin.offset } };
  return { 'meterflow.FileOrigin': { file: origin.file, line: origin.line } };
}

function originFromWire(wire: WireOrigin): DeadLetterOrigin {
  if (wire === null) return null;
  if ('meterflow.KafkaOrigin' in wire) return { kind: 'kafka', ...wire['meterflow.KafkaOrigin'] };
  return { kind: 'file', ...wire['meterflow.FileOrigin'] };
}
