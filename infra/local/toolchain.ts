import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MeterflowError } from '../../core/errors.ts';

const run = promisify(execFile);

/** The major version of `java` on PATH; Kafka 3.9 and Cassandra 5.0 are both run on Java 17. */
export async function checkJava(): Promise<{ major: number; text: string }> {
  let text: string;
  try {
    // `java -version` writes to stderr.
    const { stderr, stdout } = await run('java', ['-version']);
    text = `${stderr}${stdout}`;
  } catch (cause) {
    throw new MeterflowError(
      'MF_JAVA_MISSING',
      'no `java` on PATH: install OpenJDK 17 (Debian: `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME/bin on PATH',
      { cause },
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  const first = Number(match?.[1]);
  const major = first === 1 ? Number(match?.[2]) : first;
  if (major !== 17) {
    throw new MeterflowError(
      'MF_JAVA_VERSION',
      `found Java ${Number.isFinite(major) ? major : 'of unknown version'}, need Java 17 (Cassandra 5.0 does not run on newer JDKs here): install OpenJDK 17 and put it first on PATH`,
      { details: { javaVersion: text.split('\n')[0] } },
    );
  }
  return { major, text: text.split('\n')[0] ?? '' };
}

export async function checkMaven(): Promise<string> {
  try {
    // -B: batch mode, plain text without colour codes.
    const { stdout } = await run('mvn', ['-B', '-v'], { env: { ...process.env, MAVEN_OPTS: '' } });
    return stdout.split('\n')[0] ?? 'maven';
  } catch (cause) {
    throw new MeterflowError(
      'MF_MAVEN_MISSING',
      'no `mvn` on PATH: meterflow fetches the Kafka and Cassandra jars from Maven Central with Maven once. Install Maven (Debian: `apt-get install maven`) or fill the jar cache on another machine',
      { cause },
    );
  }
}
