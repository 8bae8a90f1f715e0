// The ring in one process: layout, names, claim/commit, publish, latest, peek, frames(),
// errors before any system call, and the lifetime rules that need no second process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Segment } from '@xshm/shm';
import { FrameBusError, FrameRing, ringKey } from '../src/index';
import { HEADER, SLOT, SLOT_DESCRIPTOR_SIZE, SLOT_TABLE_OFFSET } from '../src/layout';
import { segmentKeys, uniqueName } from './helpers';

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const item of open.splice(0).reverse()) item.close();
});
function track<T extends { close(): void }>(item: T): T {
  open.push(item);
  return item;
}

describe('names and layout', () => {
  test('a name hashes to the documented key, the same in C (include/framebus.h)', () => {
    expect(ringKey('desktop')).toBe(0x62de602e);
    const dir = mkdtempSync(path.join(tmpdir(), 'framebus-c-'));
    try {
      writeFileSync(
        path.join(dir, 'probe.c'),
        `#include <stdio.h>
#include "framebus.h"
int main(void) {
  printf("%u %zu %zu %zu %zu %zu %zu\\n", (unsigned)framebus_key("desktop"),
    offsetof(struct framebus_header, sequence), offsetof(struct framebus_header, latest),
    offsetof(struct framebus_header, producer_pid), offsetof(struct framebus_slot, frame),
    offsetof(struct framebus_slot, timestamp_ns), offsetof(struct framebus_slot, bytes));
  return 0;
}
`,
      );
      execFileSync('gcc', [
        '-std=c11',
        '-Wall',
        '-Werror',
        '-I',
        path.join(__dirname, '../include'),
        '-o',
        path.join(dir, 'probe'),
        path.join(dir, 'probe.c'),
      ]);
      const printed = execFileSync(path.join(dir, 'probe'), { encoding: 'utf8' })
        .trim()
        .split(' ')
        .map(Number);
      expect(printed).toEqual([
        ringKey('desktop'),
        HEADER.sequence,
        HEADER.latest,
        HEADER.producerPid,
        SLOT.frame,
        SLOT.timestamp,
        SLOT.bytes,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad arguments throw EINVAL before any segment exists', () => {
    const bad: Array<Parameters<typeof FrameRing.create>[0]> = [
      { name: 'has space', width: 4, height: 4, format: 'BGRX' },
      { name: 'ok', width: 0, height: 4, format: 'BGRX' },
      { name: 'ok', width: 4, height: 4, format: 'YUYV' as 'BGRX' },
      { name: 'ok', width: 4, height: 4, format: 'BGRX', slots: 1 },
      { name: 'ok', width: 4, height: 4, format: 'BGRX', mode: 0o1000 },
      { key: 0, width: 4, height: 4, format: 'BGRX' },
    ];
    for (const options of bad) {
      expect(() => FrameRing.create(options)).toThrow(FrameBusError);
      try {
        FrameRing.create(options);
      } catch (error) {
        expect((error as FrameBusError).code).toBe('EINVAL');
      }
    }
    expect(segmentKeys()).not.toContain(ringKey('ok'));
  });

  test('open of a name nobody produces is ENOENT and says what to do', () => {
    expect(() => FrameRing.open({ name: uniqueName('missing') })).toThrow(
      /does not exist: start its producer/,
    );
  });
});

describe('one producer, readers in the same process', () => {
  test('publish, then latest() returns the same bytes and geometry; slots are page-aligned', () => {
    const name = uniqueName('publish');
    const ring = track(FrameRing.create({ name, width: 33, height: 7, format: 'RG16', slots: 4 }));
    expect(ring.stride).toBe(68); // 33 * 2 = 66, rows padded to 4
    expect(ring.slotOffset(0) % 4096).toBe(0);
    expect(ring.slotOffset(1) - ring.slotOffset(0)).toBe(4096);
    const reader = track(FrameRing.open({ name }));
    expect(reader.latest()).toBeNull();
    for (let n = 1; n <= 6; n++) {
      const data = Buffer.alloc(68 * 7, n);
      expect(ring.publish({ data, timestamp: BigInt(n) })).toBe(n);
      const frame = reader.latest();
      expect(frame).toMatchObject({
        sequence: n,
        timestamp: BigInt(n),
        width: 33,
        height: 7,
        stride: 68,
        format: 'RG16',
      });
      expect(frame?.data.equals(data)).toBe(true);
    }
  });

  test('publish copies rows of another stride; too little data is EINVAL', () => {
    const name = uniqueName('stride');
    const ring = track(FrameRing.create({ name, width: 2, height: 3, format: 'RGBA' }));
    const source = Buffer.from(Array.from({ length: 3 * 12 }, (_, i) => i));
    ring.publish({ data: source, stride: 12 });
    const reader = track(FrameRing.open({ name }));
    const rows = [0, 1, 2].map((row) => [...source.subarray(row * 12, row * 12 + 8)]);
    expect([...(reader.latest()?.data ?? [])]).toEqual(rows.flat());
    expect(() => ring.publish({ data: Buffer.alloc(10) })).toThrow(/needs a Uint8Array of 24 bytes/);
  });

  test('claim fills a slot in place; readers see the previous frame until commit; cancel publishes nothing', () => {
    const name = uniqueName('claim');
    const ring = track(FrameRing.create({ name, width: 8, height: 8, format: 'BGRX' }));
    const reader = track(FrameRing.open({ name }));
    ring.publish({ data: Buffer.alloc(256, 1) });
    const claim = ring.claim();
    expect(() => ring.claim()).toThrow(/commit\(\) or cancel\(\) it first/);
    claim.data.fill(2);
    expect(reader.latest()?.data[0]).toBe(1);
    expect(claim.commit()).toBe(2);
    expect(() => claim.commit()).toThrow(/already committed/);
    expect(reader.latest()).toMatchObject({ sequence: 2 });
    expect(reader.latest()?.data.every((byte) => byte === 2)).toBe(true);
    const cancelled = ring.claim();
    cancelled.data.fill(3);
    cancelled.cancel();
    expect(reader.latest()).toMatchObject({ sequence: 2 });
    expect(ring.publish({ data: Buffer.alloc(256, 4) })).toBe(3);
  });

  test('peek() aliases the slot and stops being intact once the producer reuses it', () => {
    const name = uniqueName('peek');
    const ring = track(FrameRing.create({ name, width: 4, height: 4, format: 'BGRA', slots: 2 }));
    const reader = track(FrameRing.open({ name }));
    ring.publish({ data: Buffer.alloc(64, 5) });
    const view = reader.peek();
    expect(view).toMatchObject({ sequence: 1, slot: 0, offset: ring.slotOffset(0) });
    expect(view?.data[0]).toBe(5);
    expect(view?.intact()).toBe(true);
    ring.publish({ data: Buffer.alloc(64, 6) }); // slot 1
    expect(view?.intact()).toBe(true);
    ring.claim().data.fill(7); // slot 0 again: the view is now being overwritten
    expect(view?.intact()).toBe(false);
  });

  test('views() follows new frames in place, with no copy', async () => {
    const name = uniqueName('views');
    const ring = track(FrameRing.create({ name, width: 4, height: 2, format: 'BGRX' }));
    const reader = track(FrameRing.open({ name }));
    ring.publish({ data: Buffer.alloc(32, 1) });
    const seen: Array<[number, number, number, boolean]> = [];
    for await (const view of reader.views()) {
      seen.push([view.sequence, view.offset, view.data[0]!, view.intact()]);
      if (view.sequence === 3) break;
      ring.publish({ data: Buffer.alloc(32, view.sequence + 1) });
    }
    expect(seen).toEqual([
      [1, ring.slotOffset(0), 1, true],
      [2, ring.slotOffset(1), 2, true],
      [3, ring.slotOffset(2), 3, true],
    ]);
  });

  test('the segment is laid out as documented (header and slot table)', () => {
    const name = uniqueName('bytes');
    const ring = track(FrameRing.create({ name, width: 3, height: 2, format: 'RGBA', slots: 3 }));
    ring.publish({ data: Buffer.alloc(24, 9), timestamp: 1234n });
    const segment = Segment.open({ key: ringKey(name) });
    const header = Buffer.alloc(SLOT_TABLE_OFFSET + 3 * SLOT_DESCRIPTOR_SIZE);
    segment.read(header, 0);
    expect(header.toString('latin1', 0, 4)).toBe('FBUS');
    expect(header.readUInt32LE(4)).toBe(1);
    expect(header.readUInt32LE(8)).toBe(4096);
    expect(header.readUInt32LE(12)).toBe(3);
    expect(header.readBigUInt64LE(16)).toBe(4096n);
    expect([header.readUInt32LE(24), header.readUInt32LE(28), header.readUInt32LE(32)]).toEqual([3, 2, 12]);
    expect(header.toString('latin1', 36, 40)).toBe('RGBA');
    expect(header.readUInt32LE(40)).toBe(process.pid);
    expect(header.readUInt32LE(48)).toBe(1); // sequence
    expect(header.readUInt32LE(52)).toBe(0); // latest
    const slot0 = header.subarray(64, 128);
    expect(slot0.readUInt32LE(0)).toBe(2); // seq: written once, even
    expect(slot0.toString('latin1', 4, 8)).toBe('RGBA');
    expect(slot0.readBigUInt64LE(8)).toBe(1n);
    expect(slot0.readBigUInt64LE(16)).toBe(1234n);
    expect([
      slot0.readUInt32LE(24),
      slot0.readUInt32LE(28),
      slot0.readUInt32LE(32),
      slot0.readUInt32LE(36),
    ]).toEqual([3, 2, 12, 24]);
    const payload = Buffer.alloc(24);
    segment.read(payload, 4096);
    expect(payload.equals(Buffer.alloc(24, 9))).toBe(true);
  });
});

describe('lifetime', () => {
  test('close() removes the ring; a reader ends with producer-closed; nothing stays in the table', async () => {
    const name = uniqueName('close');
    const ring = FrameRing.create({ name, width: 4, height: 4, format: 'BGRX' });
    const reader = track(FrameRing.open({ name }));
    expect(segmentKeys()).toContain(ring.key);
    const seen: number[] = [];
    const done = (async () => {
      for await (const frame of reader.frames()) seen.push(frame.sequence);
    })();
    ring.publish({ data: Buffer.alloc(64) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    ring.close();
    await done;
    expect(reader.end?.reason).toBe('producer-closed');
    expect(seen).toEqual([1]);
    expect(segmentKeys()).not.toContain(ring.key);
    expect(() => FrameRing.open({ name })).toThrow(FrameBusError);
  });

  test('a second producer of a live name is EBUSY; a closed ring can be created again', () => {
    const name = uniqueName('busy');
    const first = FrameRing.create({ name, width: 4, height: 4, format: 'BGRX' });
    expect(() => FrameRing.create({ name, width: 4, height: 4, format: 'BGRX' })).toThrow(
      expect.objectContaining({ code: 'EBUSY', message: expect.stringContaining(`pid ${process.pid}`) }),
    );
    first.close();
    track(FrameRing.create({ name, width: 8, height: 8, format: 'RGBA' }));
  });

  test('a segment under the key that is not a ring is refused (EFORMAT), and left alone', () => {
    const key = ringKey(uniqueName('foreign'));
    const foreign = Segment.create(8192, { key });
    try {
      expect(() => FrameRing.create({ key, width: 4, height: 4, format: 'BGRX' })).toThrow(
        expect.objectContaining({
          code: 'EBUSY',
          message: expect.stringContaining('holds no ring header yet'),
        }),
      );
      foreign.write(Buffer.from('not a ring'), 0);
      expect(() => FrameRing.create({ key, width: 4, height: 4, format: 'BGRX' })).toThrow(
        expect.objectContaining({ code: 'EFORMAT' }),
      );
      expect(() => FrameRing.open({ key })).toThrow(expect.objectContaining({ code: 'EFORMAT' }));
      expect(segmentKeys()).toContain(key);
    } finally {
      foreign.destroy();
    }
  });

  test('a reader ends with ring-removed when the segment is removed under a live producer (ipcrm)', async () => {
    const name = uniqueName('removed');
    const ring = track(FrameRing.create({ name, width: 4, height: 4, format: 'BGRX' }));
    const reader = track(FrameRing.open({ name }));
    const done = (async () => {
      for await (const _ of reader.frames()) throw new Error('no frame was published');
    })();
    setTimeout(() => ring.segment.destroy(), 30);
    await done;
    expect(reader.end).toMatchObject({ reason: 'ring-removed', message: expect.stringContaining('ipcrm') });
  });

  test('buffers of a closed ring or reader read zeros instead of crashing the process', () => {
    const name = uniqueName('after-close');
    const ring = FrameRing.create({ name, width: 4, height: 4, format: 'BGRX' });
    const reader = FrameRing.open({ name });
    ring.publish({ data: Buffer.alloc(64, 7) });
    const view = reader.peek();
    const claim = ring.claim();
    reader.close();
    ring.close();
    expect(view?.data[0]).toBe(0);
    expect(view?.intact()).toBe(false);
    expect(claim.data[0]).toBe(0);
    expect(() => claim.commit()).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
    expect(() => ring.publish({ data: Buffer.alloc(64) })).toThrow(
      expect.objectContaining({ code: 'ECLOSED' }),
    );
  });

  test('frames() ends on abort, and on reader.close()', async () => {
    const name = uniqueName('abort');
    track(FrameRing.create({ name, width: 4, height: 4, format: 'BGRX' }));
    const reader = FrameRing.open({ name });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    for await (const _ of reader.frames({ signal: controller.signal }))
      throw new Error('no frame was published');
    expect(reader.end?.reason).toBe('aborted');
    const again = (async () => {
      for await (const _ of reader.frames()) throw new Error('no frame was published');
    })();
    setTimeout(() => reader.close(), 30);
    await again;
    expect(reader.end?.reason).toBe('reader-closed');
    expect(() => reader.latest()).toThrow(/closed reader/);
  });
});
