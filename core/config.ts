import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './config-schema.ts';
import { MeterflowError } from './errors.ts';

export type { Config } from './config-schema.ts';

/** Files looked for in the working directory when no file is named. */
export const DEFAULT_CONFIG_FILES = ['meterflow.yaml', 'meterflow.yml', 'meterflow.json'];

/** Environment variables with a meaning of their own (the rest follow METERFLOW_SECTION__KEY). */
const ALIASES: Record<string, string[]> = {
  KAFKA_BROKERS: ['kafka', 'brokers'],
  CASSANDRA_CONTACT_POINTS: ['cassandra', 'contactPoints'],
};
const NOT_CONFIG_KEYS = new Set(['METERFLOW_CONFIG']);

export interface LoadConfigOptions {
  /** A config file; otherwise $METERFLOW_CONFIG, otherwise the first of DEFAULT_CONFIG_FILES present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Highest precedence (command-line flags). */
  overrides?: Record<string, unknown>;
}

type Source = string;

/**
 * Loads file, then environment, then overrides, and validates the result. Every error names
 * the key, where it came from (file or variable), what was wrong and what is allowed.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const raw: Record<string, unknown> = {};
  const sources = new Map<string, Source>();

  const file = options.file ?? env.METERFLOW_CONFIG ?? DEFAULT_CONFIG_FILES.find((f) => existsSync(resolve(cwd, f)));
  if (file !== undefined) {
    const fromFile = readConfigFile(resolve(cwd, file));
    mergeInto(raw, fromFile, [], sources, file);
  }

  for (const [name, value] of Object.entries(env)) {
    // METERFLOW_TEST_* steer the test harness, not the product.
    if (value === undefined || NOT_CONFIG_KEYS.has(name) || name.startsWith('METERFLOW_TEST_')) continue;
    const path = ALIASES[name] ?? envPath(name);
    if (path === undefined) continue;
    setPath(raw, path, parseEnvValue(value));
    sources.set(path.join('.'), `environment variable ${name}`);
  }

  if (options.overrides) mergeInto(raw, options.overrides, [], sources, 'command-line option');

  const result = configSchema.safeParse(raw);
  if (!result.success) throw configError(result.error, sources);
  const config = result.data;
  config.stateDir = resolve(cwd, config.stateDir);
  config.cacheDir = resolve(cwd, config.cacheDir);
  if (config.cassandra.migrationsDir !== undefined) {
    config.cassandra.migrationsDir = resolve(cwd, config.cassandra.migrationsDir);
  }
  return config;
}

/** METERFLOW_INFRA__KAFKA__HEAP_MB → ['infra', 'kafka', 'heapMb']. */
export function envPath(name: string): string[] | undefined {
  if (!name.startsWith('METERFLOW_')) return undefined;
  return name
    .slice('METERFLOW_'.length)
    .split('__')
    .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

/** Numbers, booleans and JSON arrays/objects are typed; anything else stays a string. */
function parseEnvValue(value: string): unknown {
  const trimmed = value.trim();
  if (/^(-?\d+(\.\d+)?|true|false|null)$/.test(trimmed) || /^[[{]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value;
    }
  }
  return value;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new MeterflowError('MF_CONFIG_FILE_UNREADABLE', `cannot read config file ${path}: ${(cause as Error).message}`, {
      cause,
      details: { file: path },
    });
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new MeterflowError(
      'MF_CONFIG_FILE_UNREADABLE',
      `config file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(cause as Error).message}`,
      {
        cause,
        details: { file: path },
      },
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new MeterflowError('MF_CONFIG_INVALID', `config file ${path} must hold an object of settings`, { details: { file: path } });
  }
  return parsed as Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergeInto(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
  prefix: string[],
  sources: Map<string, Source>,
  origin: Source,
): void {
  for (const [key, value] of Object.entries(source)) {
    const path = [...prefix, key];
    if (isPlainObject(value)) {
      const child = isPlainObject(target[key]) ? (target[key] as Record<string, unknown>) : {};
      target[key] = child;
      mergeInto(child, value, path, sources, origin);
    } else {
      target[key] = value;
      sources.set(path.join('.'), origin);
    }
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function configError(error: z.ZodError, sources: Map<string, Source>): MeterflowError {
  const problems = error.issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const path = [...base, key].join('.');
        const where = sources.get(path) ?? findSource(sources, path);
        return { key: path, message: `unknown key${where ? ` (from ${where})` : ''}; allowed here: ${allowedKeys(base).join(', ')}` };
      });
    }
    const path = base.join('.');
    const where = sources.get(path) ?? findSource(sources, path);
    return [{ key: path || '(root)', message: `${describeIssue(issue)}${where ? ` (from ${where})` : ''}` }];
  });
  const text = problems.map((p) => `  ${p.key}: ${p.message}`).join('\n');
  return new MeterflowError('MF_CONFIG_INVALID', `invalid configuration:\n${text}`, { details: { problems } });
}

function findSource(sources: Map<string, Source>, path: string): Source | undefined {
  for (const [key, origin] of sources) if (key.startsWith(`${path}.`) || path.startsWith(`${key}.`)) return origin;
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message;
}

/** The keys a (nested) config object accepts, for "allowed here" hints. */
function allowedKeys(path: string[]): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: walking zod internals generically
  let schema: any = configSchema;
  for (const key of path) {
    schema = unwrap(schema)?.shape?.[key];
    if (schema === undefined) return [];
  }
  return Object.keys(unwrap(schema)?.shape ?? {});
}

// biome-ignore lint/suspicious/noExplicitAny: zod wrappers (default, prefault, optional) expose innerType
function unwrap(schema: any): any {
  let s = schema;
  while (s && s.shape === undefined && s.def?.innerType) s = s.def.innerType;
  return s;
}
