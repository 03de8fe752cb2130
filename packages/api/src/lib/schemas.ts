import Type from 'typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorBody' },
);

export const OrgIdParam = Type.String({ minLength: 1, maxLength: 64, description: 'Organization id; it names its home region, e.g. org_euw1_…' });
export const UuidParam = Type.String({ format: 'uuid' });
/** Rows carry Date objects; the serializer writes them as ISO 8601 strings. */
export const Timestamp = Type.Unsafe<string | Date>({ type: 'string', format: 'date-time' });
export const Email = Type.String({ format: 'email', maxLength: 254 });

/** Error responses every route may return, for the OpenAPI document. */
export const errorResponses = {
  400: ErrorBody,
  404: ErrorBody,
  421: ErrorBody,
  503: ErrorBody,
};
