// A producer and readers in separate processes (Node and Python): checksums, torn-frame
// stress, kill -9 of the producer and of a reader, and no segment left behind.
import { FrameRing, ringKey } from '../src/index';
import { type Fixture, type Line, node, python, segmentKeys, uniqueName, waitForFrame } from './helpers';

jest.setTimeout(40_000);

const started: Fixture[] = [];
afterEach(async () => {
  for (const fixture of started.splice(0)) {
    fixture.kill();
    await fixture.exited();
  }
});
function start(fixture: Fixture): Fixture {
  started.push(fixture);
  return fixture;
}

const framesOf = (lines: Line[]) =>
  lines
    .filter((line) => 'frame' in line)
    .map((line) => [line.frame as number, line.sha256 as string] as const);

test('every frame two Node readers and a Python reader read equals what the producer published', async () => {
  const name = uniqueName('checksums');
  const producer = start(
    node('producer.ts', {
      name,
      width: 160,
      height: 90,
      content: 'random',
      frames: 30,
      intervalMs: 30,
      waitForGo: true,
    }),
  );
  const { key } = await producer.waitFor('ready');
  expect(key).toBe(ringKey(name));
  const readers = [
    start(node('reader.ts', { name, verify: 'sha256' })),
    start(node('reader.ts', { name, verify: 'sha256', maxSleepMs: 20 })),
    start(python(['--key', String(key), '--timeout', '20'])),
  ];
  for (const reader of readers) await reader.waitFor('ready');
  producer.send('go');
  await producer.waitFor('done');
  const published = new Map(framesOf(producer.lines));
  expect(published.size).toBe(30);
  for (const reader of readers) {
    const end = await reader.waitFor('end');
    expect(end.end).toBe('producer-closed');
    const read = framesOf(reader.lines);
    expect(read.length).toBeGreaterThan(3);
    for (const [frame, sha256] of read) expect([frame, sha256]).toEqual([frame, published.get(frame)]);
    // newest-first, never backwards
    const numbers = read.map(([frame]) => frame);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  }
  // The unhurried Node reader keeps up with a frame every 30 ms (it may skip one while its waiter
  // thread starts, or a few when the machine is busy: newest-first means skipping, never queueing). At
  // 15 ms a machine running four test files at once made it miss half of them; the wake-up latency itself
  // is measured by the bench.
  expect(framesOf(readers[0]!.lines).length).toBeGreaterThanOrEqual(15);
  expect(segmentKeys()).not.toContain(key);
});

test('no torn frame under stress: a producer at full speed, readers sleeping randomly', async () => {
  const name = uniqueName('stress');
  const producer = start(
    node('producer.ts', {
      name,
      width: 256,
      height: 128,
      slots: 2, // the fewest slots: the producer comes back to the slot a reader copies soonest
      content: 'pattern',
      frames: 0,
      waitForGo: true,
    }),
  );
  const { key } = await producer.waitFor('ready');
  const readers = [
    start(node('reader.ts', { name, verify: 'pattern', maxSleepMs: 3 })),
    start(node('reader.ts', { name, verify: 'pattern' })),
  ];
  for (const reader of readers) await reader.waitFor('ready');
  producer.send('go');
  // A number of frames, not a time: enough laps of the two slots for a missing seqlock check to
  // show as torn frames (it did, at this count, when the check was removed).
  await waitForFrame(name, 3000);
  producer.kill('SIGTERM');
  for (const reader of readers) {
    const end = await reader.waitFor('end');
    expect(end).toMatchObject({ end: 'producer-closed', torn: 0, outOfOrder: 0 });
    expect(end.frames as number).toBeGreaterThan(20);
  }
  expect(await producer.exited()).toBe(0);
  for (const reader of readers) await reader.exited();
  expect(segmentKeys()).not.toContain(key);
});

test('kill -9 of the producer ends the readers with producer-died; the last reader to leave removes the ring', async () => {
  const name = uniqueName('kill-producer');
  const producer = start(
    node('producer.ts', { name, width: 64, height: 64, content: 'pattern', frames: 5, hold: true }),
  );
  const { key } = await producer.waitFor('ready');
  const readers = [
    start(node('reader.ts', { name, verify: 'pattern' })),
    start(node('reader.ts', { name, verify: 'pattern' })),
  ];
  for (const reader of readers) await reader.waitFor('ready');
  await producer.waitFor('done');
  producer.kill('SIGKILL');
  await producer.exited();
  for (const reader of readers) {
    const end = await reader.waitFor('end', 5000);
    expect(end).toMatchObject({ end: 'producer-died', torn: 0 });
    expect(end.message).toMatch(/died without closing it/);
    await reader.exited();
  }
  expect(segmentKeys()).not.toContain(key);
});

test('a producer killed inside close(), after "closed" and before removing the ring: its readers remove it', async () => {
  const name = uniqueName('closed-kept');
  const closing = start(
    node('producer.ts', {
      name,
      width: 64,
      height: 64,
      content: 'pattern',
      frames: 2,
      waitForGo: true,
      closedButKept: true,
    }),
  );
  const { key } = await closing.waitFor('ready');
  const reader = start(node('reader.ts', { name, verify: 'pattern' }));
  await reader.waitFor('ready');
  closing.send('go');
  await closing.waitFor('closedButKept');
  expect((await reader.waitFor('end', 5000)).end).toBe('producer-closed');
  await reader.exited();
  closing.kill('SIGKILL');
  await closing.exited();
  expect(segmentKeys()).not.toContain(key);
});

test('kill -9 of a reader harms neither the producer nor the other reader', async () => {
  const name = uniqueName('kill-reader');
  const producer = start(
    node('producer.ts', { name, width: 64, height: 64, content: 'pattern', frames: 0, waitForGo: true }),
  );
  const { key } = await producer.waitFor('ready');
  const victim = start(node('reader.ts', { name, verify: 'pattern', maxSleepMs: 2 }));
  const survivor = start(node('reader.ts', { name, verify: 'pattern', maxSleepMs: 2 }));
  await victim.waitFor('ready');
  await survivor.waitFor('ready');
  producer.send('go');
  await waitForFrame(name, 100);
  victim.kill('SIGKILL');
  await victim.exited();
  // The producer goes on publishing after the reader's death.
  const probe = FrameRing.open({ name });
  const before = probe.latest()?.sequence ?? 0;
  probe.close();
  await waitForFrame(name, before + 100);
  expect(producer.child.exitCode).toBeNull();
  producer.kill('SIGTERM');
  expect(await producer.exited()).toBe(0);
  expect(await survivor.waitFor('end')).toMatchObject({ end: 'producer-closed', torn: 0 });
  expect(segmentKeys()).not.toContain(key);
});

test('a producer that exits without closing its ring still removes it', async () => {
  const name = uniqueName('exit');
  const producer = start(
    node('producer.ts', {
      name,
      width: 16,
      height: 16,
      content: 'pattern',
      frames: 2,
      exitWithoutClose: true,
    }),
  );
  const { key } = await producer.waitFor('ready');
  expect(await producer.exited()).toBe(0);
  expect(segmentKeys()).not.toContain(key);
});

test('a new producer reclaims the stale ring of a producer killed with -9 while no one read it', async () => {
  const name = uniqueName('reclaim');
  const producer = start(
    node('producer.ts', { name, width: 32, height: 32, content: 'pattern', frames: 3, hold: true }),
  );
  const { key, id } = await producer.waitFor('ready');
  await producer.waitFor('done');
  producer.kill('SIGKILL');
  await producer.exited();
  // Nobody could remove it; this create reclaims it, unless another test's open or create swept it first.
  const ring = FrameRing.create({ name, width: 16, height: 16, format: 'RGBA' });
  try {
    expect(ring.id).not.toBe(id);
    const reader = FrameRing.open({ name });
    expect(reader.width).toBe(16);
    reader.close();
  } finally {
    ring.close();
  }
  expect(segmentKeys()).not.toContain(key);
});

test('a producer killed with -9 while no one read it: the next open of any name removes its ring', async () => {
  const name = uniqueName('sweep');
  const producer = start(
    node('producer.ts', { name, width: 32, height: 32, content: 'pattern', frames: 2, hold: true }),
  );
  const { key } = await producer.waitFor('ready');
  await producer.waitFor('done');
  producer.kill('SIGKILL');
  await producer.exited();
  expect(() => FrameRing.open({ name: uniqueName('nobody') })).toThrow(
    expect.objectContaining({ code: 'ENOENT' }),
  );
  expect(segmentKeys()).not.toContain(key);
});
