import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Where `npm run build:dashboard` (run by `npm install` through `prepare`) writes the page. */
export const DASHBOARD_DIST = fileURLToPath(new URL('../dashboard/dist/', import.meta.url));

/**
 * The dashboard at `/`: the built Vite page, static files only (the page reads data through the
 * authenticated API with the key the user gives it, so the files themselves are open). Only the
 * files present at start are routed (`wildcard: false`), so unknown paths keep their API 404.
 */
export function dashboardRoutes(dist = DASHBOARD_DIST): FastifyPluginAsync {
  return async (app) => {
    if (!existsSync(`${dist}/index.html`)) {
      app.get('/', { schema: { hide: true } }, async (_request, reply) =>
        reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send(`The dashboard is not built (${dist} is missing): run \`npm run build:dashboard\` (npm install does it), then restart.\n`),
      );
      return;
    }
    await app.register(fastifyStatic, {
      root: dist,
      prefix: '/',
      wildcard: false,
      index: 'index.html',
      schemaHide: true,
      cacheControl: false,
    });
  };
}
