/**
 * What the edge may retry and when (STYLE.md rule 6). A request is retried only when doing
 * it twice is harmless (an idempotent method) and the failure is transient (no answer, or
 * a gateway-class status). POST and PATCH are never retried blindly: the region may have
 * applied them before the connection broke.
 */
export const IDEMPOTENT_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'] as const;

export function isIdempotent(method: string): boolean {
  return (IDEMPOTENT_METHODS as readonly string[]).includes(method.toUpperCase());
}

export const TRANSIENT_STATUSES = [502, 503, 504] as const;

export type UpstreamOutcome = { readonly kind: 'network-error' } | { readonly kind: 'response'; readonly status: number };

export function isTransient(outcome: UpstreamOutcome): boolean {
  return outcome.kind === 'network-error' || (TRANSIENT_STATUSES as readonly number[]).includes(outcome.status);
}

export interface RetryPolicy {
  /** Retries after the first attempt; 0 turns retrying off. */
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxRetries: 2, baseDelayMs: 50, maxDelayMs: 1_000 });

/**
 * The delay before retry number `attempt` (0 = the first retry), or null for "do not
 * retry". Capped exponential backoff with "equal jitter": half the step is fixed, half is
 * drawn from `random01`, so retries of many clients do not fall in step.
 */
export function retryDelayMs(
  method: string,
  outcome: UpstreamOutcome,
  attempt: number,
  policy: RetryPolicy,
  random01: number,
): number | null {
  if (!isIdempotent(method) || !isTransient(outcome) || attempt >= policy.maxRetries) return null;
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(step / 2 + (step / 2) * Math.min(1, Math.max(0, random01)));
}
