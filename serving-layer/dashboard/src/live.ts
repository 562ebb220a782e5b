import { authHeaders } from './api.ts';

export interface LiveChange {
  view: string;
  key: string;
  grain: string;
  bucket: string;
}

/**
 * /v1/live read with fetch() (EventSource cannot send the Authorization header); reconnects after
 * a drop. `onChange` gets every change event; `onState` a short status for the header.
 */
export function connectLive(query: string, onChange: (c: LiveChange) => void, onState: (s: string) => void): () => void {
  let stopped = false;
  let controller = new AbortController();
  const run = async () => {
    while (!stopped) {
      try {
        const res = await fetch(`v1/live?${query}`, { headers: authHeaders(), signal: controller.signal });
        if (!res.ok || res.body === null) throw new Error(`live stream: ${res.status}`);
        onState('live: connected');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const data = buffer
              .slice(0, end)
              .split('\n')
              .find((l) => l.startsWith('data: '));
            buffer = buffer.slice(end + 2);
            if (data !== undefined) onChange(JSON.parse(data.slice(6)) as LiveChange);
            end = buffer.indexOf('\n\n');
          }
        }
      } catch (err) {
        if (stopped) return;
        onState(`live: reconnecting (${(err as Error).message})`);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 3_000));
      controller = new AbortController();
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
