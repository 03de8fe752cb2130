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

/**
 * Installs Pulumi's mock monitor. Inputs are recorded as registered (after Pulumi resolved
 * them) so tests assert on what would be sent to AWS and Cloudflare, not on our own objects.
 */
export async function installMocks(): Promise<MockHarness> {
  const resources: RecordedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const id = `${args.name}-id`;
        // ARN-shaped outputs let policy documents built from them look like the real thing.
        const arn = `arn:aws:mock:${args.inputs.region ?? 'eu-west-1'}:123456789012:${args.name}`;
        return { id, state: { ...args.inputs, arn, id, name: args.inputs.name ?? args.name, dnsName: `${args.name}.elb.amazonaws.com`, zoneId: 'ZALB' } };
      },
      call(args) {
        if (args.token === 'aws:index/getAvailabilityZones:getAvailabilityZones') {
          return { names: ['a', 'b', 'c'].map((s) => `${args.inputs.region ?? 'eu-west-1'}${s}`) };
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
