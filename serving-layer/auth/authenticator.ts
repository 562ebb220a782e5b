import { MeterflowError } from '../../core/errors.ts';
import { tokenId, tokenMatches } from './api-key-token.ts';
import type { CachedKeyLookup } from './cached-key-lookup.ts';

/** Who is calling: the key's public id and name (never the hash). */
export interface Caller {
  keyId: string;
  keyName: string;
}

export interface AuthenticatorOptions {
  keys: CachedKeyLookup;
  /** serving.auth.required; when false, auth still applies as soon as any key exists. */
  required: boolean;
}

const HOW = 'send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"; create one with `meterflow keys create --name NAME`';

/**
 * The auth rule, apart from HTTP so it can be tested alone:
 * - a credential that is presented is always checked (a wrong key never passes, even with auth off);
 * - without a credential, the request passes only while auth is not required and no key was ever
 *   created; otherwise 401;
 * - unknown id or wrong secret → 401 (the same answer for both, so ids cannot be probed);
 * - a correct key that was revoked → 403, naming the key.
 */
export class Authenticator {
  constructor(private readonly o: AuthenticatorOptions) {}

  /** The caller, or null for an anonymous request that the rule allows. Throws MF_UNAUTHORIZED / MF_FORBIDDEN. */
  async authenticate(credential: string | undefined): Promise<Caller | null> {
    if (credential === undefined) {
      if (!this.o.required && !(await storeCall(() => this.o.keys.anyExist()))) return null;
      throw new MeterflowError('MF_UNAUTHORIZED', `an API key is required: ${HOW}`);
    }
    const id = tokenId(credential);
    if (id === undefined) {
      throw new MeterflowError(
        'MF_UNAUTHORIZED',
        'the API key is not well-formed: expected mf_<12 hex characters>_<43 base64url characters>',
      );
    }
    const record = await storeCall(() => this.o.keys.get(id));
    if (record === undefined || !tokenMatches(credential, record.hash)) {
      throw new MeterflowError('MF_UNAUTHORIZED', 'the API key is not recognised (unknown key or wrong secret)', {
        details: { keyId: id },
      });
    }
    if (record.revoked) {
      throw new MeterflowError('MF_FORBIDDEN', `the API key ${record.id} (${record.name}) was revoked; create a new one`, {
        details: { keyId: record.id },
      });
    }
    return { keyId: record.id, keyName: record.name };
  }
}

/** The credential of a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function credentialOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.length > 0) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw new MeterflowError('MF_UNAUTHORIZED', `the Authorization header must be "Bearer <key>"; ${HOW}`);
    return m[1];
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim().length > 0) return apiKey.trim();
  return undefined;
}

/** A key store that cannot answer makes the API unavailable (503, retriable), not broken (500). */
async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    throw new MeterflowError(
      'MF_CASSANDRA_UNREACHABLE',
      `cannot check the API key now (key store unavailable): ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}
