import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Settings a copied postgresql.auto.conf must never carry over: they override atlas.conf, so
 * a copy that keeps them follows a dead primary or waits for a standby that is not there.
 */
export const STRIPPED_AUTO_SETTINGS = [
  'primary_conninfo',
  'primary_slot_name',
  'synchronous_standby_names',
  'synchronized_standby_slots',
  'port',
] as const;

/** Removes the stripped settings from a postgresql.auto.conf text; other lines are kept. */
export function stripAutoConf(text: string): string {
  const keys = new Set<string>(STRIPPED_AUTO_SETTINGS);
  return text
    .split('\n')
    .filter((line) => {
      const key = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=/.exec(line)?.[1]?.toLowerCase();
      return key === undefined || !keys.has(key);
    })
    .join('\n');
}

export async function stripAutoConfFile(dataDir: string): Promise<void> {
  const file = join(dataDir, 'postgresql.auto.conf');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text !== undefined) await writeFile(file, stripAutoConf(text));
}

/** A libpq conninfo value, quoted when it needs to be. */
function conninfoValue(value: string): string {
  return /^[A-Za-z0-9_.\-]+$/.test(value) ? value : `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

export function conninfo(fields: Readonly<Record<string, string | number>>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

/**
 * The name a region's standby uses everywhere: its application_name (what
 * synchronous_standby_names lists) and its physical slot on the primary. Slot names allow
 * only [a-z0-9_].
 */
export function standbyName(region: string): string {
  return `atlas_standby_${region.replaceAll(/[^a-z0-9]/g, '_')}`;
}

/** A quoted identifier for synchronous_standby_names / synchronized_standby_slots. */
export function quotedName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
