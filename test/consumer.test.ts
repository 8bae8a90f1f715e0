// The packages as users install them: scripts/consumer-test.sh packs every package in a fresh copy of
// the repository and uses the tarballs from new npm and pnpm projects outside it (CommonJS, ESM, Xvfb
// against ImageMagick, a framebus ring, strict TypeScript, the bins). Its report is printed either way.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

test(
  'packed tarballs install with npm and pnpm and work outside the workspace',
  () => {
    const script = path.join(__dirname, '..', 'scripts', 'consumer-test.sh');
    const result = spawnSync('bash', [script], { encoding: 'utf8', timeout: 8 * 60_000 });
    console.log(result.stdout + result.stderr);
    expect(result.error).toBeUndefined();
    expect(result.stdout).toMatch(/^consumer: \d+ passed, 0 failed/m);
    expect(result.status).toBe(0);
  },
  9 * 60_000,
);
