import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkJava, checkMaven } from './toolchain.ts';

// The checks run the real `java` / `mvn` found on PATH; here PATH points at a folder holding
// stand-ins that print what other JDKs print, or at an empty folder.
const originalPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = originalPath;
});

function pathWith(tools: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-toolchain-'));
  for (const [name, script] of Object.entries(tools)) {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
  }
  return dir;
}

describe('toolchain checks', () => {
  it('accepts Java 17 as OpenJDK prints it', async () => {
    process.env.PATH = pathWith({ java: `echo 'openjdk version "17.0.13" 2024-10-15' >&2` });
    await expect(checkJava()).resolves.toMatchObject({ major: 17 });
  });

  it('names the fix when there is no java on PATH', async () => {
    process.env.PATH = pathWith({});
    await expect(checkJava()).rejects.toMatchObject({ code: 'MF_JAVA_MISSING', message: expect.stringMatching(/install OpenJDK 17/) });
  });

  it('refuses Java 21 and the old 1.8 numbering, saying which version it found', async () => {
    process.env.PATH = pathWith({ java: `echo 'openjdk version "21.0.2" 2024-01-16' >&2` });
    await expect(checkJava()).rejects.toMatchObject({
      code: 'MF_JAVA_VERSION',
      message: expect.stringMatching(/found Java 21, need Java 17/),
    });
    process.env.PATH = pathWith({ java: `echo 'java version "1.8.0_402"' >&2` });
    await expect(checkJava()).rejects.toMatchObject({
      code: 'MF_JAVA_VERSION',
      message: expect.stringMatching(/found Java 8, need Java 17/),
    });
  });

  it('names the fix when there is no mvn on PATH, and reads the version line of a real one', async () => {
    process.env.PATH = pathWith({});
    await expect(checkMaven()).rejects.toMatchObject({ code: 'MF_MAVEN_MISSING', message: expect.stringMatching(/apt-get install maven/) });
    process.env.PATH = pathWith({ mvn: `echo 'Apache Maven 3.8.7'; echo 'Maven home: /usr/share/maven'` });
    await expect(checkMaven()).resolves.toBe('Apache Maven 3.8.7');
  });
});
