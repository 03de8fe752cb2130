/**
 * The one catalogue of Atlas error codes. Every module throws AtlasError with one of these;
 * httpStatusOf maps them to HTTP in one exhaustive switch.
 */
export const ERROR_CODES = [
  'ATLAS_ERR_VALIDATION',
  'ATLAS_ERR_BAD_JSON',
  'ATLAS_ERR_UNSUPPORTED_MEDIA_TYPE',
  'ATLAS_ERR_PAYLOAD_TOO_LARGE',
  'ATLAS_ERR_UNAUTHENTICATED',
  'ATLAS_ERR_FORBIDDEN',
  'ATLAS_ERR_NOT_FOUND',
  'ATLAS_ERR_CONFLICT',
  'ATLAS_ERR_RESTRICTED',
  'ATLAS_ERR_WRONG_REGION',
  'ATLAS_ERR_RATE_LIMITED',
  'ATLAS_ERR_REGION_UNAVAILABLE',
  'ATLAS_ERR_NOT_READY',
  'ATLAS_ERR_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'ATLAS_ERR_VALIDATION':
    case 'ATLAS_ERR_BAD_JSON':
      return 400;
    case 'ATLAS_ERR_UNAUTHENTICATED':
      return 401;
    case 'ATLAS_ERR_FORBIDDEN':
      return 403;
    case 'ATLAS_ERR_NOT_FOUND':
      return 404;
    case 'ATLAS_ERR_CONFLICT':
      return 409;
    case 'ATLAS_ERR_RESTRICTED':
      // GDPR art. 18: the subject asked to restrict processing; the record is locked.
      return 423;
    case 'ATLAS_ERR_PAYLOAD_TOO_LARGE':
      return 413;
    case 'ATLAS_ERR_UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'ATLAS_ERR_WRONG_REGION':
      return 421;
    case 'ATLAS_ERR_RATE_LIMITED':
      return 429;
    case 'ATLAS_ERR_INTERNAL':
      return 500;
    case 'ATLAS_ERR_REGION_UNAVAILABLE':
    case 'ATLAS_ERR_NOT_READY':
      return 503;
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped error code ${String(unreachable)}`);
    }
  }
}

export class AtlasError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. Atlas-Region for a 421 or Retry-After for a 503. */
    readonly headers: Readonly<Record<string, string>> = {},
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AtlasError';
  }

  get status(): number {
    return httpStatusOf(this.code);
  }
}

export function wrongRegion(home: string, what: string): AtlasError {
  return new AtlasError('ATLAS_ERR_WRONG_REGION', `${what} lives in ${home}; send the request there`, { 'atlas-region': home });
}

export function notFound(what: string): AtlasError {
  return new AtlasError('ATLAS_ERR_NOT_FOUND', `${what} not found`);
}
