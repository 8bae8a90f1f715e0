import { readFileSync } from 'node:fs';
import { type Attachment, list, pageSize, Segment, ShmError, shmmax } from '@xshm/shm';
import { testLeavesNoSegmentBehind } from './helpers';

/** A fresh key per test, from a range unlikely to be anyone else's. */
let nextKey = 0x5e900000 + (process.pid % 0x1000) * 0x40;
const freshKey = () => nextKey++;

describe('create and open', () => {
  test('a private segment: id, key 0, exact size, mode 0600 by default', () => {
    const seg = Segment.create(10_000);
    try {
      expect(seg.key).toBe(0);
      expect(seg.size).toBe(10_000);
      const info = seg.stat();
      expect(info).toMatchObject({ id: seg.id, key: 0, size: 10_000, mode: 0o600, nattch: 0 });
      expect(info).toMatchObject({ uid: process.getuid!(), cuid: process.getuid!(), cpid: process.pid });
      expect(info).toMatchObject({ atime: null, dtime: null, removed: false, locked: false });
      expect(info.ctime).toBeInstanceOf(Date);
      expect(Math.abs(info.ctime.getTime() - Date.now())).toBeLessThan(5000);
    } finally {
      seg.destroy();
    }
  });

  test('with a key: open by key and by id; exclusive by default; exclusive: false opens it', () => {
    const key = freshKey();
    const seg = Segment.create(4096, { key, mode: 0o640 });
    try {
      expect(seg.key).toBe(key);
      expect(Segment.open({ key }).id).toBe(seg.id);
      expect(Segment.open(seg.id).size).toBe(4096);
      expect(seg.stat().mode).toBe(0o640);
      expect(() => Segment.create(4096, { key })).toThrow(
        expect.objectContaining({ name: 'ShmError', code: 'EEXIST', syscall: 'shmget' }),
      );
      expect(Segment.create(100, { key, exclusive: false }).id).toBe(seg.id);
    } finally {
      seg.destroy();
    }
    expect(() => Segment.open({ key })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  test('keys above 2^31 are the same C int as their signed form, which is what the kernel shows', () => {
    const key = 0xfe000000 + (process.pid % 0x10000);
    const seg = Segment.create(4096, { key });
    try {
      expect(seg.key).toBe(key | 0);
      expect(Segment.open({ key: key | 0 }).id).toBe(seg.id);
      expect(list().find((info) => info.id === seg.id)?.key).toBe(key | 0);
    } finally {
      seg.destroy();
    }
  });

  test('error messages name the call and say what to do', () => {
    const key = freshKey();
    const seg = Segment.create(4096, { key });
    try {
      const error = captureError(() => Segment.create(8192, { key, exclusive: false }));
      expect(error).toBeInstanceOf(ShmError);
      expect(error.code).toBe('EINVAL');
      expect(error.message).toContain(`shmget(key=0x${key.toString(16).padStart(8, '0')}, size=8192`);
      expect(error.message).toContain(`exists (id ${seg.id}) with only 4096 bytes`);
    } finally {
      seg.destroy();
    }
    const missing = captureError(() => Segment.open({ key }));
    expect(missing.message).toMatch(/ENOENT — there is no segment with key 0x[0-9a-f]{8}; create one with/);
  });

  test('hugePages and noReserve reach shmget', () => {
    const noReserve = Segment.create(1 << 20, { noReserve: true });
    noReserve.destroy();
    const hugePages = Number(readFileSync('/proc/sys/vm/nr_hugepages', 'latin1'));
    if (hugePages === 0) {
      // No huge pages configured: the kernel refuses, and says so through ShmError.
      expect(() => Segment.create(2 << 20, { hugePages: true })).toThrow(ShmError);
      return;
    }
    const seg = Segment.create(2 << 20, { hugePages: true });
    try {
      const attachment = seg.attach();
      attachment.buffer[0] = 1;
      attachment.detach();
      expect(seg.stat().nattch).toBe(0);
      expect(attachment.buffer[0]).toBe(0);
    } finally {
      seg.destroy();
    }
  });

  test('pageSize and shmmax() come from the system', () => {
    expect(pageSize).toBeGreaterThanOrEqual(4096);
    const limit = BigInt(readFileSync('/proc/sys/kernel/shmmax', 'latin1').trim());
    expect(shmmax()).toBe(limit > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(limit));
  });
});

describe('attach', () => {
  /** Minor page faults taken while reading one byte of every page of `buffer`. */
  const faultsReading = (buffer: Buffer): number => {
    const before = process.resourceUsage().minorPageFault;
    let sum = 0;
    for (let i = 0; i < buffer.length; i += pageSize) sum += buffer[i]!;
    expect(sum).toBe(0);
    return process.resourceUsage().minorPageFault - before;
  };

  test('populate() maps the pages in one call: reading them afterwards takes (almost) no page faults', () => {
    const size = 8 * 1024 * 1024;
    const pages = size / pageSize;
    const seg = Segment.create(size);
    const attached: Attachment[] = [];
    const attach = (options?: { readOnly: boolean }): Attachment => {
      const attachment = seg.attach(options);
      attached.push(attachment);
      return attachment;
    };
    // The counts are the process's: other threads (the GC, jest) fault a few pages meanwhile, hence the
    // margins; one fault a page without populate(), next to none with it.
    try {
      // The yardstick: a fresh attachment faults once per page on first reading.
      const plain = attach({ readOnly: true });
      expect(faultsReading(plain.buffer)).toBeGreaterThan(pages * 0.9);
      // The fewest of three tries, each on a fresh attachment: another thread's burst of faults (the GC, a
      // jest worker) lands in one try, never in all three, while populate() not working shows in every one.
      const fewest = (measure: () => number): number => Math.min(measure(), measure(), measure());
      expect(
        fewest(() => {
          const populated = attach();
          populated.populate();
          return faultsReading(populated.buffer);
        }),
      ).toBeLessThan(pages * 0.25);
      // Part of it, as a write; a length past the end stops at the end.
      let part: Attachment | undefined;
      expect(
        fewest(() => {
          const fresh = attach();
          part = fresh;
          fresh.populate({ length: size / 2, write: true });
          return faultsReading(fresh.buffer.subarray(0, size / 2));
        }),
      ).toBeLessThan(pages * 0.25);
      attach().populate({ length: size * 4 });
      expect(() => plain.populate({ write: true })).toThrow(/read-only attachment/);
      // Detached: nothing to map, and no error.
      part!.detach();
      part!.populate();
    } finally {
      for (const attachment of attached) attachment.detach();
      seg.destroy();
    }
  });

  test('several attachments alias the same memory; each buffer is exactly the segment size', () => {
    const seg = Segment.create(10_000);
    try {
      const first = seg.attach();
      const second = seg.attach({ readOnly: true });
      expect(first.buffer.length).toBe(10_000);
      expect(second.buffer.length).toBe(10_000);
      expect(second.readOnly).toBe(true);
      first.buffer.write('hello', 100);
      expect(second.buffer.toString('latin1', 100, 105)).toBe('hello');
      expect(seg.stat().nattch).toBe(2);
      first.detach();
      first.detach(); // idempotent
      expect(first.attached).toBe(false);
      expect(seg.stat().nattch).toBe(1);
      second.detach();
      expect(seg.stat()).toMatchObject({ nattch: 0, lpid: process.pid });
      expect(seg.stat().atime).toBeInstanceOf(Date);
      expect(seg.stat().dtime).toBeInstanceOf(Date);
    } finally {
      seg.destroy();
    }
  });

  test('after detach, the old buffer reads zeros and takes writes that reach no one', () => {
    const seg = Segment.create(4096);
    try {
      const attachment = seg.attach();
      attachment.buffer.fill(7);
      attachment.detach();
      expect(attachment.buffer.every((byte) => byte === 0)).toBe(true);
      attachment.buffer.fill(9);
      const check = Buffer.alloc(4096);
      seg.read(check);
      expect(check.every((byte) => byte === 7)).toBe(true);
    } finally {
      seg.destroy();
    }
  });

  test('using: an Attachment and a Segment detach at the end of the block', () => {
    const seg = Segment.create(4096);
    try {
      {
        using attachment = seg.attach();
        attachment.buffer[0] = 1;
        expect(seg.stat().nattch).toBe(1);
      }
      expect(seg.stat().nattch).toBe(0);
      {
        using opened = Segment.open(seg.id);
        opened.attach();
        opened.attach({ readOnly: true });
        opened.write(Buffer.from([2]));
        expect(seg.stat().nattch).toBe(3);
      }
      expect(seg.stat().nattch).toBe(0);
    } finally {
      seg.destroy();
    }
  });

  test('destroy while attached: removed, still usable, gone after the last detach', () => {
    const seg = Segment.create(4096);
    const attachment = seg.attach();
    seg.destroy();
    seg.destroy(); // again: nothing
    expect(seg.stat()).toMatchObject({ removed: true, nattch: 1 });
    expect(list().find((info) => info.id === seg.id)?.removed).toBe(true);
    attachment.buffer[0] = 1;
    attachment.detach();
    expect(() => seg.stat()).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('read and write', () => {
  test('copy in and out at a position; reads are short at the end, like fs.readSync', () => {
    const seg = Segment.create(100);
    try {
      expect(seg.write(Buffer.from('abcde'), 95)).toBe(5);
      const target = Buffer.alloc(10);
      expect(seg.read(target, 95)).toBe(5);
      expect(target.toString('latin1', 0, 5)).toBe('abcde');
      expect(seg.read(target, 100)).toBe(0);
      expect(seg.write(new Uint16Array([0x4241]), 0)).toBe(2);
      const view = new DataView(new ArrayBuffer(2));
      expect(seg.read(view)).toBe(2);
      expect(view.getUint16(0, true)).toBe(0x4241);
    } finally {
      seg.destroy();
    }
  });

  test('a write that does not fit throws RangeError and writes nothing', () => {
    const seg = Segment.create(16);
    try {
      seg.write(Buffer.alloc(16, 1));
      expect(() => seg.write(Buffer.alloc(8, 2), 10)).toThrow(
        /8 bytes do not fit at position 10 of segment \d+: it holds 16 bytes, so 6 fit there; nothing was written/,
      );
      const check = Buffer.alloc(16);
      seg.read(check);
      expect(check.equals(Buffer.alloc(16, 1))).toBe(true);
    } finally {
      seg.destroy();
    }
  });

  test('read() attaches read-only and keeps it; write() upgrades it to read-write; dispose detaches', () => {
    // /proc/self/maps shows a SysV mapping with the segment id as its inode, and its permissions.
    const mappings = (id: number) =>
      readFileSync('/proc/self/maps', 'latin1')
        .split('\n')
        .map((line) => line.split(/\s+/))
        .filter((fields) => fields[4] === String(id))
        .map((fields) => fields[1]);
    const seg = Segment.create(4096);
    try {
      seg.read(Buffer.alloc(4));
      seg.read(Buffer.alloc(4), 8);
      expect(mappings(seg.id)).toEqual(['r--s']);
      seg.write(Buffer.from([1]));
      seg.read(Buffer.alloc(4));
      expect(mappings(seg.id)).toEqual(['rw-s']);
      expect(seg.stat().nattch).toBe(1);
      seg[Symbol.dispose]();
      expect(mappings(seg.id)).toEqual([]);
      expect(seg.stat().nattch).toBe(0);
    } finally {
      seg.destroy();
    }
  });
});

describe('control', () => {
  test('setMode and setOwner (IPC_SET)', () => {
    const seg = Segment.create(4096);
    try {
      seg.setMode(0o644);
      expect(seg.stat().mode).toBe(0o644);
      seg.setOwner(65534, 65534);
      expect(seg.stat()).toMatchObject({ uid: 65534, gid: 65534, cuid: process.getuid!(), mode: 0o644 });
    } finally {
      seg.destroy();
    }
  });

  test('lock and unlock (SHM_LOCK)', () => {
    const seg = Segment.create(4096);
    try {
      seg.lock();
      expect(seg.stat().locked).toBe(true);
      expect(list().find((info) => info.id === seg.id)?.locked).toBe(true);
      seg.unlock();
      expect(seg.stat().locked).toBe(false);
    } finally {
      seg.destroy();
    }
  });

  test('list() agrees with stat()', () => {
    const seg = Segment.create(12_345, { mode: 0o604 });
    try {
      seg.attach();
      expect(list().find((info) => info.id === seg.id)).toEqual(seg.stat());
    } finally {
      seg[Symbol.dispose]();
      seg.destroy();
    }
  });
});

function captureError(action: () => unknown): ShmError {
  try {
    action();
  } catch (error) {
    return error as ShmError;
  }
  throw new Error('expected an error');
}

testLeavesNoSegmentBehind();
