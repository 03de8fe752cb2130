/** The publication every region serves its global tables through. */
export const PUBLICATION_NAME = 'atlas_global';

const ident = (region: string): string => region.replaceAll('-', '_');

/**
 * The subscription in region `to` that receives region `from`'s changes. Its replication
 * slot (on `from`) has the same name, so both ends are found from the two region ids alone.
 */
export function subscriptionName(from: string, to: string): string {
  return `atlas_sub_${ident(from)}_to_${ident(to)}`;
}

// Region ids match ^[a-z]{2}-[a-z]+-[0-9]$ (topology schema), so the split is unambiguous.
const SUBSCRIPTION = /^atlas_sub_([a-z]{2}_[a-z]+_[0-9])_to_([a-z]{2}_[a-z]+_[0-9])$/;

/** The two regions of a subscription name (region ids hold no underscore: they come back exact). */
export function parseSubscriptionName(name: string): { readonly from: string; readonly to: string } | undefined {
  const m = SUBSCRIPTION.exec(name);
  if (!m) return undefined;
  return { from: m[1]!.replaceAll('_', '-'), to: m[2]!.replaceAll('_', '-') };
}
