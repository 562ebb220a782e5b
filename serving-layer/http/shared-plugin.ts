import type { FastifyPluginAsync } from 'fastify';

/**
 * Marks a plugin as not encapsulated, so what it adds (hooks, decorators, parsers) applies to the
 * context that registers it — what the `fastify-plugin` package does, via the symbols Fastify
 * documents, without depending on that package.
 */
export function shared<T extends FastifyPluginAsync<never>>(name: string, plugin: T): T {
  Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: name });
  return plugin;
}
