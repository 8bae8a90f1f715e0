#!/usr/bin/env bash
# Sets up a machine for xshm: the system tools a profile needs (through apt-get when it is
# there and we are root; otherwise it prints the exact command), the pinned pnpm, and the
# workspace's packages. Safe to run again: it installs only what is missing.
#   scripts/setup.sh demo   Xvfb, for `xshot demo` on a machine with no display
#   scripts/setup.sh test   + every tool the tests run: ImageMagick, x11 tools, Python sysv_ipc, Chromium,
#                           xterm, ipcs/runuser, ss, curl/openssl (README lines), git/tar/cmp (the consumer test)
#   scripts/setup.sh bench  + the peers the benchmarks race (scrot, maim, ffmpeg, hyperfine, libxcb-shm,
#                           x11vnc + websockify + noVNC)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-test}
PNPM_VERSION=12.4.2

# "package:command, file or shared library (NAME.so.N) that proves it is there"
# libturbojpeg0 and libwebp7: xshot's JPEG and WebP encoders (without them it loads sharp, ~50 ms slower).
demo=(xvfb:Xvfb libturbojpeg0:libturbojpeg.so.0 libwebp7:libwebp.so.7)
test=("${demo[@]}" imagemagick:import x11-apps:xwd x11-utils:xdpyinfo x11-utils:xwininfo xdotool:xdotool
  python3-sysv-ipc:/usr/lib/python3/dist-packages/sysv_ipc.cpython-311-x86_64-linux-gnu.so
  libxcb-shm0-dev:/usr/include/xcb/shm.h gcc:gcc chromium:/usr/bin/chromium xterm:xterm
  util-linux:ipcs util-linux:runuser iproute2:ss git:git tar:tar diffutils:cmp debianutils:which
  curl:curl openssl:openssl openbox:openbox)
bench=("${test[@]}" scrot:scrot maim:maim ffmpeg:ffmpeg hyperfine:hyperfine
  x11vnc:x11vnc websockify:websockify novnc:/usr/share/novnc/vnc.html)
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
  elif [[ $probe == *.so.* ]]; then
    # a here-string, not a pipe: grep -q quitting early would fail the pipe under pipefail
    grep -q "^[[:space:]]*${probe} " <<<"$(/sbin/ldconfig -p)" && continue
  else
    command -v "$probe" >/dev/null 2>&1 && continue
  fi
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
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

# The pinned pnpm (package.json's packageManager). npm's own error is shown when it cannot install
# globally (a user without write access to node's prefix), followed by the way round it.
if [[ $(pnpm --version 2>/dev/null) != "$PNPM_VERSION" ]]; then
  echo "setup: installing pnpm@$PNPM_VERSION (npm install -g)" >&2
  if ! npm install -g --loglevel=error --no-fund --no-audit "pnpm@$PNPM_VERSION"; then
    echo "setup: npm could not install pnpm@$PNPM_VERSION (its error is above). Run this as root, or install" >&2
    echo "  it under your home and put ~/.local/bin first on PATH: npm install -g --prefix ~/.local pnpm@$PNPM_VERSION" >&2
    exit 1
  fi
fi
pnpm install --frozen-lockfile --loglevel=error
