import * as pulumi from '@pulumi/pulumi';

/** One resource as the engine saw it: its type token, logical name and resolved inputs. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
}

export interface MockHarness {
  readonly resources: RecordedResource[];
  ofType(type: string): RecordedResource[];
  one(type: string, nameIncludes?: string): RecordedResource;
  /** Resolves once every pending registration has reached the mock monitor. */
  settle(): Promise<void>;
}

/** Computed outputs that components read, shaped as the provider would return them. */
const OUTPUTS_BY_TYPE: Record<string, (name: string, inputs: Record<string, unknown>) => Record<string, unknown>> = {
  // AWS completes a bucketPrefix with a unique suffix.
  'aws:s3/bucket:Bucket': (name, inputs) => ({ bucket: inputs.bucket ?? `${String(inputs.bucketPrefix ?? name)}20261130000000000000000001` }),
  'aws:acm/certificate:Certificate': (name) => ({ domainValidationOptions: [{ domainName: '*.x', resourceRecordName: `_v.${name}`, resourceRecordType: 'CNAME', resourceRecordValue: `_v.acm` }] }),
  'aws:rds/instance:Instance': (name) => ({ masterUserSecrets: [{ secretArn: `arn:aws:secretsmanager:mock:123456789012:secret:${name}` }], endpoint: `${name}.rds:5432`, address: `${name}.rds`, port: 5432 }),
  'aws:lb/loadBalancer:LoadBalancer': (name) => ({ dnsName: `${name}.elb.amazonaws.com`, zoneId: 'ZALB', arnSuffix: `app/${name}/1` }),
  'aws:elasticache/replicationGroup:ReplicationGroup': (name) => ({ primaryEndpointAddress: `${name}.cache` }),
  'aws:ecr/repository:Repository': (name) => ({ repositoryUrl: `123456789012.dkr.ecr.mock.amazonaws.com/${name}` }),
};

/**
 * Installs Pulumi's mock monitor. Inputs are recorded as registered (after Pulumi resolved
 * them) so tests assert on what would be sent to AWS and Cloudflare, not on our own objects.
 */
export async function installMocks(): Promise<MockHarness> {
  const resources: RecordedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: unwrapSecrets(args.inputs) as Record<string, any> });
        const id = `${args.name}-id`;
        // ARN-shaped outputs let policy documents built from them look like the real thing.
        const arn = `arn:aws:mock:${args.inputs.region ?? 'eu-west-1'}:123456789012:${args.name}`;
        return { id, state: { ...args.inputs, arn, id, name: args.inputs.name ?? args.name, ...OUTPUTS_BY_TYPE[args.type]?.(args.name, args.inputs) } };
      },
      call(args) {
        if (args.token === 'aws:index/getAvailabilityZones:getAvailabilityZones') {
          // The zones come from the provider the call went through, as in AWS: a component
          // that forgot its region's provider would get another region's zones.
          const region = /::aws-([a-z]{2}-[a-z]+-\d)::/.exec(args.provider ?? '')?.[1] ?? 'no-provider';
          return { names: ['a', 'b', 'c'].map((s) => `${region}${s}`) };
        }
        if (args.token === 'aws:index/getCallerIdentity:getCallerIdentity') return { accountId: '123456789012' };
        return args.inputs;
      },
    },
    'atlas',
    'test',
  );
  const settle = async (): Promise<void> => {
    // The runtime tracks outstanding RPCs; draining that queue twice covers registrations
    // queued by the first wave (children created inside apply callbacks).
    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs;
    await waitForRPCs();
    await waitForRPCs();
  };
  return {
    resources,
    ofType: (type) => resources.filter((r) => r.type === type),
    one(type, nameIncludes) {
      const found = resources.filter((r) => r.type === type && (nameIncludes === undefined || r.name.includes(nameIncludes)));
      if (found.length !== 1) throw new Error(`expected one ${type}${nameIncludes ? ` named *${nameIncludes}*` : ''}, found ${found.length}: ${found.map((r) => r.name).join(', ')}`);
      return found[0]!;
    },
    settle,
  };
}

/** Pulumi's wire marker for secret values. */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';

function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  // Assets and archives arrive as class instances; keep them so tests can read their path.
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const obj = value as Record<string, unknown>;
    if (obj[SECRET_SIG] === '1b47061264138c4ac30d75fd1eb44270') return unwrapSecrets(obj.value);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}
