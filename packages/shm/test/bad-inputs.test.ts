import { Memfd, Segment, ShmError } from '@xshm/shm';
import { leftBehind, testLeavesNoSegmentBehind } from './helpers';

// Every bad argument is refused before any system call: nothing is created, and the error says
// what was expected and what came.
const notSizes: [string, unknown][] = [
  ['0', 0],
  ['-1', -1],
  ['NaN', Number.NaN],
  ['1.5', 1.5],
  ['2^62', 2 ** 62],
  ["'12'", '12'],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['12n', 12n],
  ['null', null],
  ['undefined', undefined],
];

describe('Segment.create(size)', () => {
  test.each(notSizes)('size %s: RangeError, no segment', (_name, size) => {
    expect(() => Segment.create(size as number)).toThrow(RangeError);
    expect(() => Segment.create(size as number)).toThrow(/^size must be an integer from 1 to \d+ \(.*SHMMAX/);
    expect(leftBehind()).toEqual([]);
  });

  test.each([
    ['mode 0o1000', { mode: 0o1000 }, /^mode must be an integer from 0 to 511/],
    ['mode -1', { mode: -1 }, /^mode must be/],
    ["mode '600'", { mode: '600' }, /^mode must be.*got the string '600'/],
    ['key 2^32', { key: 2 ** 32 }, /^key must be an integer from -2147483648 to 4294967295/],
    ['key 1.5', { key: 1.5 }, /^key must be/],
  ])('%s: RangeError', (_name, options, message) => {
    expect(() => Segment.create(4096, options as object)).toThrow(message);
  });
});

describe('Segment.open', () => {
  test.each([
    ['-1', -1],
    ['1.5', 1.5],
    ["'12'", '12'],
    ['NaN', Number.NaN],
    ['2^31', 2 ** 31],
  ])('id %s: RangeError', (_name, id) => {
    expect(() => Segment.open(id as number)).toThrow(/^id must be an integer from 0 to 2147483647/);
  });

  test('a bogus id: ShmError EINVAL from IPC_STAT', () => {
    expect(() => Segment.open(2 ** 31 - 1)).toThrow(
      expect.objectContaining({ name: 'ShmError', code: 'EINVAL', errno: 22, syscall: 'shmctl' }),
    );
  });

  test('a removed id: ShmError EINVAL, saying it was removed or never existed', () => {
    const seg = Segment.create(4096);
    seg.destroy();
    expect(() => Segment.open(seg.id)).toThrow(ShmError);
    expect(() => Segment.open(seg.id)).toThrow(
      `shmctl(id=${seg.id}, IPC_STAT): EINVAL — there is no segment with id ${seg.id} (it was removed, or never existed)`,
    );
    expect(() => seg.attach()).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'shmat' }));
  });

  test('key 0 is IPC_PRIVATE: RangeError', () => {
    expect(() => Segment.open({ key: 0 })).toThrow(/IPC_PRIVATE/);
  });
});

describe('read, write, attach, streams', () => {
  let seg: Segment;
  beforeAll(() => {
    seg = Segment.create(64);
  });
  afterAll(() => {
    seg[Symbol.dispose]();
    seg.destroy();
  });

  test.each([
    ['-1', -1],
    ['65', 65],
    ['1.5', 1.5],
    ["'1'", '1'],
  ])('position %s: RangeError', (_name, position) => {
    expect(() => seg.read(Buffer.alloc(1), position as number)).toThrow(
      /^position must be an integer from 0 to 64/,
    );
    expect(() => seg.write(Buffer.alloc(1), position as number)).toThrow(/^position must be/);
  });

  test.each([
    ['a string', 'abc'],
    ['an array', [1, 2]],
    ['an ArrayBuffer', new ArrayBuffer(4)],
    ['null', null],
  ])('target or source %s: TypeError', (_name, value) => {
    expect(() => seg.read(value as unknown as Buffer)).toThrow(TypeError);
    expect(() => seg.write(value as unknown as Buffer)).toThrow(TypeError);
  });

  test.each([
    ['start -1', { start: -1 }],
    ['start 65', { start: 65 }],
    ['end 64', { end: 64 }],
    ['end 1.5', { end: 1.5 }],
  ])('read stream %s: RangeError', (_name, options) => {
    expect(() => seg.createReadStream(options)).toThrow(RangeError);
  });

  test('write stream start 65: RangeError', () => {
    expect(() => seg.createWriteStream({ start: 65 })).toThrow(RangeError);
  });
});

describe('Memfd.create', () => {
  test.each([
    ['0', 0],
    ['-1', -1],
    ['NaN', Number.NaN],
    ['1.5', 1.5],
    ["'12'", '12'],
  ])('size %s: RangeError', (_name, size) => {
    expect(() => Memfd.create(size as number)).toThrow(RangeError);
  });
});

testLeavesNoSegmentBehind();
