import { list, Segment } from '@xshm/shm';

test('create, attach twice, write through one, read through the other, destroy', () => {
  const seg = Segment.create(10_000);
  try {
    const first = seg.attach();
    const second = seg.attach({ readOnly: true });
    expect(first.buffer.length).toBe(10_000);
    first.buffer.write('hello', 100);
    expect(second.buffer.toString('latin1', 100, 105)).toBe('hello');
    expect(seg.stat().nattch).toBe(2);
    first.detach();
    second.detach();
    expect(seg.stat().nattch).toBe(0);
  } finally {
    seg.destroy();
  }
  expect(list().some((info) => info.id === seg.id)).toBe(false);
});
