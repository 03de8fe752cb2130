export interface WebhookPayload {
  readonly source: 'atlas-orchestrator';
  readonly region: string;
  readonly notification: string;
  readonly message: string;
  readonly phase: string;
  readonly failoverId: string | null;
  readonly at: string;
}

const transient = (status: number): boolean => status >= 500 || status === 429;

/**
 * Posts a notification; without a URL, only logs it. Retries only what is transient
 * (network errors, 5xx, 429) with capped exponential back-off (STYLE rule 6). Never throws:
 * a notification must not stop a failover.
 */
export async function postWebhook(url: string | undefined, payload: WebhookPayload, log: (line: string) => void, attempts = 4): Promise<boolean> {
  if (!url) {
    log(`notification (no ATLAS_WEBHOOK_URL set): ${payload.notification}: ${payload.message}`);
    return false;
  }
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(2_000),
      });
      if (res.ok) return true;
      if (!transient(res.status)) {
        log(`webhook ${payload.notification}: HTTP ${res.status}, not retried`);
        return false;
      }
    } catch {
      // network error or timeout: transient
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
  }
  log(`webhook ${payload.notification}: gave up after ${attempts} attempts`);
  return false;
}
