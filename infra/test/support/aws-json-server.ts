import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An error answered the way AWS JSON services answer one: 400 and `__type`. */
export class AwsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface AwsCall {
  /** e.g. `DescribeServices` */
  readonly operation: string;
  readonly service: string;
  readonly body: Record<string, any>;
  /** Credential scope of the SigV4 signature: `<key id>/<date>/<region>/<service>`. */
  readonly scope: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: string;
}

export type AwsHandler = (body: Record<string, any>) => unknown;

/**
 * A local HTTP server speaking the AWS JSON protocol (X-Amz-Target dispatch, JSON bodies,
 * `__type` errors) and the query protocol (form bodies, XML answers): the stand-in for ECS,
 * ECR, DynamoDB, SNS and RDS, which this machine cannot reach. Handlers
 * are keyed by operation name; every request is recorded with its signature scope.
 */
export async function startAwsJsonServer(handlers: Record<string, AwsHandler>): Promise<{ endpoint: string; calls: AwsCall[]; close: () => Promise<void> }> {
  const calls: AwsCall[] = [];
  const read = async (req: IncomingMessage): Promise<string> => {
    let text = '';
    for await (const chunk of req) text += (chunk as Buffer).toString();
    return text;
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await read(req);
      // Query-protocol services (SNS, RDS) post a form with Action=; JSON ones use X-Amz-Target.
      const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      // REST-JSON services (Lambda) are dispatched on `<METHOD> <path>`.
      const rest = !form && !req.headers['x-amz-target'];
      const target = form ? `query.${new URLSearchParams(text).get('Action') ?? ''}` : rest ? `rest.${req.method} ${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}` : String(req.headers['x-amz-target']);
      const [service = '', operation = ''] = target.split(/\.(.*)/s);
      const body = form ? Object.fromEntries(new URLSearchParams(text)) : text ? (JSON.parse(text) as Record<string, any>) : {};
      const scope = /Credential=([^,]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      calls.push({ operation, service, body, scope, headers, rawBody: text });
      const reply = (status: number, payload: unknown) => {
        if (form) {
          // Query protocol: an XML document; errors carry <Code> and <Message>.
          const p = payload as { __type?: string; message?: string; xml?: string };
          res.writeHead(status, { 'content-type': 'text/xml' });
          res.end(status === 200 ? (p.xml ?? `<${operation}Response><${operation}Result/></${operation}Response>`) : `<ErrorResponse><Error><Code>${p.__type}</Code><Message>${p.message}</Message></Error></ErrorResponse>`);
          return;
        }
        const p = payload as { __type?: string; __raw?: string; __headers?: Record<string, string> };
        if (rest) {
          // REST-JSON: the error type travels in a header; a handler may answer raw bytes.
          res.writeHead(status, { 'content-type': 'application/json', ...(status !== 200 && p.__type ? { 'x-amzn-errortype': p.__type } : {}), ...p.__headers });
          res.end(p.__raw ?? JSON.stringify(payload));
          return;
        }
        res.writeHead(status, { 'content-type': String(req.headers['content-type'] ?? 'application/x-amz-json-1.1'), 'x-amzn-requestid': `req-${calls.length}` });
        res.end(JSON.stringify(payload));
      };
      const handler = handlers[operation];
      if (!scope) return reply(403, { __type: 'MissingAuthenticationTokenException', message: 'request is not signed' });
      if (!handler) return reply(400, { __type: 'UnknownOperationException', message: `no handler for ${target}` });
      try {
        reply(200, (await handler(body)) ?? {});
      } catch (err) {
        if (err instanceof AwsFault) reply(err.status, { __type: err.type, message: err.message });
        else reply(500, { __type: 'InternalFailure', message: (err as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
