#!/usr/bin/env bash
# The main job: on a fresh Debian bookworm machine, install what is needed,
# build, start a local cluster (loopback) whose OSD loads the overlay, and
# walk through a standalone clone with the stock `rbd` tool.  The cluster
# is stopped at the end (KEEP_CLUSTER=1 leaves it running and says how to
# stop it).
set -euo pipefail
top="$(cd "$(dirname "$0")" && pwd)"
build="${BUILD_DIR:-${top}/build}"
cluster="${build}/demo-cluster"

"${top}/install-deps.sh" >&2
cmake -S "${top}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "${build}" -j2 >/dev/null

eval "$("${top}/src/vstart.sh" start --dir "${cluster}" --mon-port 17700 \
          --class-dir "${build}/lib/rados-classes")"
tmp="$(mktemp -d)"
cleanup() {
  rm -rf "${tmp}"
  if [[ "${KEEP_CLUSTER:-0}" == 1 ]]; then
    echo "cluster left running: export CEPH_CONF=${CEPH_CONF}"
    echo "stop it with: ${top}/src/vstart.sh stop --dir ${cluster}"
  else
    "${top}/src/vstart.sh" stop --dir "${cluster}" >&2
  fi
}
trap cleanup EXIT

RBD=/usr/bin/rbd                 # stock tool: I/O, export, flatten
SRBD="${build}/bin/rbd"          # this project's rbd: clone-standalone, children, ...

step() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "The OSD loaded the overlay (OSD log):"
for _ in $(seq 40); do  # the OSD log is written asynchronously
  grep -qh 'standalone-clone overlay' "${cluster}"/log/osd.*.log && break
  sleep 0.5
done
grep -h 'standalone-clone overlay' "${cluster}"/log/osd.*.log | sed 's/^.*<cls> [^ ]* //'

step "A 64 MiB golden image with 16 MiB of data"
run ${RBD} create rbd/golden --size 64M
run ${RBD} bench --io-type write --io-size 4M --io-total 16M --io-pattern seq rbd/golden >/dev/null

step "Standalone clones of its HEAD: no snapshot to create or protect"
run ${SRBD} clone-standalone rbd/golden rbd/vm1
run ${SRBD} clone-standalone rbd/golden rbd/vm2
run ${SRBD} info rbd/vm1
run ${SRBD} children rbd/golden
run ${SRBD} ls -l

step "The child reads the parent's data (stock rbd export)"
${RBD} export rbd/golden "${tmp}/golden" >/dev/null 2>&1
${RBD} export rbd/vm1 "${tmp}/vm1" >/dev/null 2>&1
run md5sum "${tmp}/golden" "${tmp}/vm1"

step "A write to the child copies up; the parent is untouched"
run ${RBD} bench --io-type write --io-size 4K --io-total 64K --io-pattern rand rbd/vm1 >/dev/null
rm -f "${tmp}/vm1" "${tmp}/golden2"
${RBD} export rbd/vm1 "${tmp}/vm1" >/dev/null 2>&1
${RBD} export rbd/golden "${tmp}/golden2" >/dev/null 2>&1
run md5sum "${tmp}/golden" "${tmp}/golden2" "${tmp}/vm1"
run ${RBD} object-map check --no-progress rbd/vm1
run ${SRBD} object-map view rbd/vm1

step "The parent is fenced while it has children: every client reads it, none writes it"
refused() {
  printf '$ %s\n' "$*"
  if "$@" >"${tmp}/out" 2>&1; then echo "UNEXPECTED: it succeeded"; exit 1; fi
  grep -m1 -E '^rbd:|rror' "${tmp}/out" || tail -1 "${tmp}/out"
}
run ${RBD} info rbd/golden
refused ${SRBD} rm rbd/golden
refused ${RBD} rm --no-progress rbd/golden
refused ${RBD} resize --size 128M rbd/golden
refused ${RBD} snap create rbd/golden@s
printf '$ python3-rbd: rbd.Image(ioctx, "golden").write(...)\n'
/usr/bin/python3 -c '
import rados, rbd
c = rados.Rados(conffile=""); c.connect(); io = c.open_ioctx("rbd")
with rbd.Image(io, "golden") as img:  # the default open is read-write
    print("read", len(img.read(0, 4096)), "bytes")
    try:
        img.write(b"x" * 4096, 0)
    except rbd.ReadOnlyImage as e:
        print("write refused:", e)
'
if command -v qemu-img >/dev/null; then
  run qemu-img compare -f raw -F raw "rbd:rbd/golden:conf=${CEPH_CONF}" "rbd:rbd/vm2:conf=${CEPH_CONF}"
fi

step "Stock flatten and rm ask the parent to detach the children; this rbd checks and completes"
run ${RBD} flatten --no-progress rbd/vm1
run ${SRBD} children rbd/golden
run ${RBD} rm --no-progress rbd/vm2
run ${SRBD} children rbd/golden
run ${RBD} info rbd/golden
run ${SRBD} rm --no-progress rbd/golden
rm -f "${tmp}/vm1b"
${RBD} export rbd/vm1 "${tmp}/vm1b" >/dev/null 2>&1
run md5sum "${tmp}/vm1" "${tmp}/vm1b"
printf '\nDone.\n'
