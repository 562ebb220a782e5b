import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MeterflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { checkMaven } from './toolchain.ts';

const run = promisify(execFile);
const POMS = join(dirname(fileURLToPath(import.meta.url)), '..', 'maven');
// Pinned: Maven 3.8 otherwise resolves an old 2.x dependency plugin.
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const COMPLETE = '.complete';

export type Product = 'kafka' | 'cassandra';

/**
 * The runtime jars of one product version, fetched from Maven Central once and kept in the cache
 * (shared by every clone on the machine). A fetch goes to a temporary folder that is renamed into
 * place only when complete, so an interrupted fetch never leaves a half cache behind.
 */
export async function ensureJars(cacheDir: string, product: Product, version: string, log: Logger): Promise<string> {
  const dir = join(cacheDir, 'jars', `${product}-${version}`);
  if (existsSync(join(dir, COMPLETE))) return dir;

  await checkMaven();
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  log.info({ product, version, dir }, `fetching ${product} ${version} jars from Maven Central (once; later runs use the cache)`);
  const started = Date.now();
  try {
    await run(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        join(POMS, product, 'pom.xml'),
        `-D${product}.version=${version}`,
        `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        '-DincludeScope=runtime',
        `-DoutputDirectory=${tmp}`,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (cause) {
    // Cassandra's parent POM names system-scoped JMC artifacts that Maven complains about; the copy
    // still succeeds, so judge by the jars, not the exit status.
    const jars = (await readdir(tmp)).filter((f) => f.endsWith('.jar'));
    if (!jars.some((f) => f.startsWith(product === 'kafka' ? 'kafka_2.13' : 'cassandra-all'))) {
      await rm(tmp, { recursive: true, force: true });
      const out = cause as { stdout?: string; stderr?: string };
      throw new MeterflowError(
        'MF_JARS_FETCH_FAILED',
        `could not fetch ${product} ${version} from Maven Central (is the repository reachable? check ~/.m2/settings.xml):\n${lastLines(`${out.stdout ?? ''}${out.stderr ?? ''}`, 15)}`,
        { cause },
      );
    }
  }
  await writeFile(join(tmp, COMPLETE), `${new Date().toISOString()}\n`);
  await mkdir(dirname(dir), { recursive: true });
  try {
    await rename(tmp, dir);
  } catch {
    // Another process completed the same fetch first; theirs is as good as ours.
    await rm(tmp, { recursive: true, force: true });
  }
  log.info({ product, version, seconds: Math.round((Date.now() - started) / 1000) }, `${product} jars cached`);
  return dir;
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
