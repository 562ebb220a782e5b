import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API key tokens: `mf_<id>_<secret>`. The id (12 hex characters) is public — it names the key in
 * logs, `keys list` and rate-limit buckets — and lets the server find the stored row without
 * scanning. The secret is 32 random bytes, base64url (43 characters).
 *
 * Only SHA-256(token) is stored. A slow password hash (bcrypt, scrypt, argon2) exists to make
 * guessing low-entropy human passwords expensive; a 256-bit random secret cannot be guessed at any
 * hash speed, so a fast hash loses nothing and keeps every request's check to a microsecond.
 */
const TOKEN = /^mf_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewToken {
  id: string;
  token: string;
  hash: string;
}

export function generateToken(): NewToken {
  const id = randomBytes(6).toString('hex');
  const token = `mf_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, token, hash: hashToken(token) };
}

/** The key id of a well-formed token; undefined for anything else. */
export function tokenId(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison, so response timing says nothing about how much of a hash matched. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
