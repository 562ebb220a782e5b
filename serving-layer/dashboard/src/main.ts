import './style.css';
import { apiKey, series, setApiKey } from './api.ts';
import { connectLive } from './live.ts';
import { dateOf, setTimeZone, timeZone, ZONES } from './time.ts';
import type { ViewContext } from './views/context.ts';
import { drill } from './views/drill.ts';
import { meter } from './views/meter.ts';
import { overview } from './views/overview.ts';
import { pipeline } from './views/pipeline.ts';

const VIEWS: Record<string, (ctx: ViewContext) => Promise<void>> = { overview, drill, meter, pipeline };
const PIPELINE_REFRESH_MS = 5_000;
/** Live changes arrive per flush (several a second under load): re-read at most this often. */
const LIVE_DEBOUNCE_MS = 1_000;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const main = $('main');
const dayInput = $<HTMLInputElement>('day');
const tzSelect = $<HTMLSelectElement>('tz');
const keyInput = $<HTMLInputElement>('apikey');
const liveState = $('live');

// ?key= and ?day= / ?tz= in the page address: a link that opens the dashboard ready to use.
const query = new URLSearchParams(location.search);
if (query.get('key')) setApiKey(query.get('key') as string);
if (query.get('tz')) setTimeZone(query.get('tz') as string);
keyInput.value = apiKey();
for (const z of new Set([timeZone(), ...ZONES])) tzSelect.append(new Option(z, z, false, z === timeZone()));

function route(): { name: string; params: URLSearchParams } {
  const [path = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { name: VIEWS[path] ? path : 'overview', params: new URLSearchParams(search) };
}

let running = false;
let again = false;
/** Renders the current view; a request while one runs re-renders once it is done (never two at once). */
async function render(): Promise<void> {
  if (running) {
    again = true;
    return;
  }
  running = true;
  try {
    do {
      again = false;
      const { name, params } = route();
      for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.getAttribute('data-view') === name);
      main.dataset.view = name;
      await (VIEWS[name] as (ctx: ViewContext) => Promise<void>)({ day: dayInput.value, tz: tzSelect.value, main, params });
      main.dataset.renderedAt = String(Date.now());
    } while (again);
  } finally {
    running = false;
  }
}

/** The newest day with data (fleet months, then days of the newest month), else today. */
async function newestDay(): Promise<string> {
  const today = dateOf(Date.now(), tzSelect.value);
  try {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const months = await series('fleet_hourly', { from: '2000-01-01', to: tomorrow, grain: 'month', measures: 'readingCount' });
    const month = months.buckets.at(-1)?.bucket;
    if (month === undefined) return today;
    const start = Date.parse(month);
    const next = new Date(start);
    next.setUTCMonth(next.getUTCMonth() + 1);
    const days = await series('fleet_hourly', { from: month, to: next.toISOString(), grain: 'hour', measures: 'readingCount' });
    const last = days.buckets.at(-1)?.bucket;
    return last === undefined ? today : dateOf(Date.parse(last), tzSelect.value);
  } catch {
    return today;
  }
}

dayInput.addEventListener('change', () => void render());
tzSelect.addEventListener('change', () => {
  setTimeZone(tzSelect.value);
  void render();
});
keyInput.addEventListener('change', () => {
  setApiKey(keyInput.value.trim());
  void render();
});
window.addEventListener('hashchange', () => void render());

let changes = 0;
let pending: ReturnType<typeof setTimeout> | undefined;
connectLive(
  'view=fleet_hourly&grain=hour',
  () => {
    changes++;
    liveState.textContent = `live: ${changes} change${changes === 1 ? '' : 's'}, last ${new Date().toLocaleTimeString()}`;
    if (route().name === 'pipeline' || pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      void render();
    }, LIVE_DEBOUNCE_MS);
  },
  (s) => {
    liveState.textContent = s;
  },
);
setInterval(() => {
  if (route().name === 'pipeline') void render();
}, PIPELINE_REFRESH_MS);

dayInput.value = query.get('day') ?? (await newestDay());
void render();
