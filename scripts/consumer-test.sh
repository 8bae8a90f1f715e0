#!/usr/bin/env bash
# The packages as a user meets them. Copies the repository as a fresh clone would see it (tracked and
# new files, nothing ignored: no node_modules, no dist), packs every package there with `pnpm pack` (so
# each builds on prepack), installs the tarballs into new projects outside the workspace, once with npm
# and once with pnpm, and uses them: @xshm/shm from CommonJS and ESM, @xshm/mit-shm against ImageMagick
# on a private Xvfb, a @xshm/framebus ring read by another process, a strict TypeScript consumer with its
# own `declare module 'x11'`, and the bins. Nothing there has pnpm's x11 patch: that is the user's case.
#   scripts/consumer-test.sh       prints one line per check, "consumer: N passed, N failed" last
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/xshm-consumer.XXXXXX")
xvfb_pid=
cleanup() {
  [[ -n $xvfb_pid ]] && kill "$xvfb_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM # so that a timeout or Ctrl-C cleans up too
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
start=$SECONDS
passed=0 failed=0

# check NAME COMMAND...: runs it, shows its output only when it fails
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok - $name"
  else
    failed=$((failed + 1))
    echo "not ok - $name"
    sed 's/^/    /' <<<"$out" | tail -n 40
  fi
}
# must COMMAND...: a step the rest depends on
must() {
  local out
  if ! out=$("$@" 2>&1); then
    echo "not ok - $*"
    sed 's/^/    /' <<<"$out" | tail -n 40
    echo "consumer: $passed passed, $((failed + 1)) failed (stopped)"
    exit 1
  fi
}

# --- a fresh clone, packed -------------------------------------------------------------------
mkdir "$work/clone" "$work/tarballs"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$work/clone"
must bash -c "cd '$work/clone' && pnpm install --offline --frozen-lockfile --reporter=silent"
packages=(packages/shm packages/mit-shm packages/framebus apps/xshot)
for dir in "${packages[@]}"; do
  must bash -c "cd '$work/clone/$dir' && pnpm pack --pack-destination '$work/tarballs'"
done
tarball() { ls "$work"/tarballs/"$1"-[0-9]*.tgz; }
shm=$(tarball xshm-shm) mitshm=$(tarball xshm-mit-shm) framebus=$(tarball xshm-framebus) xshot=$(tarball xshot)
manifest() { tar -xzOf "$1" package/package.json | node -p "JSON.parse(require('fs').readFileSync(0, 'utf8')).$2"; }
version=$(manifest "$xshot" version) x11_version=$(manifest "$mitshm" dependencies.x11)
echo "ok - packed ${packages[*]} in a fresh copy ($((SECONDS - start)) s)"

# Every tarball: a LICENSE, no source maps, every `files` entry present, no workspace: ranges left, and
# x11 at one exact version.
check "tarballs: LICENSE, no maps, files as listed, no workspace: ranges, one exact x11" node -e '
  const { execFileSync } = require("node:child_process");
  const bad = [];
  const x11s = new Set();
  for (const tgz of process.argv.slice(1)) {
    const list = execFileSync("tar", ["-tzf", tgz], { encoding: "utf8" }).split("\n").filter(Boolean);
    const pkg = JSON.parse(execFileSync("tar", ["-xzOf", tgz, "package/package.json"], { encoding: "utf8" }));
    const name = pkg.name;
    if (!list.includes("package/LICENSE")) bad.push(`${name}: no LICENSE`);
    for (const f of list) if (f.endsWith(".map")) bad.push(`${name}: ships ${f}`);
    for (const f of pkg.files) if (!list.some((p) => p === `package/${f}` || p.startsWith(`package/${f}/`))) bad.push(`${name}: files lists ${f}, not in the tarball`);
    if (!list.some((p) => p.startsWith("package/dist/"))) bad.push(`${name}: no dist/`);
    if (JSON.stringify(pkg).includes("workspace:")) bad.push(`${name}: a workspace: range`);
    for (const key of ["repository", "homepage", "bugs", "cpu", "os"]) if (!pkg[key]) bad.push(`${name}: no ${key}`);
    // xshot bundles the x11 core and loads the rest from the installed x11: one exact version everywhere
    const x11 = pkg.dependencies?.x11;
    if (x11) x11s.add(x11);
    if (x11 && !/^\d+\.\d+\.\d+$/.test(x11)) bad.push(`${name}: x11 ${x11} is a range, not one version`);
  }
  if (x11s.size > 1) bad.push(`x11 versions differ between packages: ${[...x11s].join(", ")}`);
  if (bad.length) { console.error(bad.join("\n")); process.exit(1); }
' "$shm" "$mitshm" "$framebus" "$xshot"

check "pnpm publish -r --dry-run (no git there, hence --no-git-checks)" \
  bash -c "cd '$work/clone' && pnpm publish -r --dry-run --no-git-checks"

# --- a private Xvfb (-noreset: what a client put on the root stays when it disconnects) ------
Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp -noreset 3>"$work/display" 2>/dev/null &
xvfb_pid=$!
for _ in $(seq 100); do [[ -s $work/display ]] && break; sleep 0.1; done
display=:$(<"$work/display")

# --- the consumer's files --------------------------------------------------------------------
write_consumer() {
  local dir=$1
  cat >"$dir/shm.cjs" <<'EOF'
const { spawnSync } = require('node:child_process');
const { Segment } = require('@xshm/shm');
const seg = Segment.create(4096, { mode: 0o600 });
const writer = seg.attach();
writer.buffer.write('hello from a consumer');
const reader = seg.attach({ readOnly: true });
const text = reader.buffer.toString('utf8', 0, 21);
if (text !== 'hello from a consumer') throw new Error(`read back ${JSON.stringify(text)}`);
// ipcs exits 0 either way; it describes the segment on stdout only while it exists
const seen = () => spawnSync('ipcs', ['-m', '-i', String(seg.id)], { encoding: 'utf8' }).stdout.includes(`shmid=${seg.id}`);
if (!seen()) throw new Error(`ipcs does not see segment ${seg.id}`);
writer.detach();
reader.detach();
seg.destroy();
if (seen()) throw new Error(`segment ${seg.id} is still there after destroy()`);
EOF
  sed -e "s/^const { spawnSync } = require('node:child_process');/import { spawnSync } from 'node:child_process';/" \
    -e "s/^const { Segment } = require('@xshm\/shm');/import { Segment } from '@xshm\/shm';/" "$dir/shm.cjs" >"$dir/shm.mjs"

  # Puts a pattern into the root window with ShmPutImage, captures a region of it with ShmGetImage and
  # writes it as RGB, for cmp against ImageMagick's `import` of the same region.
  cat >"$dir/capture.cjs" <<'EOF'
const { writeFileSync } = require('node:fs');
const { connect } = require('@xshm/mit-shm');
(async () => {
  const display = await connect({ display: process.argv[2] });
  const image = display.createImage(320, 200);
  for (let i = 0; i < image.data.length; i++) image.data[i] = (i * 7 + (i >> 10)) & 0xff;
  await image.put(display.root, { x: 0, y: 0 });
  image.dispose();
  const frame = await display.capture({ x: 13, y: 21, width: 250, height: 150 });
  const rgba = frame.toRGBA();
  const rgb = Buffer.alloc((rgba.length / 4) * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) rgba.copy(rgb, q, p, p + 3);
  writeFileSync(process.argv[3], rgb);
  await display.close();
})().catch((error) => { console.error(error); process.exit(1); });
EOF

  # A producer publishes into a ring; a reader in another process finds it by name and reads it back.
  cat >"$dir/ring.cjs" <<'EOF'
const { execFileSync } = require('node:child_process');
const { FrameRing } = require('@xshm/framebus');
const name = `consumer-${process.pid}`;
const ring = FrameRing.create({ name, width: 64, height: 32, format: 'BGRX' });
try {
  const claim = ring.claim();
  for (let i = 0; i < claim.data.length; i++) claim.data[i] = (i * 13) & 0xff;
  const sent = Buffer.from(claim.data).toString('base64');
  claim.commit();
  const read = `
    const { FrameRing } = require('@xshm/framebus');
    const reader = FrameRing.open({ name: ${JSON.stringify(name)} });
    const frame = reader.latest();
    process.stdout.write(JSON.stringify({ w: frame.width, h: frame.height, data: Buffer.from(frame.data).toString('base64') }));
    reader.close();`;
  const got = JSON.parse(execFileSync(process.execPath, ['-e', read], { encoding: 'utf8' }));
  if (got.w !== 64 || got.h !== 32 || got.data !== sent) throw new Error('the reader saw another frame');
} finally {
  ring.close();
}
EOF

  # A strict TypeScript consumer: all three packages, and its own shorthand typing of x11, which ours
  # must not replace.
  mkdir -p "$dir/ts"
  cat >"$dir/ts/x11.d.ts" <<'EOF'
declare module 'x11';
EOF
  cat >"$dir/ts/index.ts" <<'EOF'
import { FrameRing } from '@xshm/framebus';
import { connect, type Frame } from '@xshm/mit-shm';
import { Segment } from '@xshm/shm';
import x11 from 'x11';

x11.createClient((error: unknown, display: unknown) => {
  console.log(error, display);
});
export async function firstPixel(): Promise<number> {
  const display = await connect();
  const frame: Frame = await display.capture({ x: 0, y: 0, width: 1, height: 1 });
  await display.close();
  return frame.data[0] ?? 0;
}
export const segment: (size: number) => Segment = (size) => Segment.create(size);
export const ring = (): FrameRing => FrameRing.create({ name: 'ts', width: 1, height: 1, format: 'BGRX' });
EOF
  cat >"$dir/ts/tsconfig.json" <<'EOF'
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "target": "es2022",
    "types": ["node"],
    "esModuleInterop": true
  },
  "include": ["*.ts"]
}
EOF
}

consume() {
  local tool=$1 dir=$work/$1
  cd "$dir" || exit 1
  check "$tool: @xshm/shm from CommonJS (create, write, read back, destroy; ipcs sees it come and go)" \
    node "$dir/shm.cjs"
  check "$tool: @xshm/shm from ESM" node "$dir/shm.mjs"
  check "$tool: @xshm/mit-shm capture on Xvfb $display equals ImageMagick import, byte for byte" bash -c "
    node '$dir/capture.cjs' '$display' '$dir/capture.rgb' &&
    import -display '$display' -window root -crop 250x150+13+21 +repage -depth 8 'rgb:$dir/import.rgb' &&
    cmp '$dir/capture.rgb' '$dir/import.rgb'"
  check "$tool: @xshm/framebus ring round trip to another process" node "$dir/ring.cjs"
  check "$tool: strict TypeScript (nodenext) with its own declare module 'x11'" \
    bash -c "cd '$dir/ts' && '$root/node_modules/.bin/tsc' -p ."
  # pnpm's patch of x11 (patches/) applies inside this workspace only: a user gets upstream's x11, on
  # which everything above must work (connect() just parses the setup slower).
  check "$tool: x11 as installed is upstream's $x11_version, without our patch" bash -c "
    x11=\$(dirname \$(node -p \"require.resolve('x11/package.json', { paths: [require.resolve('@xshm/mit-shm')] })\")) &&
    grep -q '\"version\": \"$x11_version\"' \$x11/package.json && ! grep -q 'One read for' \$x11/lib/handshake.js"
  check "$tool: npx xshot --version" bash -c "cd '$dir' && npx --no-install xshot --version | grep -qx 'xshot $version\|$version'"
  check "$tool: npx shmtool ls" bash -c "cd '$dir' && npx --no-install shmtool ls"
  check "$tool: npx xshot shot (the bundle, the user's x11)" bash -c "
    cd '$dir' && DISPLAY='$display' npx --no-install xshot shot shot.png && [[ \$(head -c 4 shot.png | od -An -tx1) == ' 89 50 4e 47' ]]"
}

# --- npm -------------------------------------------------------------------------------------
mkdir "$work/npm"
cat >"$work/npm/package.json" <<EOF
{ "name": "npm-consumer", "private": true, "version": "1.0.0",
  "overrides": { "@xshm/shm": "\$@xshm/shm", "@xshm/mit-shm": "\$@xshm/mit-shm", "@xshm/framebus": "\$@xshm/framebus" } }
EOF
t=$SECONDS
must bash -c "cd '$work/npm' && npm install --prefer-offline --loglevel=error '$shm' '$mitshm' '$framebus' '$xshot' @types/node@20"
echo "ok - npm installed the tarballs ($((SECONDS - t)) s)"
write_consumer "$work/npm"
consume npm

# --- pnpm ------------------------------------------------------------------------------------
mkdir "$work/pnpm"
echo '{ "name": "pnpm-consumer", "private": true, "version": "1.0.0" }' >"$work/pnpm/package.json"
cat >"$work/pnpm/pnpm-workspace.yaml" <<EOF
# the tarballs' own dependencies on each other resolve to the tarballs, not to the registry
overrides:
  '@xshm/shm': 'file:$shm'
  '@xshm/mit-shm': 'file:$mitshm'
  '@xshm/framebus': 'file:$framebus'
# koffi and sharp load prebuilt binaries from optional packages; their install scripts are not needed
allowBuilds:
  koffi: false
  sharp: false
EOF
t=$SECONDS
must bash -c "cd '$work/pnpm' && pnpm add --prefer-offline --reporter=silent '$shm' '$mitshm' '$framebus' '$xshot' @types/node@20"
echo "ok - pnpm installed the tarballs ($((SECONDS - t)) s)"
write_consumer "$work/pnpm"
consume pnpm

echo "consumer: $passed passed, $failed failed ($((SECONDS - start)) s)"
((failed == 0))
