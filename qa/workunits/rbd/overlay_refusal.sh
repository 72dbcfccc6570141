#!/usr/bin/env bash
# The overlay must refuse to override anything, say so in the OSD log, and
# leave stock cls_rbd working, when the OSD is not the Ceph 16.2.x it was
# written for; and say so when the stock class cannot be loaded.  Starts
# its own clusters, with the conditions put into the OSD's environment.
#
#   overlay_refusal.sh VSTART CLASS_DIR [MON_PORT]
# RBD_CLI: the project's rbd (default: build/bin/rbd of this checkout).
set -euo pipefail

vstart="$1"
class_dir="$2"
port="${3:-17350}"
here="$(cd "$(dirname "$0")" && pwd)"
rbd_cli="${RBD_CLI:-${here}/../../../build/bin/rbd}"
cls="/usr/bin/python3 ${here}/cls_standalone.py"
dir="$(mktemp -d /tmp/overlay-refusal.XXXXXX)"
passed=0

stop_cluster() { "${vstart}" stop --dir "${dir}/c" >/dev/null 2>&1 || true; }
trap 'stop_cluster; rm -rf "${dir}"' EXIT

pass() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*" >&2; echo "${passed} passed, 1 failed"; exit 1; }

start_cluster() {
  stop_cluster
  rm -rf "${dir}/c"
  eval "$(env "$@" "${vstart}" start --dir "${dir}/c" --mon-port "${port}" \
            --class-dir "${class_dir}" --pool '' 2>"${dir}/start.err")" ||
    { cat "${dir}/start.err" >&2; fail "cluster did not start"; }
}

osd_log() { cat "${dir}"/c/log/osd.*.log; }
# The OSD log is written asynchronously: wait for a line to appear.
log_has() {
  local deadline=$((SECONDS + 20))
  until osd_log | grep -q "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# 1. An OSD that is not 16.2.x: nothing overridden, stock rbd intact.
start_cluster CLS_RBD_OVERLAY_TEST_CEPH_VERSION=17.2.7
log_has "NOT overriding anything: OSD is Ceph '17.2.7', the overlay targets 16.2.x" ||
  fail "no refusal line in the OSD log"
pass "refusal for Ceph 17.2.7 is logged"
osd_log | grep -Eq "standalone-clone overlay v[0-9]+ loaded" && fail "overlay claims to be loaded"
pass "no 'loaded' line"

ceph osd pool create rp 8 8 >/dev/null 2>&1
rbd pool init rp
rbd create rp/p --size 8M
rbd bench --io-type write --io-size 1M --io-total 8M rp/p >/dev/null
rbd snap create rp/p@s >/dev/null 2>&1
rbd snap protect rp/p@s
rbd clone rp/p@s rp/c
[[ "$(rbd children rp/p@s)" == "rp/c" ]] || fail "stock clone/children broken"
rbd flatten --no-progress rp/c
rbd snap unprotect rp/p@s
pass "stock create/snap/protect/clone/children/flatten work"

set +e
${cls} info rp/p >"${dir}/info.out" 2>&1
rc=$?
set -e
[[ ${rc} == 2 ]] || fail "overlay info should say absent (exit 2), got ${rc}: $(cat "${dir}/info.out")"
pass "standalone_overlay_info is absent (EOPNOTSUPP)"

rbd create rp/k --size 8M
if ${cls} link rp/p rp/k >"${dir}/link.out" 2>&1; then
  fail "a standalone link was accepted without the overlay"
fi
grep -q 'Operation not supported\|errno 95' "${dir}/link.out" ||
  fail "the link's first overlay method should be EOPNOTSUPP: $(tail -1 "${dir}/link.out")"
rbd info rp/p | grep -q 'op_features: *$' || fail "parent got op features"
pass "the overlay's link methods are EOPNOTSUPP and mark nothing"

set +e
"${rbd_cli}" clone-standalone rp/p rp/k2 >"${dir}/clone.out" 2>&1
rc=$?
set -e
[[ ${rc} == 95 ]] || fail "clone-standalone without the overlay: want exit 95, got ${rc}: $(cat "${dir}/clone.out")"
grep -q "osd\.[0-9]* (serving the parent image's header in pool rp) does not run the cls_rbd standalone-clone overlay: point every OSD's 'osd class dir'" "${dir}/clone.out" ||
  fail "clone-standalone does not say which OSD lacks the overlay and what to deploy: $(cat "${dir}/clone.out")"
rbd ls rp | grep -qx k2 && fail "clone-standalone left an image behind"
rbd info rp/p | grep -q 'op_features: *$' || fail "clone-standalone marked the parent"
pass "clone-standalone without the overlay: EOPNOTSUPP, names the OSD, says what to deploy, creates nothing"

"${rbd_cli}" overlay status --format json >"${dir}/status.json" ||
  fail "overlay status failed: $(cat "${dir}/status.json")"
jq -e 'length > 0 and all(.[]; .up and .overlay == "absent")' "${dir}/status.json" >/dev/null ||
  fail "overlay status should report every OSD without the overlay: $(cat "${dir}/status.json")"
pass "rbd overlay status reports each OSD of a stock cluster as running no overlay"

# 2. Stock class missing: the log says the class has no methods.
start_cluster CLS_RBD_OVERLAY_STOCK_LIBRARY=/nonexistent/libcls_rbd.so.1
log_has "NOT overriding anything: cannot load stock cls_rbd" ||
  fail "no refusal line for a missing stock class"
log_has "stock cls_rbd unavailable too, class rbd has no methods" ||
  fail "missing stock class not reported"
pass "a missing stock class is logged"

# 3. Parents fenced by the overlay, then an OSD that comes back without it
# (refusal path, or a rolled-back deploy): the fence is stored in the
# header as stock enforces it, so stock writers still fail and every
# reader still reads; the registry waits for the overlay to come back.
start_cluster
ceph osd pool create rbd 8 8 >/dev/null 2>&1
rbd pool init rbd
rbd create rbd/fp --size 16M
rbd bench --io-type write --io-size 4M --io-total 16M --io-pattern seq rbd/fp >/dev/null
"${rbd_cli}" clone-standalone rbd/fp rbd/fc >/dev/null || fail "clone-standalone failed"
"${rbd_cli}" clone-standalone rbd/fp rbd/fc2 >/dev/null || fail "clone-standalone failed"
rbd export --no-progress rbd/fp "${dir}/fp.orig" >/dev/null 2>&1
CLS_RBD_OVERLAY_TEST_CEPH_VERSION=17.2.7 "${vstart}" restart-osd 0 --dir "${dir}/c" >/dev/null 2>&1 ||
  fail "restart of osd.0 on the refusal path failed"
log_has "NOT overriding anything: OSD is Ceph '17.2.7'" || fail "the OSD did not take the refusal path"
${cls} info rbd/fp >/dev/null 2>&1 && fail "the overlay still answers after the restart"
pass "osd.0 restarted without the overlay"
expect_refused() {  # DESC CMD...: must fail with EROFS
  local out
  if out="$("$@" 2>&1)"; then fail "$1 succeeded on a fenced parent without the overlay"; fi
  [[ "${out}" == *"Read-only file system"* ]] || fail "$*: want EROFS, got: ${out}"
}
expect_refused rbd bench --io-type write --io-size 4K --io-total 64K rbd/fp
expect_refused rbd resize --no-progress --size 32M rbd/fp
expect_refused rbd snap create --no-progress rbd/fp@x
expect_refused rbd rm --no-progress rbd/fp
pyout="$(/usr/bin/python3 -c '
import rados, rbd
c = rados.Rados(conffile=""); c.connect(); io = c.open_ioctx("rbd")
with rbd.Image(io, "fp") as img:
    try:
        img.write(b"x" * 4096, 0); print("wrote")
    except rbd.ReadOnlyImage:
        print("EROFS")
' 2>&1)"
[[ "${pyout}" == EROFS ]] || fail "python3-rbd write to the fenced parent: ${pyout}"
pass "stock rbd and python3-rbd writes, resize, snapshot, rm: EROFS"
rbd export --no-progress rbd/fp "${dir}/fp.now" >/dev/null 2>&1
cmp -s "${dir}/fp.orig" "${dir}/fp.now" || fail "the parent changed"
rbd export --no-progress rbd/fc "${dir}/fc.now" >/dev/null 2>&1
cmp -s "${dir}/fp.orig" "${dir}/fc.now" || fail "the child does not read the parent's data"
if command -v qemu-img >/dev/null; then
  qemu-img convert -f raw -O raw "rbd:rbd/fp:conf=${CEPH_CONF}" "${dir}/fp.qemu" ||
    fail "qemu-img could not read the parent"
  cmp -s "${dir}/fp.orig" "${dir}/fp.qemu" || fail "qemu-img read other data"
fi
pass "the parent and its child read the same data (rbd export, qemu-img)"
set +e
"${rbd_cli}" clone-standalone rbd/fp rbd/fc3 >"${dir}/clone3.out" 2>&1
rc=$?
set -e
[[ ${rc} == 95 ]] || fail "clone-standalone without the overlay: want exit 95, got ${rc}"
rbd flatten --no-progress rbd/fc >/dev/null 2>&1 || fail "stock flatten of a child failed"
rbd rm --no-progress rbd/fc2 >/dev/null 2>&1 || fail "stock rm of a child failed"
expect_refused rbd bench --io-type write --io-size 4K --io-total 64K rbd/fp
pass "stock flatten/rm of the children work; the parent stays fenced (no OSD to drop the entries)"
"${vstart}" restart-osd 0 --dir "${dir}/c" >/dev/null 2>&1 || fail "restart of osd.0 with the overlay failed"
${cls} info rbd/fp >/dev/null 2>&1 || fail "the overlay is not back"
# Stock rbd bench exits on a refused write without closing the image: its
# watch lingers until the watch timeout (30 s), and rm waits that out.
for _ in $(seq 1 45); do
  "${rbd_cli}" rm --no-progress rbd/fp >"${dir}/rmfp.out" 2>&1 && break
  grep -q 'image still has watchers' "${dir}/rmfp.out" || break
  sleep 1
done
"${rbd_cli}" info rbd/fp >/dev/null 2>&1 &&
  fail "with the overlay back, rbd rm of the parent (dropping the finished entries) failed: $(cat "${dir}/rmfp.out"; "${rbd_cli}" children --all rbd/fp)"
pass "overlay back: the project's rbd rm drops the finished entries and removes the parent"

echo "${passed} passed, 0 failed"
