// After the suite: no segment made by this package's tests (by a test worker or by a process one
// of them started, as test/helpers.ts records) may be left in /proc/sysvipc/shm.
const { readFileSync, rmSync } = require('node:fs');
const path = require('node:path');

module.exports = function globalTeardown() {
  const state = process.env.XSHM_SHM_TEST_STATE;
  if (!state) return;
  const before = new Set(JSON.parse(readFileSync(path.join(state, 'before.json'), 'utf8')));
  const pids = new Set(
    readFileSync(path.join(state, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number),
  );
  rmSync(state, { recursive: true, force: true });
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  const left = rows
    .map((row) => row.trim().split(/\s+/))
    .filter(([, id, , , cpid]) => !before.has(Number(id)) && pids.has(Number(cpid)));
  if (left.length > 0) {
    const list = left.map(
      ([key, id, perms, size, cpid]) => `id ${id} key ${key} perms ${perms} size ${size} cpid ${cpid}`,
    );
    throw new Error(`@xshm/shm tests left segments behind:\n  ${list.join('\n  ')}`);
  }
};
