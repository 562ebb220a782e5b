/** The public API, as any client would call it: an API key in the Authorization header. */

const KEY_STORAGE = 'meterflow.apiKey';

export function apiKey(): string {
  return localStorage.getItem(KEY_STORAGE) ?? '';
}

export function setApiKey(key: string): void {
  if (key === '') localStorage.removeItem(KEY_STORAGE);
  else localStorage.setItem(KEY_STORAGE, key);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key === '' ? {} : { authorization: `Bearer ${key}` };
}

/** GET a JSON answer; a 4xx/5xx becomes an ApiError carrying the API's own message. */
export async function getJson<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
  const url = `${path}${qs.size > 0 ? `?${qs}` : ''}`;
  const res = await fetch(url, { headers: authHeaders() });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { message?: string } | null;
    const hint = res.status === 401 ? ' — enter an API key above (meterflow keys create --name dashboard)' : '';
    throw new ApiError(res.status, `${res.status}: ${body?.message ?? res.statusText}${hint}`);
  }
  return (await res.json()) as T;
}

export interface Provenance {
  batchVersion: number;
  speedGeneration: number | null;
  stale: boolean;
  warnings: string[];
  freshnessMs: number | null;
}

export interface SeriesAnswer {
  buckets: { bucket: string; provisional: boolean; values: Record<string, number | null> }[];
  provenance: Provenance;
}

export interface TotalsRow {
  key: string;
  dimensions: Record<string, string>;
  meters: number;
  buckets: number;
  values: Record<string, number | null>;
}

export interface TotalsAnswer {
  rows: TotalsRow[];
  provenance: Provenance;
}

export const series = (view: string, p: Record<string, string | undefined>) => getJson<SeriesAnswer>(`v1/views/${view}/series`, p);
export const keys = (view: string, p: Record<string, string | undefined>) => getJson<TotalsAnswer>(`v1/views/${view}/keys`, p);
export const top = (view: string, p: Record<string, string | number | undefined>) => getJson<TotalsAnswer>(`v1/views/${view}/top`, p);
