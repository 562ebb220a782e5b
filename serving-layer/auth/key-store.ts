import { MeterflowError } from '../../core/errors.ts';
import { generateToken } from './api-key-token.ts';

/** One stored API key. `hash` is SHA-256 of the whole token (see api-key-token.ts); the token itself is never stored. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  hash: string;
  createdAt: Date;
  revoked: boolean;
}

/** Where API keys live. The real one is CassandraKeyStore; MemoryKeyStore serves auth-logic unit tests. */
export interface KeyStore {
  insert(record: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when no key has this id. */
  revoke(id: string): Promise<boolean>;
  /** Whether any key was ever created (revoked ones count). */
  anyExist(): Promise<boolean>;
}

/** Key names end up in dead-letter sources (`http:<name>`) and logs, so they stay short and plain. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Creates a key and returns its token, which exists only in this return value from now on. */
export async function createApiKey(store: KeyStore, name: string): Promise<{ record: ApiKeyRecord; token: string }> {
  if (!KEY_NAME.test(name)) {
    throw new MeterflowError(
      'MF_BAD_REQUEST',
      `key name ${JSON.stringify(name)} is not allowed: 1-64 characters, letters, digits, ".", "_", "@", "-", starting with a letter or digit`,
      { details: { name } },
    );
  }
  const { id, token, hash } = generateToken();
  const record: ApiKeyRecord = { id, name, hash, createdAt: new Date(), revoked: false };
  await store.insert(record);
  return { record, token };
}

export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, ApiKeyRecord>();

  async insert(record: ApiKeyRecord): Promise<void> {
    this.keys.set(record.id, { ...record });
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const k = this.keys.get(id);
    return k ? { ...k } : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.keys.values()].map((k) => ({ ...k }));
  }

  async revoke(id: string): Promise<boolean> {
    const k = this.keys.get(id);
    if (!k) return false;
    k.revoked = true;
    return true;
  }

  async anyExist(): Promise<boolean> {
    return this.keys.size > 0;
  }
}
