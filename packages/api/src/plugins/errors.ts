import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AtlasError, httpStatusOf, type ErrorCode } from '@atlas/core';

interface PgError {
  code?: string;
  message: string;
  constraint?: string;
  column?: string;
}

function isPgError(err: unknown): err is PgError {
  return typeof err === 'object' && err !== null && typeof (err as PgError).code === 'string' && /^[0-9A-Z]{5}$/.test((err as PgError).code!);
}

/** Translates any thrown value into an AtlasError; what is not understood becomes INTERNAL. */
export function toAtlasError(err: unknown): AtlasError {
  if (err instanceof AtlasError) return err;
  const fe = err as FastifyError;
  if (fe?.validation) {
    const where = fe.validationContext ?? 'request';
    const first = fe.validation[0];
    const path = first ? `${where}${first.instancePath}` : where;
    const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
    const message = extra ? `${path} has an unknown property '${extra}'` : `${path} ${first?.message ?? 'is invalid'}`;
    return new AtlasError('ATLAS_ERR_VALIDATION', message, {}, fe.validation.map((v) => ({ path: `${where}${v.instancePath}`, message: v.message })));
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AtlasError('ATLAS_ERR_BAD_JSON', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AtlasError('ATLAS_ERR_PAYLOAD_TOO_LARGE', 'the request body is larger than this endpoint accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AtlasError('ATLAS_ERR_UNSUPPORTED_MEDIA_TYPE', 'send this endpoint application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AtlasError('ATLAS_ERR_VALIDATION', 'the Content-Length header does not match the body');
  }
  if (fe instanceof SyntaxError && (fe as FastifyError).statusCode === 400) {
    return new AtlasError('ATLAS_ERR_BAD_JSON', 'the request body is not valid JSON');
  }
  if (isPgError(err)) {
    switch (err.code) {
      case 'AT001':
        // The database's residency guard caught what the API should have refused.
        return new AtlasError('ATLAS_ERR_WRONG_REGION', err.message);
      case 'AT002':
        // A data subject restricted processing (GDPR art. 18): the record is locked.
        return new AtlasError('ATLAS_ERR_RESTRICTED', err.message);
      case 'AT004':
        // The replication conflict rule: an erased row never comes back (erasure always wins).
        return new AtlasError('ATLAS_ERR_CONFLICT', 'this record was erased and cannot be written again');
      case 'AT003':
        return new AtlasError('ATLAS_ERR_CONFLICT', 'the audit trail is append-only');
      case '42501':
        // Row-level security refused a row outside the request's organization.
        return new AtlasError('ATLAS_ERR_FORBIDDEN', 'that record is outside your organization');
      case '23505':
        return new AtlasError('ATLAS_ERR_CONFLICT', 'a record with this key already exists');
      case '23503':
        return new AtlasError('ATLAS_ERR_VALIDATION', 'a referenced record does not exist');
      case '23514':
      case '22P02':
      case '22001':
      case '22003':
        return new AtlasError('ATLAS_ERR_VALIDATION', `a value is out of range or malformed (${err.constraint ?? err.code})`);
      case '57P01':
      case '57P03':
      case '08006':
      case '08001':
        return new AtlasError('ATLAS_ERR_NOT_READY', 'the regional database is unavailable; retry shortly', { 'retry-after': '2' });
    }
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ErrorCode = fe.statusCode === 413 ? 'ATLAS_ERR_PAYLOAD_TOO_LARGE' : fe.statusCode === 415 ? 'ATLAS_ERR_UNSUPPORTED_MEDIA_TYPE' : 'ATLAS_ERR_VALIDATION';
    return new AtlasError(code, fe.message);
  }
  return new AtlasError('ATLAS_ERR_INTERNAL', 'internal error', {}, err);
}

export function sendError(reply: FastifyReply, error: AtlasError): FastifyReply {
  const status = httpStatusOf(error.code);
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  // 5xx messages never reach clients: the log has them, keyed by request id.
  const message = status >= 500 && error.code === 'ATLAS_ERR_INTERNAL' ? 'internal error' : error.message;
  const details = status < 500 && error.details !== undefined ? { details: error.details } : {};
  return reply.code(status).send({ error: { code: error.code, message, ...details } });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const error = toAtlasError(err);
    if (error.code === 'ATLAS_ERR_INTERNAL') request.log.error({ err }, 'unhandled error');
    else if (error.status >= 500) request.log.warn({ err }, error.message);
    return sendError(reply, error);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new AtlasError('ATLAS_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
