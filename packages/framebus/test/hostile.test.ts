// Rings that break the rules: corrupt headers and descriptors (written by a buggy or hostile process
// that can write the segment), segments too large to map under a ring's key, and bad timestamps. Each
// must be refused with a FrameBusError: never a raw RangeError, a read outside the segment, an abort,
// a wedged ring or a leaked segment.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { maxMappedSize, Segment } from '@xshm/shm';
import { FrameBusError, FrameRing, ringKey } from '../src/index';
import { HEADER, SLOT, SLOT_TABLE_OFFSET } from '../src/layout';
import { SYSTEM_PYTHON, segmentKeys, uniqueName } from './helpers';

const PYTHON_READER = path.join(__dirname, 'fixtures/reader.py');

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const item of open.splice(0).reverse()) item.close();
});
function track<T extends { close(): void }>(item: T): T {
  open.push(item);
  return item;
}

/** A live 4x2 BGRX ring of 3 slots with one frame, and a writable view of its segment to corrupt it. */
function ringWithFrame(label: string) {
  const name = uniqueName(label);
  const ring = track(FrameRing.create({ name, width: 4, height: 2, format: 'BGRX', slots: 3 }));
  ring.publish({ data: Buffer.alloc(32, 9) });
  const raw = track({ attachment: ring.segment.attach(), close: () => raw.attachment.detach() });
  return { name, ring, bytes: raw.attachment.buffer };
}

const slotField = (slot: number, offset: number) => SLOT_TABLE_OFFSET + slot * 64 + offset;

function expectCorrupt(call: () => unknown, detail: RegExp): void {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(FrameBusError);
  expect(thrown).toMatchObject({ code: 'EFORMAT' });
  expect((thrown as Error).message).toMatch(/has a corrupt ring header: /);
  expect((thrown as Error).message).toMatch(detail);
}

describe('a corrupt header is refused at open (EFORMAT), every field checked against the segment', () => {
  const u32 = (offset: number, value: number) => (b: Buffer) => b.writeUInt32LE(value, offset);
  const u64 = (offset: number, value: bigint) => (b: Buffer) => b.writeBigUInt64LE(value, offset);
  test.each<[string, (b: Buffer) => void, RegExp]>([
    ['data_offset 8192', u32(HEADER.dataOffset, 8192), /data_offset is 8192/],
    ['slot_count 1', u32(HEADER.slotCount, 1), /slot_count is 1; it must be 2 to 63/],
    ['slot_count 64', u32(HEADER.slotCount, 64), /slot_count is 64/],
    ['format YUYV', u32(HEADER.format, 0x56595559), /format is 1448695129/],
    ['width 0', u32(HEADER.width, 0), /width is 0; it must be 1 to 32767/],
    ['height 2^32 - 1', u32(HEADER.height, 0xffffffff), /height is 4294967295/],
    ['stride 8 for width 4 BGRX', u32(HEADER.stride, 8), /stride is 8; it must be 16/],
    ['slot_size not a multiple of 4096', u64(HEADER.slotSize, 4100n), /slot_size is 4100/],
    ['slot_size 2^63', u64(HEADER.slotSize, 2n ** 63n), /slots of 9223372036854775808 bytes end at byte/],
    ['slots past the segment', u32(HEADER.slotCount, 4), /its 4 slots of 4096 bytes end at byte 20480, past/],
    ['state 7', u32(HEADER.state, 7), /state is 7/],
    ['producer_pid 2^31', u32(HEADER.producerPid, 2 ** 31), /producer_pid is 2147483648/],
    ['producer_pid 0', u32(HEADER.producerPid, 0), /producer_pid is 0/],
  ])('%s', (_name, corrupt, detail) => {
    const { name, bytes } = ringWithFrame('open');
    corrupt(bytes);
    expectCorrupt(() => FrameRing.open({ name }), detail);
  });
});

describe('a header corrupted after open is refused on the next read, never read outside the segment', () => {
  test.each([63, 3, 0xfffffffe])('latest %i', async (latest) => {
    const { name, bytes } = ringWithFrame('latest');
    const reader = track(FrameRing.open({ name }));
    expect(reader.latest()?.sequence).toBe(1);
    bytes.writeUInt32LE(latest, HEADER.latest);
    const detail = new RegExp(`latest is ${latest}; it must be below slot_count 3`);
    expectCorrupt(() => reader.latest(), detail);
    expectCorrupt(() => reader.peek(), detail);
    await expect(reader.frames().next()).rejects.toThrow(detail);
  });

  test.each<[string, number, number, RegExp]>([
    ['width', SLOT.width, 40_000, /slot 0 describes a 40000x2 frame in a 4x2 ring/],
    ['height', SLOT.height, 3, /slot 0 describes a 4x3 frame/],
    ['stride', SLOT.stride, 1 << 20, /slot 0 describes stride 1048576, not the ring's 16/],
    ['bytes', SLOT.bytes, 0xffffffff, /slot 0 describes 4294967295 bytes/],
    ['format', SLOT.format, 0x31424752, /slot 0 describes format 0x31424752, not the ring's BGRX/],
  ])('descriptor %s', (_name, offset, value, detail) => {
    const { name, bytes } = ringWithFrame('descriptor');
    const reader = track(FrameRing.open({ name }));
    bytes.writeUInt32LE(value, slotField(0, offset));
    expectCorrupt(() => reader.latest(), detail);
    expectCorrupt(() => reader.peek(), detail);
  });

  test('producer_pid 2^31 or state 7 ends frames() with EFORMAT instead of waiting forever', async () => {
    for (const [offset, value, detail] of [
      [HEADER.producerPid, 2 ** 31, /producer_pid is 2147483648/],
      [HEADER.state, 7, /state is 7/],
    ] as const) {
      const { name, bytes } = ringWithFrame('alive');
      const reader = track(FrameRing.open({ name }));
      const frames = reader.frames();
      expect((await frames.next()).value).toMatchObject({ sequence: 1 });
      bytes.writeUInt32LE(value, offset);
      const next = frames.next();
      await expect(next).rejects.toThrow(detail);
    }
  });

  test('the Python reader written from the README refuses the same rings', () => {
    const cases: Array<[(b: Buffer) => void, RegExp]> = [
      [(b) => b.writeUInt32LE(63, HEADER.latest), /latest is 63; it must be below slot_count 3/],
      [(b) => b.writeUInt32LE(40_000, slotField(0, SLOT.width)), /slot 0 describes a 40000x2 frame/],
      [(b) => b.writeUInt32LE(2 ** 31, HEADER.producerPid), /producer_pid is 2147483648/],
      [(b) => b.writeBigUInt64LE(2n ** 40n, HEADER.slotSize), /past the end of the \d+-byte segment/],
    ];
    for (const [corrupt, detail] of cases) {
      const { ring, bytes } = ringWithFrame('python');
      corrupt(bytes);
      const result = spawnSync(SYSTEM_PYTHON, [PYTHON_READER, '--key', String(ring.key), '--timeout', '5'], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.signal).toBeNull();
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/corrupt ring header: /);
      expect(result.stderr).toMatch(detail);
      expect(result.stderr).not.toMatch(/Traceback/);
    }
  });
});

// A C reader that follows include/framebus.h's comment and calls its checks; prints "ok" or what is wrong.
const C_READER = `#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include "framebus.h"
int main(int argc, char **argv) {
  (void)argc;
  int id = shmget((key_t)strtol(argv[1], NULL, 0), 0, 0);
  struct shmid_ds ds;
  if (id < 0 || shmctl(id, IPC_STAT, &ds) != 0) return 2;
  void *segment = shmat(id, NULL, SHM_RDONLY);
  if (segment == (void *)-1) return 2;
  struct framebus_header ring;
  memcpy(&ring, segment, sizeof ring);
  const char *wrong = framebus_check_header(&ring, ds.shm_segsz);
  uint32_t latest = __atomic_load_n(&((struct framebus_header *)segment)->latest, __ATOMIC_ACQUIRE);
  if (!wrong) wrong = framebus_check_latest(&ring, latest);
  if (!wrong && latest != FRAMEBUS_NO_FRAME) {
    struct framebus_slot slot;
    memcpy(&slot, framebus_slots(segment) + latest, sizeof slot);
    wrong = framebus_check_slot(&ring, &slot);
    if (!wrong) {
      unsigned sum = 0;
      const unsigned char *pixels = framebus_payload(segment, &ring, latest);
      for (uint32_t i = 0; i < ring.stride * ring.height; i++) sum += pixels[i];
      printf("ok %u\\n", sum);
      return 0;
    }
  }
  printf("corrupt: %s\\n", wrong);
  return 1;
}
`;

test('a C reader built on include/framebus.h refuses the same rings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'framebus-c-reader-'));
  try {
    writeFileSync(path.join(dir, 'reader.c'), C_READER);
    const binary = path.join(dir, 'reader');
    execFileSync('gcc', [
      '-std=c11',
      '-Wall',
      '-Werror',
      '-I',
      path.join(__dirname, '../include'),
      '-o',
      binary,
      path.join(dir, 'reader.c'),
    ]);
    const cases: Array<[string, (b: Buffer) => void, string]> = [
      ['intact', () => {}, 'ok 288'], // 32 bytes of 9
      ['latest 63', (b) => b.writeUInt32LE(63, HEADER.latest), 'corrupt: latest is not below slot_count'],
      [
        'slot width',
        (b) => b.writeUInt32LE(40_000, slotField(0, SLOT.width)),
        "corrupt: slot size is not the ring's",
      ],
      [
        'slot_size 2^40',
        (b) => b.writeBigUInt64LE(2n ** 40n, HEADER.slotSize),
        'corrupt: the slots end past the end of the segment',
      ],
      [
        'slot_size 2^63',
        (b) => b.writeBigUInt64LE(2n ** 63n, HEADER.slotSize),
        'corrupt: the slots end past the end of the segment',
      ],
      [
        'producer_pid 2^31',
        (b) => b.writeUInt32LE(2 ** 31, HEADER.producerPid),
        'corrupt: producer_pid is not a process id',
      ],
      [
        'stride',
        (b) => b.writeUInt32LE(8, HEADER.stride),
        'corrupt: stride is not width * bytes per pixel, rounded up to 4',
      ],
    ];
    for (const [_name, corrupt, printed] of cases) {
      const { ring, bytes } = ringWithFrame('c-reader');
      corrupt(bytes);
      const result = spawnSync(binary, [String(ring.key)], { encoding: 'utf8' });
      expect([_name, result.stdout.trim()]).toEqual([_name, printed]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('publish and commit with a bad timestamp', () => {
  test.each<[string, unknown]>([
    ['-1n', -1n],
    ['2^64', 2n ** 64n],
    ['a number', 5],
    ['a string', '5'],
  ])('%s: EINVAL, and the ring goes on', (_name, timestamp) => {
    const { name, ring } = ringWithFrame('timestamp');
    const reader = track(FrameRing.open({ name }));
    expect(() => ring.publish({ data: Buffer.alloc(32, 1), timestamp: timestamp as bigint })).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        message: expect.stringContaining('timestamp must be a bigint'),
      }),
    );
    expect(ring.publish({ data: Buffer.alloc(32, 2), timestamp: 7n })).toBe(2);
    const claim = ring.claim();
    expect(() => claim.commit({ timestamp: timestamp as bigint })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    claim.data.fill(3);
    expect(claim.commit({ timestamp: 8n })).toBe(3);
    expect(reader.latest()).toMatchObject({ sequence: 3, timestamp: 8n });
    expect(reader.latest()?.data.every((byte) => byte === 3)).toBe(true);
  });
});

describe('segments too large to map', () => {
  test('FrameRing.create of 32767x32767 BGRX is EINVAL before any segment exists', () => {
    const name = uniqueName('huge');
    expect(() => FrameRing.create({ name, width: 32767, height: 32767, format: 'BGRX' })).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        message: expect.stringMatching(/needs 12884\d+ bytes; a ring is mapped whole/),
      }),
    );
    expect(segmentKeys()).not.toContain(ringKey(name));
  });

  test("another program's 0644 5 GiB segment at a ring's key: open and create are EFORMAT, it is left alone", () => {
    const name = uniqueName('foreign-5g');
    const key = ringKey(name);
    // Made with libc's shmget from Python (sysv_ipc would fill all 5 GiB first).
    const made = spawnSync(
      SYSTEM_PYTHON,
      [
        '-c',
        'import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]\n' +
          `i = libc.shmget(${key}, 5 << 30, 0o1644 | 0o2000)\nprint(i)\nsys.exit(0 if i >= 0 else 1)`,
      ],
      { encoding: 'utf8' },
    );
    expect(made.status).toBe(0);
    const foreign = Segment.open(Number(made.stdout.trim()));
    try {
      expect(foreign.size).toBeGreaterThan(maxMappedSize);
      expect(() => FrameRing.open({ name })).toThrow(
        expect.objectContaining({ code: 'EFORMAT', message: expect.stringContaining('more than any ring') }),
      );
      expect(() => FrameRing.create({ name, width: 4, height: 4, format: 'BGRX' })).toThrow(
        expect.objectContaining({
          code: 'EFORMAT',
          message: expect.stringContaining('another program owns it'),
        }),
      );
      expect(foreign.stat().nattch).toBe(0);
    } finally {
      foreign.destroy();
    }
  });
});
