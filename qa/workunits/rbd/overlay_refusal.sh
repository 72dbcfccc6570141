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
grep -q 'No such file or directory\|errno 2' "${dir}/link.out" ||
  fail "stock child_attach(CEPH_NOSNAP) should fail with ENOENT: $(tail -1 "${dir}/link.out")"
rbd info rp/p | grep -q 'op_features: *$' || fail "parent got op features"
pass "child_attach(CEPH_NOSNAP) is stock's ENOENT and marks nothing"

set +e
"${rbd_cli}" clone-standalone rp/p rp/k2 >"${dir}/clone.out" 2>&1
rc=$?
set -e
[[ ${rc} == 95 ]] || fail "clone-standalone without the overlay: want exit 95, got ${rc}: $(cat "${dir}/clone.out")"
grep -q "do not run the cls_rbd standalone-clone overlay: install" "${dir}/clone.out" ||
  fail "clone-standalone does not say what to deploy: $(cat "${dir}/clone.out")"
rbd ls rp | grep -qx k2 && fail "clone-standalone left an image behind"
rbd info rp/p | grep -q 'op_features: *$' || fail "clone-standalone marked the parent"
pass "clone-standalone without the overlay: EOPNOTSUPP, says what to deploy, creates nothing"

# 2. Stock class missing: the log says the class has no methods.
start_cluster CLS_RBD_OVERLAY_STOCK_LIBRARY=/nonexistent/libcls_rbd.so.1
log_has "NOT overriding anything: cannot load stock cls_rbd" ||
  fail "no refusal line for a missing stock class"
log_has "stock cls_rbd unavailable too, class rbd has no methods" ||
  fail "missing stock class not reported"
pass "a missing stock class is logged"

echo "${passed} passed, 0 failed"
