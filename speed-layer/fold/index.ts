export { type DirtyPartial, type FlushBatch, type FoldOutcome, ViewFold, type ViewFoldOptions } from './view-fold.ts';
