export {
  type CompiledQuery,
  type CompileOptions,
  compileFactsQuery,
  compileMergeQuery,
  compileViewQuery,
  hasSeparateState,
  stateColumnName,
} from './compile-view.ts';
export type { SqlRelation } from './relations.ts';
export { readViewRows, runCompiled } from './run-view.ts';
export { createMetersTable, createReadingsTable } from './tables.ts';
export { tariffCtes } from './tariff-relations.ts';
