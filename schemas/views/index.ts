/** The view-definition API every layer imports. */
export * from './catalog.ts';
export * from './define-view.ts';
export * from './dimensions.ts';
export * from './evaluate.ts';
export * from './grains.ts';
export * from './interval-facts.ts';
export * from './measures.ts';
export * from './monoids.ts';
export * from './partials.ts';
export * from './reading-identity.ts';
export * from './row-key.ts';
export * from './tariffs.ts';
