import Ajv, { type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema } from 'fastify';

const common: Options = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false };

/**
 * Two validators: query strings, params and headers arrive as text and are coerced to the
 * schema's types; JSON bodies are not (a number where a string belongs is an error, not
 * quietly the string "42").
 */
// ajv and ajv-formats are CommonJS: under ESM the class may sit on `.default`.
const AjvClass = (Ajv as unknown as { default?: typeof Ajv }).default ?? Ajv;
const withFormats = ((addFormats as unknown as { default?: typeof addFormats }).default ?? addFormats) as unknown as (ajv: Ajv) => Ajv;

export function registerValidation(app: FastifyInstance): void {
  const coercing = withFormats(new AjvClass({ ...common, coerceTypes: 'array' }));
  const strict = withFormats(new AjvClass({ ...common, coerceTypes: false }));
  app.setValidatorCompiler<FastifySchema>(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema as object),
  );
}
