#!/usr/bin/env bash
# The full runs of the parent-fence workunits (CTest runs their quick
# modes): 30 minutes of racing writers and the cephx rights matrix, each on
# a cluster of its own.  Builds what is missing.  The crash points are in
# qa/run-thrash.sh.
#
#   qa/run-fence-checks.sh [--race-seconds N]
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-${top}/build}"
race_seconds=1800
[[ "${1:-}" == --race-seconds ]] && race_seconds="$2"

"${top}/install-deps.sh" >/dev/null
cmake -S "${top}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "${build}" -j2 >/dev/null
wu="${top}/qa/workunits/rbd"
with_cluster=("${wu}/with_cluster.sh" "${top}/src/vstart.sh" "${build}/lib/rados-classes")
export PYTHONPATH="${build}/lib/python" PROJECT_RBD="${build}/bin/rbd"
shim="${build}/lib/librados_fault_shim.so"
status=0

echo "== race (${race_seconds} s of rounds, then the paused writers)"
"${with_cluster[@]}" 17460 /usr/bin/python3 "${wu}/fence_race.py" --mode long \
  --seconds "${race_seconds}" --shim "${shim}" --pause-seconds 10 --qemu 2>&1 |
  grep -v '^vstart.sh' || status=1
echo "== cephx tenants"
VSTART_OPTS="--auth cephx" "${with_cluster[@]}" 17480 "${wu}/fence_cephx.sh" 2>&1 |
  grep -v '^vstart.sh' || status=1
exit "${status}"
