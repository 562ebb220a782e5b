import type { FastifyPluginAsync } from 'fastify';
import { shared } from '../http/shared-plugin.ts';
import { type Authenticator, type Caller, credentialOf } from './authenticator.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; null when the auth rule let an anonymous request through. */
    caller: Caller | null;
  }
}

/**
 * Authenticates every request of the context that registers it, at onRequest: before the body is
 * read (an anonymous client cannot make the server buffer megabytes) and before rate limiting (so
 * the limit is per key). Routes registered in that context need no code of their own to be protected.
 */
export const authPlugin: FastifyPluginAsync<{ authenticator: Authenticator }> = shared('meterflow-auth', async (app, opts) => {
  if (!app.hasRequestDecorator('caller')) app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request) => {
    request.caller = await opts.authenticator.authenticate(credentialOf(request.headers));
  });
});
