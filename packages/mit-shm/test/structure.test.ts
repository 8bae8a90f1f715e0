// The shape of the code, checked: no runtime import cycle in any package's or app's sources; xshot and
// framebus speak X only through @xshm/mit-shm; mit-shm's declarations neither declare nor reference the
// module 'x11' and carry no internal members.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

function sourcesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return /\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function workspaceSources(): string[] {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(ROOT, group)).flatMap((name) => sourcesUnder(join(ROOT, group, name, 'src'))),
  );
}

/**
 * The modules `source` loads at run time: static imports and re-exports that are not type-only (a named
 * import with at least one non-type specifier counts), and require() calls.
 */
function runtimeImports(source: string): string[] {
  const found: string[] = [];
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const statement = /^\s*(import|export)\s+(type\s+)?([\s\S]*?)\s+from\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(statement)) {
    if (m[2]) continue;
    const clause = m[3]!;
    const named = /\{([\s\S]*)\}/.exec(clause);
    const bare = clause
      .replace(/\{[\s\S]*\}/, '')
      .replace(/,/g, '')
      .trim();
    if (named && !bare) {
      const specifiers = named[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (specifiers.every((s) => s.startsWith('type '))) continue;
    }
    found.push(m[4]!);
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

function resolveImport(from: string, specifier: string): string | null {
  let base: string;
  if (specifier.startsWith('.')) base = resolve(dirname(from), specifier);
  else if (specifier.startsWith('@xshm/')) base = join(ROOT, 'packages', specifier.slice(6), 'src/index');
  else return null;
  const stem = base.replace(/\.(js|ts)$/, '');
  for (const candidate of [`${stem}.ts`, join(stem, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return null;
}

/** Every cycle of runtime imports among `files`, as a list of paths. */
function cyclesAmong(files: string[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const file of files)
    edges.set(
      file,
      runtimeImports(readFileSync(file, 'utf8'))
        .map((s) => resolveImport(file, s))
        .filter((p): p is string => p !== null),
    );
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return cycles;
}

test('the import scanner tells runtime imports from type-only ones', () => {
  const source = [
    "import type { A } from './a';",
    "import { type B, type C } from './b';",
    "import { type D, e } from './d';",
    "import f, { type G } from './f';",
    "export type { H } from './h';",
    "export { i } from './i';",
    "const j = require('./j');",
    "// import { k } from './k';",
  ].join('\n');
  expect(runtimeImports(source)).toEqual(['./d', './f', './i', './j']);
});

test('a runtime cycle is found, a type-only one is not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xshm-cycle-'));
  try {
    writeFileSync(join(dir, 'a.ts'), "import { b } from './b';\nexport const a = b;\n");
    writeFileSync(join(dir, 'b.ts'), "import { c } from './c';\nexport const b = c;\n");
    writeFileSync(join(dir, 'c.ts'), "import type { a } from './a';\nexport const c = 1;\n");
    expect(cyclesAmong(['a', 'b', 'c'].map((n) => join(dir, `${n}.ts`)))).toEqual([]);
    writeFileSync(join(dir, 'c.ts'), "import { a } from './a';\nexport const c = a;\n");
    expect(cyclesAmong(['a', 'b', 'c'].map((n) => join(dir, `${n}.ts`))).length).toBe(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no runtime import cycle in packages/*/src or apps/*/src', () => {
  const files = workspaceSources();
  expect(files.length).toBeGreaterThan(40);
  expect(files).toContain(join(ROOT, 'packages/mit-shm/src/capture.ts'));
  const cycles = cyclesAmong(files).map((cycle) => cycle.map((p) => p.slice(ROOT.length + 1)).join(' -> '));
  expect(cycles).toEqual([]);
});

test('xshot and framebus import nothing from x11 and never touch display.client', () => {
  const files = [
    ...sourcesUnder(join(ROOT, 'apps')).filter((p) => !p.includes('node_modules')),
    ...sourcesUnder(join(ROOT, 'packages/framebus')).filter((p) => !p.includes('node_modules')),
  ];
  expect(files).toContain(join(ROOT, 'apps/xshot/src/commands/share.ts'));
  const offending = files.filter((file) => {
    const text = readFileSync(file, 'utf8');
    return /from ['"]x11['"]|require\(['"]x11['"]\)|\.client\b/.test(text);
  });
  expect(offending.map((p) => p.slice(ROOT.length + 1))).toEqual([]);
});

test('x11 is loaded in one place in mit-shm, and its reply table written in one', () => {
  const files = sourcesUnder(join(ROOT, 'packages/mit-shm/src'));
  const loads = files.filter((f) => /require\(['"]x11['"]\)|from ['"]x11['"]/.test(readFileSync(f, 'utf8')));
  expect(loads.map((p) => p.slice(ROOT.length + 1))).toEqual(['packages/mit-shm/src/connect.ts']);
  const writes = files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((line) => /replies\[[^\]]+\]\s*=[^=]/.test(line))
      .map(() => f.slice(ROOT.length + 1)),
  );
  expect(writes).toEqual(['packages/mit-shm/src/wire.ts']);
});

const dist = join(ROOT, 'packages/mit-shm/dist');
(existsSync(join(dist, 'index.d.ts')) ? test : test.skip)(
  "the built declarations carry no @internal member and no module 'x11' (after a build)",
  () => {
    const declarations = readdirSync(dist, { recursive: true })
      .map(String)
      .filter((p) => p.endsWith('.d.ts'))
      .map((p) => join(dist, p));
    expect(declarations).toContain(join(dist, 'index.d.ts'));
    for (const file of declarations) {
      const text = readFileSync(file, 'utf8');
      expect([file, /@internal/.test(text)]).toEqual([file, false]);
      expect([file, /declare module ['"]x11['"]|reference path=.*x11/.test(text)]).toEqual([file, false]);
    }
  },
);
