#!/usr/bin/env bash
# The full standalone-clone benchmark (about 15-20 minutes on 2 cores and
# 24 GiB): builds what is missing or stale, starts its own memstore cluster
# (mon port 17600 unless --mon-port P; --ceph-conf PATH uses an existing one),
# prints the table and writes build/bench/standalone_clone_bench.{json,png}.
# Arguments go to standalone_clone_bench.py: --quick, --reps N, --out-json,
# --out-png, --ceph-conf, --mon-port, --only creation,io,registry, --help.
set -euo pipefail
top="$(cd "$(dirname "$0")/../../.." && pwd)"
build="${BUILD_DIR:-${top}/build}"
[[ -f "${build}/CMakeCache.txt" ]] || cmake -S "${top}" -B "${build}" >/dev/null
cmake --build "${build}" -j2 >/dev/null
mkdir -p "${build}/bench"
# Debian's python: it has the rados and rbd modules.
exec /usr/bin/python3 "${top}/src/tools/rbd_bench/standalone_clone_bench.py" \
  --build-dir "${build}" --out-json "${build}/bench/standalone_clone_bench.json" "$@"
