/** The VEE module: one rule set for every input path. */
export { createValidationContext, VALIDATION_DEFAULTS, type ValidationContext, type ValidationContextOptions } from './context.ts';
export { type ParseResult, parseReadingJson, parseReadingJsonLine } from './parse-reading-json.ts';
export { REJECT_REASONS, type Rejection, type RejectReason, reasonForErrorCode, reject } from './reasons.ts';
export { type RegisterPoint, RegisterTracker } from './register-tracker.ts';
export { type ValidationResult, validateReading } from './validate-reading.ts';
