import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, register } from 'prom-client';
import type { Logger } from '../core/logger.ts';

let defaults = false;

/** A bare /metrics endpoint for worker processes (speed layer, archiver) that serve no API. */
export async function serveMetrics(port: number, log: Logger): Promise<Server> {
  if (!defaults) {
    collectDefaultMetrics();
    defaults = true;
  }
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    register
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': register.contentType }).end(text))
      .catch((err: Error) => res.writeHead(500).end(err.message));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  log.info({ url: `http://127.0.0.1:${port}/metrics` }, 'metrics');
  return server;
}
