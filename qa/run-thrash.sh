#!/usr/bin/env bash
# The full reliability runs (CTest runs their quick variants), each on a
# cluster of its own, then one summary table:
#
#   crash points   a kill before every class call of every operation
#                  (clone CLI and API, stock and project flatten and rm of a
#                  child, rm of a parent, children --prune) + the prune race
#   concurrency    32 clones at once, 3 rounds of clones racing stock and
#                  project rm/flatten and --prune, exact counts throughout
#   osd faults     3 bluestore OSDs, pool size 3: kill -9 of the header's
#                  primary mid-batch, restart of all OSDs, an OSD down
#                  through a batch (3 rounds)
#   fuzzer         every overlay method, seeded, differential against a
#                  stock cluster (--fuzz-seconds, default 600)
#   defects        the regression checks of L1, C1, T1 and F1
#
#   qa/run-thrash.sh [--fuzz-seconds N] [--only NAME[,NAME...]]
#
# Builds what is missing.  Logs go to build/thrash/<name>.log.  Exit 1 if
# any run failed.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-${top}/build}"
fuzz_seconds=600
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --fuzz-seconds) fuzz_seconds="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "usage: $0 [--fuzz-seconds N] [--only NAME,...]" >&2; exit 2 ;;
  esac
done

"${top}/install-deps.sh" >/dev/null
cmake -S "${top}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "${build}" -j2 >/dev/null
wu="${top}/qa/workunits/rbd"
vstart="${top}/src/vstart.sh"
classes="${build}/lib/rados-classes"
shim="${build}/lib/librados_fault_shim.so"
export PYTHONPATH="${build}/lib/python" PROJECT_RBD="${build}/bin/rbd"
logs="${build}/thrash"
mkdir -p "${logs}"
ulimit -v 6000000

declare -a rows
status=0

# run NAME SUMMARY-REGEX COMMAND...: runs it, logs it, keeps a table row
# with its result, its time and the last line matching the regex.
run() {
  local name="$1" pattern="$2"
  shift 2
  if [[ -n "${only}" && ",${only}," != *",${name},"* ]]; then
    return 0
  fi
  echo "== ${name}" >&2
  local start=${SECONDS} rc=0
  "$@" >"${logs}/${name}.log" 2>&1 || rc=$?
  local figure
  figure="$(grep -E "${pattern}" "${logs}/${name}.log" | tail -1 | cut -c1-70 || true)"
  rows+=("$(printf '%-14s %-5s %6ss  %s' "${name}" "$([[ ${rc} == 0 ]] && echo pass || echo FAIL)" \
            "$((SECONDS - start))" "${figure}")")
  [[ ${rc} == 0 ]] || status=1
}

with_cluster() { "${wu}/with_cluster.sh" "${vstart}" "${classes}" "$@"; }

# The fuzzer needs an overlay cluster and a stock one.
fuzz() (
  dir="$(mktemp -d /tmp/thrash-fuzz.XXXXXX)"
  trap '"${vstart}" stop --dir "${dir}/ov" >/dev/null 2>&1 || true;
        "${vstart}" stop --dir "${dir}/st" >/dev/null 2>&1 || true; rm -rf "${dir}"' EXIT
  "${vstart}" start --dir "${dir}/ov" --mon-port 17600 --class-dir "${classes}" >/dev/null
  "${vstart}" start --dir "${dir}/st" --mon-port 17700 >/dev/null
  CEPH_CONF="${dir}/ov/ceph.conf" STOCK_CEPH_CONF="${dir}/st/ceph.conf" \
    /usr/bin/python3 "${wu}/cls_fuzz.py" --seconds "${fuzz_seconds}"
)

run crash-points '[0-9]+ passed, [0-9]+ failed' \
  with_cluster 17470 /usr/bin/python3 "${wu}/fence_crash_points.py" \
  --rbd "${PROJECT_RBD}" --shim "${shim}"
run concurrency '[0-9]+ passed, [0-9]+ failed' \
  with_cluster 17490 /usr/bin/python3 "${wu}/clone_concurrency.py" --clones 32 --rounds 3 \
  --rbd "${PROJECT_RBD}"
run osd-faults 'violation' \
  /usr/bin/python3 "${wu}/osd_faults.py" --rounds 3 --mon-port 17500 --rbd "${PROJECT_RBD}" \
  --class-dir "${classes}"
run fuzzer '^seed [0-9]+, [0-9]+ calls' fuzz
run defects '[0-9]+ passed, [0-9]+ failed' \
  with_cluster 17480 /usr/bin/python3 "${wu}/registry_defects.py" \
  --rbd "${PROJECT_RBD}" --shim "${shim}"

printf '\n%-14s %-5s %7s  %s\n' suite result time summary
printf '%s\n' "${rows[@]}"
echo "logs: ${logs}"
exit "${status}"
