import { placeholder } from '@xshm/shm';

test('smoke', () => {
  expect(placeholder).toBe(1);
  using x = { [Symbol.dispose]() {} };
  expect(x).toBeTruthy();
});
