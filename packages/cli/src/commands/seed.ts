import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Topology } from '@atlas/core';
import { devLogin } from './login';
import { callJson } from '../http';

interface Demo {
  readonly org: string;
  readonly city: string;
  readonly country: string;
  readonly currency: string;
  readonly people: readonly string[];
}

const DEMO: Readonly<Record<string, readonly Demo[]>> = {
  EU: [
    { org: 'Demo Immobilier Lyon', city: 'Lyon', country: 'FR', currency: 'EUR', people: ['Camille Bernard', 'Lucas Petit'] },
    { org: 'Demo Wohnen Berlin', city: 'Berlin', country: 'DE', currency: 'EUR', people: ['Lena Fischer', 'Jonas Weber'] },
  ],
  US: [
    { org: 'Demo Realty Boston', city: 'Boston', country: 'US', currency: 'USD', people: ['Emma Johnson', 'Noah Williams'] },
    { org: 'Demo Homes Austin', city: 'Austin', country: 'US', currency: 'USD', people: ['Olivia Brown', 'Liam Davis'] },
  ],
  APAC: [
    { org: 'Demo Property Singapore', city: 'Singapore', country: 'SG', currency: 'SGD', people: ['Wei Ling Tan', 'Arjun Nair'] },
    { org: 'Demo Estates Sydney', city: 'Sydney', country: 'AU', currency: 'AUD', people: ['Charlotte Wilson', 'Jack Taylor'] },
  ],
};

const call = callJson;

/**
 * `atlas seed`: demo organizations in each region, each created at its home region's API with
 * users, dossiers, listings and activities. Organizations already there (by name) are skipped.
 */
export async function seed(options: { home: string; topology: Topology; log: (line: string) => void }): Promise<void> {
  // Organizations are private to their members, so what was seeded is remembered here.
  const ledger = join(options.home, 'seeded.json');
  const seeded = JSON.parse(await readFile(ledger, 'utf8').catch(() => '{}')) as Record<string, string>;
  for (const region of options.topology.regions) {
    const api = `http://127.0.0.1:${region.apiPort}`;
    for (const demo of DEMO[region.jurisdiction] ?? []) {
      const name = `${demo.org} (${region.id})`;
      if (seeded[name]) {
        options.log(`${region.id}: ${name} already seeded (${seeded[name]})`);
        continue;
      }
      const org = await call<{ id: string }>('POST', `${api}/api/orgs`, { name, homeRegion: region.id });
      const base = `${api}/api/orgs/${org.id}`;
      const emails = demo.people.map((person) => `${person.toLowerCase().replace(/[^a-z]+/g, '.')}@demo.example`);
      // An organization without users signs its first member in as its bootstrap admin.
      const { token } = await devLogin(options.topology, org.id, emails[0]!);
      for (const [i, person] of demo.people.entries()) {
        await call('POST', `${base}/users`, { email: emails[i], fullName: person, role: i === 0 ? 'admin' : 'agent' }, token);
      }
      for (let d = 1; d <= 5; d++) {
        const dossier = await call<{ id: string }>('POST', `${base}/dossiers`, {
          title: `${demo.city} case ${d}`,
          reference: `${region.code.toUpperCase()}-${d.toString().padStart(4, '0')}`,
          status: (['open', 'in_progress', 'won', 'open', 'lost'] as const)[d - 1],
          clientName: `Client ${d} of ${demo.city}`,
        }, token);
        await call('POST', `${base}/annonces`, {
          title: `${d + 1}-room flat in ${demo.city}`,
          dossierId: dossier.id,
          price: 150_000 + d * 45_000,
          currency: demo.currency,
          surfaceM2: 40 + d * 12,
          rooms: d + 1,
          city: demo.city,
          country: demo.country,
          status: d % 2 ? 'published' : 'draft',
        }, token);
        await call('POST', `${base}/activities`, { kind: 'call', subject: `First call about case ${d}`, dossierId: dossier.id }, token);
        await call('POST', `${base}/activities`, { kind: 'visit', subject: `Visit for case ${d}`, dossierId: dossier.id }, token);
      }
      seeded[name] = org.id;
      await writeFile(ledger, `${JSON.stringify(seeded, null, 2)}\n`);
      options.log(`${region.id}: seeded ${name} (${org.id}): 2 users, 5 dossiers, 5 listings, 10 activities`);
    }
  }
}
