import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileBodyStore } from '../src/lib/body-store';
import { REGION_IDS, startRegionApp, type RegionApp } from '../../../test/support/regions';

describe.each(REGION_IDS)('CRM API in %s', (region) => {
  let r: RegionApp;
  let orgId: string;

  beforeAll(async () => {
    r = await startRegionApp(region);
    const res = await r.authed(orgId).inject({ method: 'POST', url: '/api/orgs', payload: { name: `Agency ${region}`, homeRegion: region } });
    expect(res.statusCode).toBe(201);
    orgId = res.json().id;
  });
  afterAll(() => r.close());

  it('creates an organization homed in the region, with the region in its id', async () => {
    const res = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: orgId, homeRegion: region, originRegion: region });
    const code = { 'eu-west-1': 'euw1', 'us-east-1': 'use1', 'ap-southeast-1': 'apse1' }[region];
    expect(orgId.startsWith(`org_${code}_`)).toBe(true);
  });

  it('creates, reads, updates, lists and deletes dossiers', async () => {
    const created = await r.authed(orgId).inject({
      method: 'POST',
      url: `/api/orgs/${orgId}/dossiers`,
      payload: { title: 'Sale of a flat', clientName: 'Ada Martin', clientEmail: 'ada@example.org' },
    });
    expect(created.statusCode).toBe(201);
    const dossier = created.json();
    expect(dossier).toMatchObject({ title: 'Sale of a flat', region, orgId, status: 'open' });

    const read = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers/${dossier.id}` });
    expect(read.json().clientEmail).toBe('ada@example.org');

    const patched = await r.authed(orgId).inject({ method: 'PATCH', url: `/api/orgs/${orgId}/dossiers/${dossier.id}`, payload: { status: 'won' } });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().status).toBe('won');
    expect(new Date(patched.json().updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(dossier.updatedAt).getTime());

    const listed = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers?status=won` });
    expect(listed.json().items.map((d: { id: string }) => d.id)).toContain(dossier.id);

    const deleted = await r.authed(orgId).inject({ method: 'DELETE', url: `/api/orgs/${orgId}/dossiers/${dossier.id}` });
    expect(deleted.statusCode).toBe(204);
    const gone = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/dossiers/${dossier.id}` });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('ATLAS_ERR_NOT_FOUND');
  });

  it('pages through dossiers newest first without gaps or repeats', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await r.authed(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: `Paging ${i}`, reference: `PG-${i}` } });
      ids.push(res.json().id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/orgs/${orgId}/dossiers?q=Paging&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await r.authed(orgId).inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.items.length).toBeLessThanOrEqual(3);
      seen.push(...body.items.map((d: { id: string }) => d.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('filters listings by price and links them only to dossiers of the same organization', async () => {
    const dossier = (await r.authed(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 'Listing owner' } })).json();
    for (const price of [100_000, 250_000, 400_000]) {
      const res = await r.authed(orgId).inject({
        method: 'POST',
        url: `/api/orgs/${orgId}/annonces`,
        payload: { title: `Flat at ${price}`, price, city: 'Lyon', country: 'FR', dossierId: dossier.id, surfaceM2: 52.5 },
      });
      expect(res.statusCode).toBe(201);
      expect(res.json().price).toBe(price);
    }
    const res = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/annonces?minPrice=200000&maxPrice=300000` });
    expect(res.json().items.map((a: { price: number }) => a.price)).toEqual([250_000]);

    const other = (await r.authed(orgId).inject({ method: 'POST', url: '/api/orgs', payload: { name: 'Other agency', homeRegion: region } })).json();
    const foreignLink = await r.authed(orgId).inject({
      method: 'POST',
      url: `/api/orgs/${other.id}/annonces`,
      payload: { title: 'Sneaky', dossierId: dossier.id },
    });
    expect(foreignLink.statusCode).toBe(400);
    const count = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${other.id}/annonces` });
    expect(count.json().items).toEqual([]);
  });

  it('records activities on a dossier timeline', async () => {
    const dossier = (await r.authed(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/dossiers`, payload: { title: 'Timeline' } })).json();
    const res = await r.authed(orgId).inject({
      method: 'POST',
      url: `/api/orgs/${orgId}/activities`,
      payload: { kind: 'visit', subject: 'First visit', dossierId: dossier.id, occurredAt: '2026-05-01T10:00:00Z' },
    });
    expect(res.statusCode).toBe(201);
    const list = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/activities?dossierId=${dossier.id}` });
    expect(list.json().items).toHaveLength(1);
    expect(list.json().items[0]).toMatchObject({ kind: 'visit', occurredAt: '2026-05-01T10:00:00.000Z' });
  });

  it('uploads and downloads a document body, encrypted at rest', async () => {
    const meta = await r.authed(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/documents`, payload: { filename: 'mandate.pdf', contentType: 'application/pdf' } });
    expect(meta.statusCode).toBe(201);
    expect(meta.json().uploaded).toBe(false);
    const id = meta.json().id;
    const body = Buffer.from(`%PDF-1.7 mandate of ${region} ${'x'.repeat(5000)}`);
    const up = await r.authed(orgId).inject({ method: 'PUT', url: `/api/orgs/${orgId}/documents/${id}/content`, payload: body, headers: { 'content-type': 'application/pdf' } });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toMatchObject({ uploaded: true, sizeBytes: body.length });
    const down = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/documents/${id}/content` });
    expect(down.statusCode).toBe(200);
    expect(down.headers['content-type']).toBe('application/pdf');
    expect(Buffer.compare(down.rawPayload, body)).toBe(0);

    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const onDisk = await readFile(join((r.app.atlas.documents.bodies as FileBodyStore).root, orgId, `${id}.bin`));
    expect(onDisk.includes(Buffer.from('mandate of'))).toBe(false);

    expect((await r.authed(orgId).inject({ method: 'DELETE', url: `/api/orgs/${orgId}/documents/${id}` })).statusCode).toBe(204);
    await expect(readFile(join((r.app.atlas.documents.bodies as FileBodyStore).root, orgId, `${id}.bin`))).rejects.toThrow(/ENOENT/);
  });

  it('keeps users\' personal fields in the region and only a keyed hash globally', async () => {
    const res = await r.authed(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/users`, payload: { email: 'Jo.Doe@Example.org', fullName: 'Jo Doe', role: 'agent' } });
    expect(res.statusCode).toBe(201);
    const user = res.json();
    expect(user).toMatchObject({ email: 'jo.doe@example.org', fullName: 'Jo Doe', role: 'agent' });
    const dup = await r.authed(orgId).inject({ method: 'POST', url: `/api/orgs/${orgId}/users`, payload: { email: 'jo.doe@example.org', fullName: 'Again', role: 'viewer' } });
    expect(dup.statusCode).toBe(409);
    const prefs = await r.authed(orgId).inject({ method: 'PUT', url: `/api/users/${user.id}/preferences`, payload: { locale: 'fr-FR', timezone: 'Europe/Paris', theme: 'dark' } });
    expect(prefs.statusCode).toBe(200);
    expect((await r.authed(orgId).inject({ method: 'GET', url: `/api/users/${user.id}/preferences` })).json()).toMatchObject({ locale: 'fr-FR', theme: 'dark' });
    const audit = await r.authed(orgId).inject({ method: 'GET', url: `/api/orgs/${orgId}/audit-events?entity=user` });
    expect(audit.json().items.map((e: { action: string; entityId: string }) => [e.action, e.entityId])).toContainEqual(['create', user.id]);
  });

  it('serves reference data and tombstones deletions', async () => {
    const kind = `type_${region.replaceAll('-', '_')}`;
    expect((await r.authed(orgId).inject({ method: 'PUT', url: `/api/referential/${kind}/flat`, payload: { label: 'Flat', sortOrder: 1 } })).statusCode).toBe(200);
    expect((await r.authed(orgId).inject({ method: 'PUT', url: `/api/referential/${kind}/house`, payload: { label: 'House', sortOrder: 2 } })).statusCode).toBe(200);
    expect((await r.authed(orgId).inject({ method: 'DELETE', url: `/api/referential/${kind}/flat` })).statusCode).toBe(204);
    const list = await r.authed(orgId).inject({ method: 'GET', url: `/api/referential/${kind}` });
    expect(list.json().items.map((e: { code: string }) => e.code)).toEqual(['house']);
  });
});
