#!/usr/bin/env bash
# Race workunit for the parent fence (fence_race.py) on a cluster of its
# own, with a 5 s watch timeout (stock: 30 s) so that watches left by
# killed or paused clients expire quickly and the paused-writer cases need
# only a 10 s pause.
#
#   fence_race.sh VSTART CLASS_DIR BUILD_DIR [MON_PORT] [--long]
#
# --long: 30 minutes of rounds with more writers (the quick mode, in CTest,
# takes about a minute).
set -euo pipefail

vstart="$1"
class_dir="$2"
build="$3"
port="${4:-17360}"
mode=quick
[[ "${5:-}" == "--long" ]] && mode=long
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d /tmp/fence-race.XXXXXX)"

stop_cluster() { "${vstart}" stop --dir "${dir}/c" >/dev/null 2>&1 || true; }
trap 'stop_cluster; rm -rf "${dir}"' EXIT

eval "$("${vstart}" start --dir "${dir}/c" --mon-port "${port}" --class-dir "${class_dir}" \
          --memstore-bytes 2147483648)"
ceph config set osd osd_client_watch_timeout 5 >/dev/null
qemu=()
command -v qemu-io >/dev/null && qemu=(--qemu)
PYTHONPATH="${build}/lib/python" /usr/bin/python3 "${here}/fence_race.py" \
  --mode "${mode}" --shim "${build}/lib/librados_fault_shim.so" --pause-seconds 10 "${qemu[@]}"
