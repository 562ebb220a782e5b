import { describe, expect, it } from 'vitest';
import { isMeterflowError } from '../../core/errors.ts';
import { generateToken, hashToken, tokenId, tokenMatches } from './api-key-token.ts';
import { Authenticator, credentialOf } from './authenticator.ts';
import { CachedKeyLookup } from './cached-key-lookup.ts';
import { createApiKey, MemoryKeyStore } from './key-store.ts';

describe('API key tokens', () => {
  it('are mf_<12 hex>_<43 base64url>, unique, and only their hash matches', () => {
    const a = generateToken();
    const b = generateToken();
    expect(a.token).toMatch(/^mf_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(a.token).not.toBe(b.token);
    expect(tokenId(a.token)).toBe(a.id);
    expect(a.hash).toBe(hashToken(a.token));
    expect(tokenMatches(a.token, a.hash)).toBe(true);
    expect(tokenMatches(b.token, a.hash)).toBe(false);
    expect(tokenMatches(a.token, 'not-hex')).toBe(false);
    expect(tokenId('mf_short_x')).toBeUndefined();
  });

  it('refuses key names that would not read well as a source', async () => {
    await expect(createApiKey(new MemoryKeyStore(), 'a b')).rejects.toThrow(/not allowed/);
    await expect(createApiKey(new MemoryKeyStore(), '')).rejects.toThrow(/not allowed/);
  });
});

describe('credentialOf', () => {
  it('reads Bearer and X-API-Key, and refuses other schemes', () => {
    expect(credentialOf({ authorization: 'Bearer abc' })).toBe('abc');
    expect(credentialOf({ authorization: 'bearer  abc ' })).toBe('abc');
    expect(credentialOf({ 'x-api-key': ' abc ' })).toBe('abc');
    expect(credentialOf({})).toBeUndefined();
    expect(() => credentialOf({ authorization: 'Basic abc' })).toThrow(/Bearer <key>/);
  });
});

describe('CachedKeyLookup', () => {
  it('reads the store once per TTL per id, unknown ids included', async () => {
    const store = new MemoryKeyStore();
    let reads = 0;
    const counting = Object.assign(Object.create(store), {
      get: (id: string) => {
        reads++;
        return store.get(id);
      },
    });
    let now = 0;
    const cache = new CachedKeyLookup(counting, 1_000, () => now);
    const { record } = await createApiKey(store, 'k');
    await cache.get(record.id);
    await cache.get(record.id);
    await cache.get('000000000000');
    await cache.get('000000000000');
    expect(reads).toBe(2);
    await store.revoke(record.id);
    expect((await cache.get(record.id))?.revoked).toBe(false);
    now = 1_000;
    expect((await cache.get(record.id))?.revoked).toBe(true);
  });

  it('remembers that a key exists without asking again', async () => {
    const store = new MemoryKeyStore();
    let now = 0;
    const cache = new CachedKeyLookup(store, 1_000, () => now);
    expect(await cache.anyExist()).toBe(false);
    await createApiKey(store, 'k');
    expect(await cache.anyExist()).toBe(false);
    now = 2_000;
    expect(await cache.anyExist()).toBe(true);
  });
});

describe('Authenticator', () => {
  it('turns a failing key store into a retriable 503, not a 500', async () => {
    const broken = new MemoryKeyStore();
    broken.get = () => Promise.reject(new Error('NoHostAvailable'));
    const auth = new Authenticator({ keys: new CachedKeyLookup(broken, 0), required: true });
    const err = await auth.authenticate(generateToken().token).catch((e: unknown) => e);
    expect(isMeterflowError(err, 'MF_CASSANDRA_UNREACHABLE')).toBe(true);
    expect((err as { status: number }).status).toBe(503);
  });
});
