import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { MeterflowError } from '../../core/errors.ts';

/**
 * The Avro schema families and their versions, loaded once from the `.avsc` files in this folder.
 * A family's newest version is the reader schema; older versions are kept so old messages still
 * decode (through a resolver, built once per writer version).
 */
export const MESSAGE_TYPES = {
  MeterReading: { typeId: 1, files: ['meter-reading.v1.avsc', 'meter-reading.v2.avsc'] },
  DeadLetter: { typeId: 2, files: ['dead-letter.v1.avsc'] },
  ViewChange: { typeId: 3, files: ['view-change.v1.avsc'] },
} as const;

export type MessageTypeName = keyof typeof MESSAGE_TYPES;

export interface SchemaFamily {
  name: MessageTypeName;
  typeId: number;
  /** Newest version number; messages are written with it. */
  latest: number;
  /** The reader type (newest version). */
  reader: avro.Type;
  /** Decodes a body written with `version`; undefined for an unknown version. */
  decoderFor(version: number): ((body: Buffer) => unknown) | undefined;
  /** The writer type of one version (for tests and tools writing old versions). */
  typeOf(version: number): avro.Type | undefined;
}

export function loadSchema(file: string): avro.Type {
  const text = readFileSync(new URL(file, import.meta.url), 'utf8');
  return avro.Type.forSchema(JSON.parse(text));
}

function buildFamily(name: MessageTypeName): SchemaFamily {
  const { typeId, files } = MESSAGE_TYPES[name];
  // Version n is files[n - 1]: the file list is append-only.
  const types = files.map((f) => loadSchema(f));
  const latest = types.length;
  const reader = types[latest - 1] as avro.Type;
  const decoders = types.map((writer, i): ((body: Buffer) => unknown) => {
    if (i === latest - 1) return (body) => reader.fromBuffer(body);
    const resolver = reader.createResolver(writer);
    return (body) => reader.fromBuffer(body, resolver);
  });
  return {
    name,
    typeId,
    latest,
    reader,
    decoderFor: (version) => decoders[version - 1],
    typeOf: (version) => types[version - 1],
  };
}

const families = new Map<MessageTypeName, SchemaFamily>();

export function schemaFamily(name: MessageTypeName): SchemaFamily {
  let family = families.get(name);
  if (family === undefined) {
    family = buildFamily(name);
    families.set(name, family);
  }
  return family;
}

/** Throws MF_SCHEMA_UNKNOWN_VERSION when no decoder exists for that version. */
export function decoderOrThrow(family: SchemaFamily, version: number): (body: Buffer) => unknown {
  const decoder = family.decoderFor(version);
  if (decoder === undefined) {
    throw new MeterflowError(
      'MF_SCHEMA_UNKNOWN_VERSION',
      `${family.name} schema version ${version} is unknown (this build reads 1..${family.latest})`,
      {
        details: { type: family.name, version, latest: family.latest },
      },
    );
  }
  return decoder;
}
