/**
 * The body of every error response, declared once and referenced by route schemas (so OpenAPI
 * documents it). `additionalProperties` stays open for facts such as `validation`, `limitBytes`,
 * `checks`.
 */
export const ERROR_BODY_ID = 'MeterflowError';

export const errorBodySchema = {
  $id: ERROR_BODY_ID,
  type: 'object',
  description: 'What went wrong: a stable code (see core/errors.ts) and a message naming the problem',
  properties: {
    code: { type: 'string', examples: ['MF_BAD_REQUEST'] },
    message: { type: 'string' },
  },
  required: ['code', 'message'],
  additionalProperties: true,
} as const;

export const errorRef = { $ref: `${ERROR_BODY_ID}#` } as const;

/** Error responses most routes can give, for their `response` schema. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorRef> {
  return Object.fromEntries(statuses.map((s) => [s, errorRef]));
}
