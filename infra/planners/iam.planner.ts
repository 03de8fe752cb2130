/** A minimal IAM policy document model: enough to build and check our own policies. */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

export class LeastPrivilegeError extends Error {
  override readonly name = 'LeastPrivilegeError';
}

const list = (v: string | readonly string[]): readonly string[] => (typeof v === 'string' ? [v] : v);

/**
 * Returns every violation of the house rule: no Allow of `*` actions at all, and no service
 * wildcard (`s3:*`) on every resource. Some AWS actions only accept `Resource: "*"` (e.g.
 * `ecr:GetAuthorizationToken`, `cloudwatch:PutMetricData`); those stay allowed when the action
 * itself is named.
 */
export function leastPrivilegeViolations(doc: PolicyDocument): string[] {
  const problems: string[] = [];
  doc.Statement.forEach((s, i) => {
    if (s.Effect !== 'Allow') return;
    const label = s.Sid ?? `statement ${i}`;
    const actions = list(s.Action);
    const resources = list(s.Resource);
    if (actions.length === 0 || resources.length === 0) problems.push(`${label}: empty Action or Resource`);
    for (const action of actions) {
      if (action === '*') problems.push(`${label}: Action "*"`);
      else if (action.endsWith(':*') && resources.includes('*')) problems.push(`${label}: ${action} on Resource "*"`);
    }
  });
  return problems;
}

export function assertLeastPrivilege(doc: PolicyDocument, policyName: string): string {
  const problems = leastPrivilegeViolations(doc);
  if (problems.length > 0) throw new LeastPrivilegeError(`${policyName}: ${problems.join('; ')}`);
  return JSON.stringify(doc);
}

/** Trust policy letting one AWS service assume a role. */
export function serviceTrustPolicy(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });
}
