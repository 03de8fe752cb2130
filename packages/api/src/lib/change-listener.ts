import pg from 'pg';

export const GLOBAL_CHANGE_CHANNEL = 'atlas_global_changed';

export interface ChangeListener {
  /** Resolves once LISTEN is in place (the first time). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Listens for the database's global-row change notifications on a dedicated connection and
 * reconnects with capped backoff. Every (re)connection calls onReset first: notifications
 * sent while we were away are lost, so whatever was cached is suspect.
 */
export function listenForChanges(
  connectionString: string,
  handlers: { onChange(table: string, key: string): void | Promise<void>; onReset(): void | Promise<void>; onError?(err: Error): void },
): ChangeListener {
  let client: pg.Client | undefined;
  let closed = false;
  let attempt = 0;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new pg.Client({ connectionString, application_name: 'atlas-cache-invalidation' });
    client = c;
    c.on('notification', (msg) => {
      if (msg.channel !== GLOBAL_CHANGE_CHANNEL || !msg.payload) return;
      const split = msg.payload.indexOf(':');
      void handlers.onChange(msg.payload.slice(0, split), msg.payload.slice(split + 1));
    });
    const retry = (err: Error) => {
      handlers.onError?.(err);
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      void c.end().catch(() => undefined);
      if (closed) return;
      attempt += 1;
      setTimeout(() => void connect(), Math.min(5_000, 100 * 2 ** attempt)).unref();
    };
    c.once('error', retry);
    try {
      await c.connect();
      await c.query(`LISTEN ${GLOBAL_CHANGE_CHANNEL}`);
      attempt = 0;
      await handlers.onReset();
      resolveReady();
    } catch (err) {
      retry(err as Error);
    }
  };
  void connect();
  return {
    ready,
    close: async () => {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
