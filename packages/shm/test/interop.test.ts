import { list, Segment } from '@xshm/shm';
import { python, run, testLeavesNoSegmentBehind } from './helpers';

// Checked against tools no one here wrote: Python's sysv_ipc (a C extension over the same calls),
// and util-linux's ipcmk, ipcs and ipcrm.

let nextKey = 0x5e910000 + (process.pid % 0x1000) * 0x10;
const freshKey = () => nextKey++;

function py(source: string) {
  const result = run(python, ['-c', `import sysv_ipc, json\n${source}`]);
  if (result.status !== 0) throw new Error(`python failed: ${result.stderr}`);
  return { ...result, json: JSON.parse(result.stdout) };
}

function ok(command: string, args: string[]) {
  const result = run(command, args);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

describe('Python sysv_ipc', () => {
  test('Python creates and writes; Node opens by key and by id, reads, writes; Python reads that', () => {
    const key = freshKey();
    const made = py(`
m = sysv_ipc.SharedMemory(${key}, sysv_ipc.IPC_CREX, mode=0o640, size=8192)
m.write(b'from python', 10)
print(json.dumps({"id": m.id, "key": m.key, "size": m.size}))`);
    const seg = Segment.open({ key });
    try {
      expect(made.json).toEqual({ id: seg.id, key, size: 8192 });
      expect(Segment.open(made.json.id).size).toBe(8192);
      expect(seg.stat()).toMatchObject({ mode: 0o640, cpid: made.pid, nattch: 0 });
      const text = Buffer.alloc(11);
      seg.read(text, 10);
      expect(text.toString()).toBe('from python');
      seg.write(Buffer.from('from node'), 100);
      const back = py(`
m = sysv_ipc.attach(${seg.id})
print(json.dumps(m.read(9, offset=100).decode()))`);
      expect(back.json).toBe('from node');
    } finally {
      seg[Symbol.dispose]();
      seg.destroy();
    }
  });

  test('Node creates (key above 2^31, as the kernel signs it); Python reads, writes back and removes it', () => {
    const key = 0xfd000000 + (process.pid % 0x10000);
    const seg = Segment.create(4096, { key, mode: 0o600 });
    const attachment = seg.attach();
    try {
      attachment.buffer.write('from node', 0);
      const seen = py(`
m = sysv_ipc.SharedMemory(${seg.key})
data = m.read(9, offset=0).decode()
m.write(b'from python', 20)
info = {"id": m.id, "key": m.key, "size": m.size, "mode": m.mode, "nattch": m.number_attached, "data": data}
m.detach()
m.remove()
print(json.dumps(info))`);
      expect(seen.json).toEqual({
        id: seg.id,
        key: key | 0,
        size: 4096,
        mode: 0o600,
        nattch: 2,
        data: 'from node',
      });
      expect(attachment.buffer.toString('latin1', 20, 31)).toBe('from python');
      expect(seg.stat()).toMatchObject({ removed: true, nattch: 1 });
    } finally {
      attachment.detach();
    }
    expect(list().some((info) => info.id === seg.id)).toBe(false);
  });
});

describe('ipcmk, ipcs, ipcrm', () => {
  test('ipcmk makes a segment; Node sees what ipcs -i says; ipcrm -m removes it', () => {
    const made = ok('ipcmk', ['-M', '12K', '-p', '0640']);
    const id = Number(/Shared memory id: (\d+)/.exec(made.stdout)?.[1]);
    const seg = Segment.open(id);
    seg.write(Buffer.from('node was here'));
    seg[Symbol.dispose]();
    const detail = ok('ipcs', ['-m', '-i', String(id)]).stdout;
    const field = (name: string) => new RegExp(`${name}=(\\S+)`).exec(detail)?.[1];
    const info = seg.stat();
    expect(info).toMatchObject({ size: 12_288, mode: 0o640, cpid: made.pid, lpid: process.pid, nattch: 0 });
    expect(field('bytes')).toBe(String(info.size));
    expect(field('mode')).toBe('0640');
    expect(field('cpid')).toBe(String(info.cpid));
    expect(field('lpid')).toBe(String(info.lpid));
    expect(field('uid')).toBe(String(info.uid));
    ok('ipcrm', ['-m', String(id)]);
    expect(() => Segment.open(id)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('ipcs -m shows what Node made (key in hex, perms, bytes, nattch, dest); ipcrm -M removes by key', () => {
    const key = freshKey();
    const seg = Segment.create(5000, { key, mode: 0o604 });
    const attachment = seg.attach();
    try {
      const row = () =>
        ok('ipcs', ['-m'])
          .stdout.split('\n')
          .map((line) => line.trim().split(/\s+/))
          .find((fields) => fields[1] === String(seg.id));
      expect(row()?.slice(0, 6)).toEqual([
        `0x${key.toString(16).padStart(8, '0')}`,
        String(seg.id),
        'root',
        '604',
        '5000',
        '1',
      ]);
      ok('ipcrm', ['-M', `0x${key.toString(16)}`]);
      expect(row()?.[6]).toBe('dest');
      expect(seg.stat().removed).toBe(true);
    } finally {
      attachment.detach();
    }
    expect(list().some((info) => info.id === seg.id)).toBe(false);
  });

  test('list() and ipcs -m agree on a private segment', () => {
    const seg = Segment.create(777, { mode: 0o644 });
    try {
      const ours = list().find((info) => info.id === seg.id);
      const rows = ok('ipcs', ['-m'])
        .stdout.split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((fields) => /^0x[0-9a-f]+$/.test(fields[0] ?? ''));
      const row = rows.find((fields) => fields[1] === String(seg.id));
      expect(row?.slice(0, 6)).toEqual(['0x00000000', String(seg.id), 'root', '644', '777', '0']);
      expect(ours).toMatchObject({ key: 0, mode: 0o644, size: 777, nattch: 0 });
    } finally {
      seg.destroy();
    }
  });
});

testLeavesNoSegmentBehind();
