import { describe, expect, it } from 'vitest';
import { type LiveEvent, LiveHub } from './live-hub.ts';

const event = (view: string, key: string, grain = 'hour'): LiveEvent => ({
  view,
  key,
  grain,
  bucket: '2013-01-01T00:00:00.000Z',
  measures: { importKwh: 1 },
  generation: 0,
  cause: 'SPEED_FLUSH',
  offsets: { '0': 3 },
});

describe('LiveHub', () => {
  it('delivers each event to the subscribers whose filter matches, and stops after unsubscribe', () => {
    const hub = new LiveHub();
    const all: string[] = [];
    const meter: string[] = [];
    const hourOfSite: string[] = [];
    hub.subscribe({}, (e) => all.push(e.key));
    const stop = hub.subscribe({ view: 'meter_15m', key: 'meter=a' }, (e) => meter.push(e.key));
    hub.subscribe({ view: 'site_hourly', grain: 'hour' }, (e) => hourOfSite.push(e.key));
    hub.publish(event('meter_15m', 'meter=a'));
    hub.publish(event('meter_15m', 'meter=b'));
    hub.publish(event('site_hourly', 'site=S1', 'day'));
    hub.publish(event('site_hourly', 'site=S1'));
    expect(all).toEqual(['meter=a', 'meter=b', 'site=S1', 'site=S1']);
    expect(meter).toEqual(['meter=a']);
    expect(hourOfSite).toEqual(['site=S1']);
    stop();
    expect(hub.size).toBe(2);
    hub.publish(event('meter_15m', 'meter=a'));
    expect(meter).toEqual(['meter=a']);
  });
});
