// Segments past what one Buffer can alias (2^32 bytes on Node 20): koffi.view of such a range aborts
// the whole process, so every path that would map one must refuse it first, with a RangeError that
// says why, and leave no segment behind. Up to the limit they work. SysV segments and memfds are
// backed lazily, so making a 5 GiB one costs nothing until its pages are touched.
import { Memfd, maxMappedSize, Segment } from '@xshm/shm';
import { leftBehind, python, run, runForBytes, shmtoolBin, testLeavesNoSegmentBehind } from './helpers';

const GiB = 2 ** 30;

/** A 0644 segment of `size` bytes made by util-linux's ipcmk (another program), its id. */
function foreignSegment(size: number): number {
  const result = run('ipcmk', ['-M', String(size), '-p', '0644']);
  const id = /Shared memory id: (\d+)/.exec(result.stdout)?.[1];
  if (result.status !== 0 || id === undefined) throw new Error(`ipcmk failed: ${result.stderr}`);
  return Number(id);
}

test('the limit is what Node 20 maps: 2^32 bytes', () => {
  expect(maxMappedSize).toBe(2 ** 32);
});

describe('sizes over the limit are refused before any system call', () => {
  test.each([
    ['2^32 + 1', 2 ** 32 + 1],
    ['5 GiB', 5 * GiB],
  ])('Segment.create(%s): RangeError naming the limit, no segment', (_name, size) => {
    expect(() => Segment.create(size)).toThrow(RangeError);
    expect(() => Segment.create(size)).toThrow(
      /^size must be an integer from 1 to 4294967296 \(the largest Buffer Node maps here/,
    );
    expect(leftBehind()).toEqual([]);
  });

  test('Memfd.create(5 GiB): RangeError', () => {
    expect(() => Memfd.create(5 * GiB)).toThrow(/^size must be an integer from 1 to 4294967296/);
  });
});

describe("another program's 5 GiB segment", () => {
  let id: number;
  beforeAll(() => {
    id = foreignSegment(5 * GiB);
  });
  afterAll(() => {
    Segment.open(id).destroy();
  });

  test('opens and stats; attach, read and read streams refuse it', async () => {
    const seg = Segment.open(id);
    expect(seg.size).toBe(5 * GiB);
    expect(seg.stat().mode).toBe(0o644);
    const refusal = new RegExp(
      `^cannot attach segment ${id}: it is 5368709120 bytes, over the largest Buffer`,
    );
    expect(() => seg.attach({ readOnly: true })).toThrow(refusal);
    expect(() => seg.read(Buffer.alloc(16))).toThrow(refusal);
    expect(() => seg.write(Buffer.alloc(16))).toThrow(refusal);
    await expect(async () => {
      for await (const _ of seg.createReadStream()) {
      }
    }).rejects.toThrow(refusal);
    expect(seg.stat().nattch).toBe(0);
  });

  test('shmtool read ID: exit 1 with the reason, no abort', () => {
    const result = runForBytes(process.execPath, [shmtoolBin, 'read', String(id)]);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(1);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toMatch(/cannot attach segment \d+: it is 5368709120 bytes/);
  });
});

test('shmtool open -s 5G: refused, no abort, no segment', () => {
  const result = runForBytes(process.execPath, [shmtoolBin, 'open', '-s', '5G'], {
    input: Buffer.from('hi\n'),
  });
  expect(result.signal).toBeNull();
  expect(result.status).not.toBe(0);
  expect(result.stderr.toString()).toMatch(/size must be an integer from 1 to 4294967296/);
  expect(leftBehind()).toEqual([]);
});

test('exactly 2^32 bytes: attached whole, the last byte written and read back by Python', () => {
  const seg = Segment.create(2 ** 32);
  try {
    using attachment = seg.attach();
    expect(attachment.buffer.length).toBe(2 ** 32);
    attachment.buffer[2 ** 32 - 1] = 0xa5;
    const result = run(python, [
      '-c',
      `import sysv_ipc\nm = sysv_ipc.attach(${seg.id})\nprint(m.read(1, ${2 ** 32 - 1})[0])`,
    ]);
    expect(result.stdout.trim()).toBe(String(0xa5));
  } finally {
    seg.destroy();
  }
});

testLeavesNoSegmentBehind();
