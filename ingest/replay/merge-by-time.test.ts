import { describe, expect, it } from 'vitest';
import type { SourceItem } from '../sources/index.ts';
import { mergeByTime } from './merge-by-time.ts';

const reading = (file: string, line: number, t: number): SourceItem =>
  ({ file, line, reading: { meterId: file, intervalStart: t } }) as unknown as SourceItem;
const reject = (file: string, line: number): SourceItem =>
  ({ file, line, reject: { reason: 'MALFORMED', message: 'bad', raw: Buffer.from('x') } }) as unknown as SourceItem;

async function* items(list: SourceItem[]): AsyncGenerator<SourceItem> {
  yield* list;
}

describe('mergeByTime', () => {
  it('interleaves files in reading-time order, keeps each file in order, passes rejects on at once', async () => {
    const a = [reading('a', 2, 0), reading('a', 3, 30), reading('a', 4, 90)];
    const b = [reading('b', 2, 10), reject('b', 3), reading('b', 4, 60), reading('b', 5, 120)];
    const c: SourceItem[] = [];
    const out: string[] = [];
    for await (const item of mergeByTime([items(a), items(b), items(c)])) out.push(`${item.file}${item.line}`);
    expect(out).toEqual(['a2', 'b2', 'b3', 'a3', 'b4', 'a4', 'b5']);
  });
});
