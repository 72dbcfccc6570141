#!/usr/bin/env bash
# The whole test suite on a fresh Debian bookworm machine: installs what it
# needs, builds, and runs CTest, which starts its own clusters on loopback
# (with the overlay, and a stock one for comparisons) and stops them.
set -euo pipefail
top="$(cd "$(dirname "$0")" && pwd)"
build="${BUILD_DIR:-${top}/build}"

"${top}/install-deps.sh"
# The package test builds the Debian package, installs it (as root), runs
# the demo with the installed files only, and removes it again.
cmake -S "${top}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRBD_STANDALONE_PACKAGE_TEST=ON
cmake --build "${build}" -j2
cd "${build}"
ctest --output-on-failure --timeout 1800 "$@"
