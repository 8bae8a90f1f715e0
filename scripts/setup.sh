#!/usr/bin/env bash
# Sets up a machine for xshm: the system tools a profile needs (through apt-get when it is
# there and we are root; otherwise it prints the exact command), the pinned pnpm, and the
# workspace's packages. Safe to run again: it installs only what is missing.
#   scripts/setup.sh demo   Xvfb, for `xshot demo` on a machine with no display
#   scripts/setup.sh test   + ImageMagick, x11 tools, Python sysv_ipc, Chromium: what the tests compare against
#   scripts/setup.sh bench  + the peers the benchmarks race (scrot, maim, ffmpeg, hyperfine, libxcb-shm)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-test}
PNPM_VERSION=12.4.2

# "package:command-or-file that proves it is there"
demo=(xvfb:Xvfb)
test=("${demo[@]}" imagemagick:import x11-apps:xwd x11-utils:xdpyinfo xdotool:xdotool
  python3-sysv-ipc:/usr/lib/python3/dist-packages/sysv_ipc.cpython-311-x86_64-linux-gnu.so
  libxcb-shm0-dev:/usr/include/xcb/shm.h gcc:gcc chromium:chromium openbox:openbox)
bench=("${test[@]}" scrot:scrot maim:maim ffmpeg:ffmpeg hyperfine:hyperfine)
case $profile in
  demo) wanted=("${demo[@]}") ;;
  test) wanted=("${test[@]}") ;;
  bench) wanted=("${bench[@]}") ;;
  *) echo "usage: scripts/setup.sh [demo|test|bench]" >&2; exit 2 ;;
esac

missing=()
for entry in "${wanted[@]}"; do
  pkg=${entry%%:*} probe=${entry#*:}
  if [[ $probe == /* ]]; then
    # the Python module path depends on the architecture: accept any build of it
    [[ $pkg == python3-sysv-ipc ]] && compgen -G '/usr/lib/python3/dist-packages/sysv_ipc*.so' >/dev/null && continue
    [[ -e $probe ]] && continue
  else
    command -v "$probe" >/dev/null 2>&1 && continue
  fi
  missing+=("$pkg")
done

if ((${#missing[@]})); then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [[ $(pnpm --version 2>/dev/null) != "$PNPM_VERSION" ]]; then
  echo "setup: installing pnpm@$PNPM_VERSION" >&2
  npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi
pnpm install --frozen-lockfile --reporter=silent
