import { cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Segment } from '@xshm/shm';
import { packageDir, run, testLeavesNoSegmentBehind } from './helpers';

// Another user, for real: root makes segments, and `runuser -u nobody` tries them. nobody may not be
// able to read the checkout (a clone under /root), so the built package and koffi are copied to a
// world-readable directory first.
const isRoot = process.getuid?.() === 0;
const describeAsRoot = isRoot ? describe : describe.skip;

let sandbox: string;

function installForNobody(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'xshm-nobody-'));
  const modules = path.join(dir, 'node_modules');
  const copy = (from: string, to: string) =>
    cpSync(realpathSync(from), path.join(modules, to), { recursive: true });
  for (const part of ['package.json', 'dist', 'bin']) copy(path.join(packageDir, part), `@xshm/shm/${part}`);
  const koffi = path.dirname(realpathSync(require.resolve('koffi', { paths: [packageDir] })));
  copy(koffi, 'koffi');
  // koffi finds its prebuilt binary in the sibling @koromix/koffi-<os>-<arch> package.
  const native = `@koromix/koffi-${process.platform}-${process.arch}`;
  copy(path.join(koffi, '..', native), native);
  run('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

function asNobody(source: string) {
  const program = `const shm = require('@xshm/shm');\n${source}`;
  return run('runuser', ['-u', 'nobody', '--', process.execPath, '-e', program], { cwd: sandbox });
}

function nobodyTries(action: string): { code?: string; message?: string; value?: unknown } {
  const result = asNobody(`
try { console.log(JSON.stringify({ value: (() => { ${action} })() })); }
catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`);
  if (result.status !== 0) throw new Error(`the nobody process failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

describeAsRoot('another user (runuser -u nobody)', () => {
  beforeAll(() => {
    sandbox = installForNobody();
  });
  afterAll(() => {
    rmSync(sandbox, { recursive: true, force: true });
  });

  test('a 0600 segment: EACCES, with the owner, the mode and what to do', () => {
    const seg = Segment.create(4096);
    try {
      const result = nobodyTries(`return shm.Segment.open(${seg.id}).size;`);
      expect(result.code).toBe('EACCES');
      expect(result.message).toBe(
        `shmctl(id=${seg.id}, IPC_STAT): EACCES — segment ${seg.id} belongs to uid 0 (gid 0) with mode 0600, ` +
          'and this process runs as uid 65534 (gid 65534); run as a user its mode grants access to, or have its ' +
          'owner widen the mode (seg.setMode, seg.setOwner)',
      );
      const byKey = Segment.create(4096, { key: 0x5e920000 + (process.pid % 0x10000) });
      try {
        expect(nobodyTries(`return shm.Segment.open({ key: ${byKey.key} }).id;`)).toMatchObject({
          code: 'EACCES',
        });
      } finally {
        byKey.destroy();
      }
    } finally {
      seg.destroy();
    }
  });

  test('a 0644 segment: nobody reads it read-only, but may not attach it read-write, change or remove it', () => {
    const seg = Segment.create(4096, { mode: 0o644 });
    try {
      seg.write(Buffer.from('for everyone'));
      const read = nobodyTries(`
        const att = shm.Segment.open(${seg.id}).attach({ readOnly: true });
        const text = att.buffer.toString('latin1', 0, 12);
        att.detach();
        return text;`);
      expect(read).toEqual({ value: 'for everyone' });
      const copied = nobodyTries(`
        const target = Buffer.alloc(12);
        shm.Segment.open(${seg.id}).read(target);
        return target.toString('latin1');`);
      expect(copied).toEqual({ value: 'for everyone' });
      const readWrite = nobodyTries(`shm.Segment.open(${seg.id}).attach();`);
      expect(readWrite.code).toBe('EACCES');
      expect(readWrite.message).toMatch(
        /^shmat\(id=\d+, read-write\): EACCES — .*with mode 0644.*readOnly: true/,
      );
      expect(nobodyTries(`shm.Segment.open(${seg.id}).setMode(0o666);`)).toMatchObject({ code: 'EPERM' });
      expect(nobodyTries(`shm.Segment.open(${seg.id}).destroy();`)).toMatchObject({ code: 'EPERM' });
      expect(seg.stat()).toMatchObject({ mode: 0o644, removed: false });
    } finally {
      seg.destroy();
    }
  });

  test('shmtool as nobody: exit 1 and the reason on stderr', () => {
    const seg = Segment.create(4096);
    try {
      const bin = path.join(sandbox, 'node_modules', '@xshm', 'shm', 'bin', 'shmtool.js');
      const result = run('runuser', ['-u', 'nobody', '--', process.execPath, bin, 'read', String(seg.id)]);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        /^shmtool: shmctl\(id=\d+, IPC_STAT\): EACCES — segment \d+ belongs to uid 0/,
      );
    } finally {
      seg.destroy();
    }
  });
});

testLeavesNoSegmentBehind();
