import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Segment } from '@xshm/shm';
import { testLeavesNoSegmentBehind } from './helpers';

async function collect(readable: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('segment streams', () => {
  let seg: Segment;
  beforeEach(() => {
    seg = Segment.create(1 << 20);
  });
  afterEach(() => {
    seg[Symbol.dispose]();
    seg.destroy();
  });

  test('a megabyte through a write stream and back through a read stream', async () => {
    const data = randomBytes(1 << 20);
    const input = Readable.from([
      data.subarray(0, 1000),
      data.subarray(1000, 300_000),
      data.subarray(300_000),
    ]);
    const output = seg.createWriteStream();
    await pipeline(input, output);
    expect(output.bytesWritten).toBe(1 << 20);
    const read = seg.createReadStream();
    expect((await collect(read)).equals(data)).toBe(true);
    expect(read.bytesRead).toBe(1 << 20);
  });

  test('start and end (inclusive, as in fs.createReadStream)', async () => {
    seg.write(Buffer.from('0123456789'), 100);
    await pipeline(Readable.from([Buffer.from('ab')]), seg.createWriteStream({ start: 103 }));
    expect((await collect(seg.createReadStream({ start: 100, end: 109 }))).toString()).toBe('012ab56789');
    expect((await collect(seg.createReadStream({ start: 105, end: 105 }))).toString()).toBe('5');
    expect((await collect(seg.createReadStream({ start: 1 << 20 }))).length).toBe(0);
    expect((await collect(seg.createReadStream({ start: (1 << 20) - 3 }))).length).toBe(3);
  });

  test('read chunks are copies: changing the segment later does not change them', async () => {
    seg.write(Buffer.from('before'));
    const [first] = await collect(seg.createReadStream({ end: 5 })).then((data) => [data]);
    seg.write(Buffer.from('after!'));
    expect(first?.toString()).toBe('before');
  });

  test('a write stream errors when the data does not fit, saying how much fits', async () => {
    const output = seg.createWriteStream({ start: (1 << 20) - 10 });
    const input = Readable.from([Buffer.alloc(6, 1), Buffer.alloc(6, 2)]);
    await expect(pipeline(input, output)).rejects.toThrow(
      /the data does not fit in segment \d+: from start 1048566, 10 bytes fit \(it holds 1048576\); 6 were written, the next 6 were not/,
    );
    expect(output.bytesWritten).toBe(6);
    const tail = Buffer.alloc(10);
    seg.read(tail, (1 << 20) - 10);
    expect([...tail]).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  });

  test('strings are written as UTF-8, like fs write streams', async () => {
    const output = seg.createWriteStream({ start: 1 });
    await new Promise<void>((resolve, reject) =>
      output.end('héllo', (error?: Error | null) => (error ? reject(error) : resolve())),
    );
    expect((await collect(seg.createReadStream({ start: 1, end: 6 }))).toString()).toBe('héllo');
  });

  test('highWaterMark 0 still reads everything', async () => {
    const data = randomBytes(200_000);
    seg.write(data);
    const read = seg.createReadStream({ highWaterMark: 0, end: data.length - 1 });
    expect((await collect(read)).equals(data)).toBe(true);
  });

  test('a read stream into a slow consumer keeps to its highWaterMark', async () => {
    const seen: number[] = [];
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        seen.push(chunk.length);
        setImmediate(callback);
      },
    });
    await pipeline(seg.createReadStream({ highWaterMark: 4096, end: 40_959 }), slow);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(40_960);
    expect(Math.max(...seen)).toBeLessThanOrEqual(4096);
  });
});

testLeavesNoSegmentBehind();
