#!/usr/bin/env bash
# Package test: build the Debian package from this tree (CPack, in its own
# build dir), install it with apt, start a cluster whose OSDs load the
# INSTALLED overlay class dir, and run a short demo with the installed
# rbd-standalone and /usr/bin/python3 + the installed rbd_standalone module
# only (no build-tree path, no PYTHONPATH).  Then the rolling deployment:
# roll the OSDs back to the stock class dir one at a time (the parent stays
# fenced, clone-standalone refuses cleanly), deploy again, finish the demo.
# Uninstalls the package at the end: the machine is left as found.
#
# Usage: qa/workunits/rbd/package_install.sh [--build-dir DIR] [--mon-port P]
#   --build-dir  package build dir (default: <tree>/build/pkg; reused if there)
#   --mon-port   18400..18599 (default 18450)
# Needs root (apt) and the build dependencies of ./install-deps.sh.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../../.." && pwd)"
PKG_BUILD="${TOP}/build/pkg"
PORT=18450
while (($#)); do
  case "$1" in
    --build-dir) PKG_BUILD="$2"; shift 2 ;;
    --mon-port) PORT="$2"; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--mon-port P]" >&2; exit 2 ;;
  esac
done

readonly MULTIARCH=x86_64-linux-gnu
readonly CLASS_DIR="/usr/lib/${MULTIARCH}/rbd-standalone/rados-classes"
readonly STOCK_DIR="/usr/lib/${MULTIARCH}/rados-classes"
readonly LIB="/usr/lib/${MULTIARCH}/librbd_standalone.so.1"
readonly CLI=/usr/bin/rbd-standalone
readonly PY=/usr/bin/python3
readonly VSTART="${TOP}/src/vstart.sh"
readonly DEPLOY="${TOP}/src/tools/rbd_standalone_deploy.sh"
T0=${SECONDS}

step() { printf '\n=== [%3ds] %s\n' $((SECONDS - T0)) "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

((EUID == 0)) || fail "must run as root (apt install)"
((PORT >= 18400 && PORT <= 18599)) || fail "--mon-port must be in 18400..18599"
# A run killed by CTest's timeout (SIGKILL: no trap runs) leaves its
# cluster and the package behind.  The cluster lives in a fixed directory,
# so the next start stops it; the package is purged only if this test's
# marker says it installed it, never a package someone else installed.
MARKER="${PKG_BUILD}/.package-test-installed"
if dpkg-query -W -f='${db:Status-Status}' rbd-standalone 2>/dev/null | grep -qx installed; then
  [[ -e "${MARKER}" ]] ||
    fail "rbd-standalone is already installed; remove it first (apt-get remove rbd-standalone)"
  echo "purging the package a killed run of this test left installed"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y rbd-standalone >/dev/null
fi
rm -f -- "${MARKER}"

CLUSTER="${PKG_BUILD}/test-cluster"
mkdir -p "${CLUSTER}"
"${VSTART}" stop --dir "${CLUSTER}" >/dev/null 2>&1 || true
WORK="$(mktemp -d /tmp/pkg-work.XXXXXX)"
INSTALLED=0
cleanup() {
  local rc=$?
  set +e
  [[ -e "${CLUSTER}/.vstart-cluster" ]] && "${VSTART}" stop --dir "${CLUSTER}" >/dev/null 2>&1
  if ((INSTALLED)); then
    if DEBIAN_FRONTEND=noninteractive apt-get purge -y rbd-standalone >"${WORK}/remove.log" 2>&1; then
      rm -f -- "${MARKER}"
    else
      cat "${WORK}/remove.log" >&2
      rc=1
    fi
  fi
  rm -rf -- "${WORK}"
  printf '\n%s after %ds\n' "$([[ ${rc} == 0 ]] && echo PASSED || echo FAILED)" $((SECONDS - T0))
  exit "${rc}"
}
trap cleanup EXIT

# Everything below runs without the build tree: no PYTHONPATH, no
# LD_LIBRARY_PATH, from a neutral directory.
unset PYTHONPATH LD_LIBRARY_PATH LD_PRELOAD
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

stock_listing() { (cd "${STOCK_DIR}" && find . -printf '%p %y %s %T@ %l\n' | sort); }
stock_listing >"${WORK}/stock.before"

# --------------------------------------------------------------- build ---
step "build the package (${PKG_BUILD})"
cmake -S "${TOP}" -B "${PKG_BUILD}" -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_BUILD_TYPE=Release -DRBD_STANDALONE_PACKAGE_BUILD=ON >"${WORK}/cmake.log" || { cat "${WORK}/cmake.log"; fail cmake; }
# Only what the package ships (the test suites are not needed here).
cmake --build "${PKG_BUILD}" -j2 --target rbd rbd_standalone_shared cls_rbd_overlay \
  pybind_rbd_standalone rbd_standalone_man >"${WORK}/build.log" 2>&1 ||
  { tail -30 "${WORK}/build.log"; fail "build"; }
rm -f "${PKG_BUILD}"/rbd-standalone_*.deb
(cd "${PKG_BUILD}" && cpack -G DEB >"${WORK}/cpack.log" 2>&1) || { cat "${WORK}/cpack.log"; fail cpack; }
DEB="$(ls "${PKG_BUILD}"/rbd-standalone_*.deb)"
ok "built ${DEB##*/}"
dpkg-deb -f "${DEB}" Package Version Architecture Depends
dpkg-deb -c "${DEB}" | awk '{print $1, $6 ($7 == "->" ? " -> " $8 : "")}' >"${WORK}/contents"
cat "${WORK}/contents"
grep -q ' \./usr/bin/rbd-standalone$' "${WORK}/contents" || fail "no /usr/bin/rbd-standalone in the package"
! grep -q ' \./usr/bin/rbd$' "${WORK}/contents" || fail "the package ships /usr/bin/rbd (shadows the stock tool)"
! grep -q " \.${STOCK_DIR}/" "${WORK}/contents" || fail "the package ships files in the stock class dir"
grep -q " \.${CLASS_DIR}/libcls_rbd.so\$" "${WORK}/contents" || fail "no overlay in ${CLASS_DIR}"
for want in "Depends:.*ceph-osd (>= 16\.2\.[0-9]*), ceph-osd (<< 16\.3)" "python3-rbd (>= 16\.2" "librbd1 (>= 16\.2"; do
  dpkg-deb -f "${DEB}" Depends | sed 's/^/Depends: /' | grep -q "${want}" || fail "Depends lacks ${want}"
done

# ------------------------------------------------------------- install ---
step "apt install ./${DEB##*/}"
cp "${DEB}" "${WORK}/"
touch "${MARKER}"
INSTALLED=1
(cd "${WORK}" && DEBIAN_FRONTEND=noninteractive apt-get install -y "./${DEB##*/}" >"${WORK}/install.log" 2>&1) ||
  { cat "${WORK}/install.log"; fail "apt install"; }
tail -3 "${WORK}/install.log"
cd /

step "installed files: sonames, exports, no RUNPATH, no build-tree path"
readelf -d "${LIB}" | grep -q 'SONAME.*\[librbd_standalone\.so\.1\]' || fail "soname of ${LIB}"
PYMOD="$(ls /usr/lib/python3/dist-packages/rbd_standalone.cpython-*.so)"
for f in "${CLI}" "${LIB}" "${CLASS_DIR}/libcls_rbd.so" "${PYMOD}"; do
  ! readelf -d "${f}" | grep -Eq 'RUNPATH|RPATH' || fail "${f} has a RUNPATH/RPATH: $(readelf -d "${f}" | grep -E 'RUNPATH|RPATH')"
  ! strings "${f}" | grep -qF "${TOP}/build" || fail "${f} names the build tree"
done
for f in "${CLI}" "${PYMOD}"; do
  ldd "${f}" >"${WORK}/ldd"
  ! grep -q 'not found' "${WORK}/ldd" || fail "${f}: $(grep 'not found' "${WORK}/ldd")"
  ! grep -qF "${TOP}" "${WORK}/ldd" || fail "${f} resolves a library in the tree"
done
# (merged /usr: the loader may name it /lib/...)
grep -Eq "librbd_standalone\.so\.1 => (/usr)?/lib/${MULTIARCH}/librbd_standalone\.so\.1 " <(ldd "${PYMOD}") ||
  fail "the module does not use ${LIB}: $(ldd "${PYMOD}" | grep rbd_standalone)"
ok "SONAME librbd_standalone.so.1; no RUNPATH; ldd clean"
# Exactly the functions the installed headers declare, all in the version node.
${PY} "${TOP}/cmake/check_exports.py" "${LIB}" /usr/include/rbd/standalone.h /usr/include/rbd/standalone.hpp ||
  fail "${LIB} does not export exactly the public API"
nm -D --defined-only "${LIB}" | c++filt | sed -n '1,4p;$p'
cat >"${WORK}/t.c" <<'EOF'
#include <rbd/standalone.h>
int main(void) { return rbd_standalone_last_error() == 0; }
EOF
# shellcheck disable=SC2046
gcc -o "${WORK}/t" "${WORK}/t.c" $(pkg-config --cflags --libs rbd-standalone) && "${WORK}/t" ||
  fail "a C program built with pkg-config rbd-standalone"
ok "pkg-config rbd-standalone: $(pkg-config --libs rbd-standalone)"
[[ -f /usr/share/man/man8/rbd-standalone.8.gz ]] || fail "no man page"
/usr/libexec/rbd-standalone/link-stock-classes --check
[[ "$(command -v rbd-standalone)" == "${CLI}" ]] || fail "rbd-standalone is not ${CLI}"
[[ "$(command -v rbd)" == /usr/bin/rbd ]] || fail "rbd is no longer the stock tool"
(ulimit -v 8000000; cd / && ${PY} -c 'import rbd_standalone; print(rbd_standalone.__file__)') >"${WORK}/pyfile"
[[ "$(cat "${WORK}/pyfile")" == "${PYMOD}" ]] || fail "python imports rbd_standalone from $(cat "${WORK}/pyfile")"
ok "python3 imports ${PYMOD}"

# ------------------------------------------------------------- cluster ---
step "cluster: 2 OSDs and a mgr (ok-to-stop), class dir ${CLASS_DIR} (installed)"
eval "$("${VSTART}" start --dir "${CLUSTER}" --mon-port "${PORT}" --osds 2 --mgr --class-dir "${CLASS_DIR}" 2>"${WORK}/vstart.log")" ||
  { cat "${WORK}/vstart.log"; fail "vstart"; }
# Every pool size 2, min_size 1: either OSD may stop without making a PG
# inactive, so "ceph osd ok-to-stop" can agree during the rolling restarts.
for pool in $(ceph osd pool ls); do
  ceph osd pool set "${pool}" size 2 --yes-i-really-mean-it >/dev/null 2>&1
  ceph osd pool set "${pool}" min_size 1 >/dev/null 2>&1
done
# Straight onto the installed dir (not vstart's links to it), the way a
# deployment does it: rolling, guarded by ok-to-stop.
"${DEPLOY}" deploy --dir "${CLUSTER}" --class-dir "${CLASS_DIR}" --vstart "${VSTART}"
"${DEPLOY}" status --dir "${CLUSTER}"

pyrun() { (ulimit -v 8000000; ${PY} - "$@"); }
md5() { rbd-standalone export --no-progress "$1" - 2>/dev/null | md5sum | cut -d' ' -f1; }
refused() {
  if "$@" >"${WORK}/out" 2>&1; then fail "succeeded, should not have: $*"; fi
  echo "refused as expected: $* -> $(grep -m1 -iE 'error|rbd:|fail|refus' "${WORK}/out" || tail -1 "${WORK}/out")"
}
# The parent's write through python3-rbd: prints "EROFS" or "written".
parent_write() {
  pyrun <<'EOF'
import rados, rbd
c = rados.Rados(conffile=""); c.connect()
io = c.open_ioctx("rbd")
try:
    with rbd.Image(io, "parent") as img:
        try:
            img.write(b"w" * 4096, 0)
            print("written")
        except rbd.ReadOnlyImage:
            print("EROFS")
finally:
    io.close(); c.shutdown()
EOF
}

step "demo: clone-standalone with the installed CLI and module"
rbd-standalone create rbd/parent --size 32M --image-feature layering,exclusive-lock,object-map,fast-diff
rbd-standalone bench --io-type write --io-size 1M --io-total 8M --io-pattern seq rbd/parent >/dev/null
rbd-standalone clone-standalone rbd/parent rbd/child
pyrun <<'EOF'
import rados, rbd, rbd_standalone
c = rados.Rados(conffile=""); c.connect()
io = c.open_ioctx("rbd")
rbd.RBD().clone_standalone(io, "parent", io, "child2")
kids = sorted(ch["image"]
              for ch in rbd.RBD().list_children_standalone(io, "parent"))
print("children of parent:", kids)
assert kids == ["child", "child2"], kids
io.close(); c.shutdown()
EOF
rbd-standalone info rbd/child | grep -E 'parent' || true
P="$(md5 rbd/parent)"; C="$(md5 rbd/child)"; C2="$(md5 rbd/child2)"
[[ "${P}" == "${C}" && "${P}" == "${C2}" ]] || fail "data differ: parent ${P} child ${C} child2 ${C2}"
ok "children read the parent's data (md5 ${P})"
[[ "$(parent_write)" == EROFS ]] || fail "a write to the fenced parent was not refused"
ok "parent write refused (EROFS)"
refused rbd-standalone snap create rbd/parent@s
# The installed CLI's per-OSD report (it writes nothing, so an OSD that is
# primary of no object yet may be "unknown"; none may lack the overlay).
rbd-standalone overlay status --format json >"${WORK}/overlay.json"
jq -e 'any(.[]; .overlay == "running" and .version >= 4) and
       all(.[]; .overlay == "running" or .overlay == "unknown")' "${WORK}/overlay.json" >/dev/null ||
  fail "overlay status after the deploy: $(cat "${WORK}/overlay.json")"
ok "rbd-standalone overlay status: the OSDs run overlay v$(jq -r 'map(select(.version)) | .[0].version' "${WORK}/overlay.json")"

step "rollback: OSDs onto the stock class dir, one at a time"
"${DEPLOY}" rollback --dir "${CLUSTER}" --vstart "${VSTART}"
"${DEPLOY}" status --dir "${CLUSTER}" | tee "${WORK}/status"
! grep -q ' v[0-9]' "${WORK}/status" || fail "an OSD still runs the overlay"
rbd-standalone overlay status --format json >"${WORK}/overlay.json"
jq -e 'any(.[]; .overlay == "absent") and all(.[]; .overlay != "running")' \
  "${WORK}/overlay.json" >/dev/null || fail "overlay status after the rollback: $(cat "${WORK}/overlay.json")"
ok "rbd-standalone overlay status: no OSD runs the overlay after the rollback"
[[ "$(parent_write)" == EROFS ]] || fail "the parent is not fenced on stock OSDs"
ok "parent still fenced on stock OSDs (stock write refused: EROFS)"
refused /usr/bin/rbd resize --size 64M rbd/parent
[[ "$(md5 rbd/child)" == "${P}" ]] || fail "child data changed after the rollback"
ok "child still reads its parent"
refused rbd-standalone clone-standalone rbd/parent rbd/child3
grep -qiE 'overlay|not supported|EOPNOTSUPP' "${WORK}/out" || fail "clone refusal does not say why: $(cat "${WORK}/out")"
! rbd-standalone ls rbd | grep -qx child3 || fail "a refused clone left rbd/child3"
ok "clone-standalone refused cleanly, nothing created"

step "deploy again, finish: flatten, rm, fence lifted"
"${DEPLOY}" deploy --dir "${CLUSTER}" --vstart "${VSTART}"
rbd-standalone flatten --no-progress rbd/child
rbd-standalone rm --no-progress rbd/child2
rbd-standalone children rbd/parent | tee "${WORK}/children"
! grep -q child "${WORK}/children" || fail "children left"
[[ "$(parent_write)" == written ]] || fail "the fence was not lifted"
ok "parent writable again"
[[ "$(md5 rbd/child)" == "${P}" ]] || fail "flattened child lost data"
ok "flattened child keeps the data"

step "stop the cluster, uninstall"
"${VSTART}" stop --dir "${CLUSTER}" >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive apt-get remove -y rbd-standalone >"${WORK}/remove.log" 2>&1 ||
  { cat "${WORK}/remove.log"; fail "apt-get remove"; }
[[ ! -e "${CLASS_DIR}" && ! -e "${CLI}" && ! -e "${LIB}" ]] || fail "files left after apt-get remove"
# The maintainer scripts keep a removed package in state "rc"; purge it.
DEBIAN_FRONTEND=noninteractive apt-get purge -y rbd-standalone >>"${WORK}/remove.log" 2>&1 ||
  { cat "${WORK}/remove.log"; fail "apt-get purge"; }
! dpkg-query -W rbd-standalone >/dev/null 2>&1 || fail "rbd-standalone still known to dpkg"
INSTALLED=0
rm -f -- "${MARKER}"
stock_listing | diff "${WORK}/stock.before" - || fail "the stock class dir changed"
ok "removed; stock class dir unchanged"
