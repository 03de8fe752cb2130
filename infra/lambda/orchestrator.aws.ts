/**
 * The orchestrator Lambda's cloud side: state in DynamoDB, notifications to SNS, fencing by
 * a forced Multi-AZ failover of the region's RDS instance. Each is a signed call
 * (aws-signed.ts); the tick logic (orchestrator.tick.ts) only sees the interfaces.
 */
import type { FailoverEffect, FailoverEvent, Notification, RegionFailoverState } from '../../packages/orchestrator/src/core/index';
import { AwsCallError, type AwsCallTarget, awsJson, awsQuery } from './aws-signed';
import type { EffectRunner, Notifier, StateStore, StoredState } from './orchestrator.tick';

type AttributeValue = { S: string } | { N: string };
type Item = Record<string, AttributeValue>;

const dynamo = <T>(target: AwsCallTarget, operation: string, body: unknown) => awsJson<T>(target, 'dynamodb', 'DynamoDB_20120810', '1.0', operation, body);

/**
 * Table layout (infra/components/disaster-recovery.component.ts): pk = `region#<id>`;
 * sk = `state` holds the machine state and its version, sk = `step#<time>#<n>` one step.
 */
export class DynamoDbStateStore implements StateStore {
  private seq = 0;
  constructor(
    private readonly target: AwsCallTarget,
    private readonly table: string,
  ) {}

  async load(region: string): Promise<StoredState | undefined> {
    const out = await dynamo<{ Item?: Item }>(this.target, 'GetItem', { TableName: this.table, Key: { pk: { S: `region#${region}` }, sk: { S: 'state' } }, ConsistentRead: true });
    const item = out.Item;
    if (!item) return undefined;
    const state = (item.state as { S: string } | undefined)?.S;
    const version = (item.version as { N: string } | undefined)?.N;
    if (state === undefined || version === undefined) throw new Error(`malformed state item for ${region}`);
    return { state: JSON.parse(state) as RegionFailoverState, version: Number(version) };
  }

  async save(region: string, state: RegionFailoverState, expectedVersion: number): Promise<void> {
    try {
      await dynamo(this.target, 'PutItem', {
        TableName: this.table,
        Item: { pk: { S: `region#${region}` }, sk: { S: 'state' }, state: { S: JSON.stringify(state) }, version: { N: String(expectedVersion + 1) }, phase: { S: state.phase } },
        ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
        ...(expectedVersion === 0 ? {} : { ExpressionAttributeValues: { ':v': { N: String(expectedVersion) } } }),
      });
    } catch (err) {
      if (err instanceof AwsCallError && err.code === 'ConditionalCheckFailedException') throw new Error(`state of ${region} changed concurrently (expected version ${expectedVersion})`);
      throw err;
    }
  }

  async recordStep(region: string, at: number, step: string, status: string, detail: Readonly<Record<string, unknown>>): Promise<void> {
    await dynamo(this.target, 'PutItem', {
      TableName: this.table,
      Item: { pk: { S: `region#${region}` }, sk: { S: `step#${new Date(at).toISOString()}#${this.seq++}` }, step: { S: step }, status: { S: status }, detail: { S: JSON.stringify(detail) } },
    });
  }
}

export class SnsNotifier implements Notifier {
  constructor(
    private readonly target: AwsCallTarget,
    private readonly topicArn: string,
  ) {}

  async publish(region: string, notification: Notification, message: string): Promise<void> {
    await awsQuery(this.target, 'sns', '2010-03-31', 'Publish', { TopicArn: this.topicArn, Subject: `Atlas ${region}: ${notification}`.slice(0, 99), Message: message });
  }
}

/**
 * What the core's effects mean on RDS Multi-AZ. Fencing is a forced failover (reboot with
 * failover): RDS stops the old primary and promotes its synchronous standby, so the promotion
 * that follows is already done. RDS itself rebuilds the standby, keeps the endpoint name (no
 * repointing) and replication is not suspended by hand: those effects are recorded, not acted on.
 */
export class RdsEffects implements EffectRunner {
  constructor(
    private readonly targetFor: (region: string) => AwsCallTarget,
    private readonly instances: Readonly<Record<string, string>>,
    private readonly store: StateStore,
    private readonly now: () => number,
  ) {}

  async run(region: string, effect: FailoverEffect): Promise<FailoverEvent | undefined> {
    switch (effect.kind) {
      case 'fence-primary': {
        const instance = this.instances[region];
        if (!instance) return { type: 'fence-failed', detail: `no RDS instance known for ${region}` };
        try {
          await awsQuery(this.targetFor(region), 'rds', '2014-10-31', 'RebootDBInstance', { DBInstanceIdentifier: instance.split(':').pop()!, ForceFailover: 'true' });
          return { type: 'fence-done', detail: `forced Multi-AZ failover of ${instance}` };
        } catch (err) {
          return { type: 'fence-failed', detail: (err as Error).message };
        }
      }
      case 'promote-standby':
        return { type: 'promote-done', detail: 'promoted by the forced Multi-AZ failover' };
      default:
        await this.store.recordStep(region, this.now(), effect.kind, 'not_run', { reason: 'managed by RDS Multi-AZ in AWS' });
        return undefined;
    }
  }
}
