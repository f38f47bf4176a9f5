#!/usr/bin/env bash
# Builds the board-like MicroPython that `make test` and `make bench` run on besides the pip unix
# port: the unix port configured as the ESP32 and RP2040 ports are where numbers are concerned
# (32-bit words, so small ints have 31 bits and a millisecond timestamp is a heap int; float32),
# with mbedtls TLS and littlefs, linked statically.
#   usage: MICROPY_SRC=~/src/micropython tools/build_board_port.sh [OUT]   (default build/micropython-32f)
#   MICROPY_SRC: a checkout of MicroPython at tag v1.28.0 with its submodules lib/mbedtls and
#   lib/micropython-lib (`make -C ports/unix submodules` fetches them).
# Needs a 32-bit capable gcc (Debian: apt-get install gcc-multilib). The flags are MicroPython's own
# CI flags for its unix "32bit" and "float" builds; FFI and btree are left out.
# Then: make test MICROPYTHON_32=build/micropython-32f
set -euo pipefail
: "${MICROPY_SRC:?set MICROPY_SRC to a MicroPython v1.28.0 checkout}"
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/micropython-32f}
mkdir -p "$(dirname "$out")"
make -j"$(nproc)" -C "$MICROPY_SRC/mpy-cross"
make -j"$(nproc)" -C "$MICROPY_SRC/ports/unix" VARIANT=standard BUILD=build-32f PROG=micropython-32f \
  MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_SSL=1 \
  CFLAGS_EXTRA="-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT" LDFLAGS_EXTRA="-static"
install -m755 "$MICROPY_SRC/ports/unix/build-32f/micropython-32f" "$out"
# the two facts the tests rely on: 31-bit small ints and float32
"$out" -c "import sys; assert sys.maxsize == 2**31 - 1; assert repr(0.1 + 0.2) == '0.3'; print('ok', sys.version)"
echo "built $out"
