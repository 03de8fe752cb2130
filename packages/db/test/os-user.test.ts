import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertReachable, blockedDirectory } from '../src/os-user';

describe('whether the postgres OS user can reach the binaries and data', () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const dir of made) await rm(dir, { recursive: true, force: true });
  });

  it('names the private folder on the way (mktemp -d is 0700) and passes once it is searchable', async () => {
    const root = await mkdtemp(join(tmpdir(), 'atlas-reach-'));
    made.push(root);
    await chmod(root, 0o700);
    const inner = join(root, 'node_modules', 'pg', 'bin');
    await mkdir(inner, { recursive: true, mode: 0o755 });
    const owner = await stat(root);
    const stranger = { uid: owner.uid + 4242, gid: owner.gid + 4242 };
    const binary = join(inner, 'initdb');
    expect(blockedDirectory(binary, stranger)).toBe(root);
    // Its owner may enter; so may its group once the group bit is set.
    expect(blockedDirectory(binary, { uid: owner.uid, gid: stranger.gid })).toBeUndefined();
    await chmod(root, 0o710);
    expect(blockedDirectory(binary, { uid: stranger.uid, gid: owner.gid })).toBeUndefined();
    expect(blockedDirectory(binary, stranger)).toBe(root);
    expect(() => assertReachable([binary], { isRoot: true, ...stranger })).toThrow(new RegExp(`cannot enter ${root} \\(mode 0710\\).*chmod o\\+x ${root}`));
    await chmod(root, 0o711);
    expect(blockedDirectory(binary, stranger)).toBeUndefined();
    expect(() => assertReachable([binary], { isRoot: true, ...stranger })).not.toThrow();
  });

  it('checks nothing when PostgreSQL runs as ourselves', async () => {
    const root = await mkdtemp(join(tmpdir(), 'atlas-reach-'));
    made.push(root);
    await chmod(root, 0o700);
    expect(() => assertReachable([join(root, 'x')], { isRoot: false, uid: 4242, gid: 4242 })).not.toThrow();
  });
});
