#!/usr/bin/env bash
# Upgrade in place from overlay v2 (the main before the stored fence): a
# parent fenced by v2 (marker only) and its children, made with the v2
# tools; the OSD restarted on the v3 overlay.  Until converted the v2
# guard still refuses read-write opens; `rbd children PARENT` converts it;
# old children keep reading, new clones work, detaches lift the fence.
#
#   upgrade_from_v2.sh OLD_BUILD NEW_BUILD [MON_PORT]
# OLD_BUILD: a build of the v2 tree (git worktree add /tmp/v2 1aaac2c, then
# cmake); not in CTest, as it needs that second build.
set -euo pipefail
old="$1"
new="$2"
port="${3:-19100}"
here="$(cd "$(dirname "$0")" && pwd)"
vstart="${here}/../../../src/vstart.sh"
PASSED=0
# shellcheck source=qa/workunits/rbd/common.sh
source "${here}/common.sh"
dir="$(mktemp -d /tmp/upgrade.XXXXXX)"
trap '"${vstart}" stop --dir "${dir}/c" >/dev/null 2>&1 || true; rm -rf "${dir}"' EXIT

eval "$("${vstart}" start --dir "${dir}/c" --mon-port "${port}" \
          --class-dir "${old}/lib/rados-classes" 2>/dev/null)"
rbd create rbd/p --size 16M
rbd bench --io-type write --io-size 4M --io-total 16M rbd/p >/dev/null
"${old}/bin/rbd" clone-standalone rbd/p rbd/c1 >/dev/null
"${old}/bin/rbd" clone-standalone rbd/p rbd/c2 >/dev/null
rbd export --no-progress rbd/p "${dir}/p" >/dev/null 2>&1
cls() { /usr/bin/python3 "${here}/cls_standalone.py" "$@"; }
expect_eq "v2 overlay loaded" "overlay v2 on ceph" "$(cls info rbd/p | cut -d' ' -f1-4)"

ln -sfn "${new}/lib/rados-classes/libcls_rbd.so" "${dir}/c/rados-classes/libcls_rbd.so"
"${vstart}" restart-osd 0 --dir "${dir}/c" >/dev/null 2>&1
expect_eq "v3 overlay loaded after the restart" "overlay v3 on ceph" "$(cls info rbd/p | cut -d' ' -f1-4)"
rw_write() {
  /usr/bin/python3 -c '
import rados, rbd, sys
c = rados.Rados(conffile=""); c.connect(); io = c.open_ioctx("rbd")
try:
    img = rbd.Image(io, "p")
except rbd.Error as e:
    print("open", type(e).__name__); sys.exit()
try:
    img.write(b"x" * 4096, 0); print("wrote")
except rbd.Error as e:
    print("write", type(e).__name__)
img.close()'
}
expect_eq "unconverted v2 parent: read-write open still refused" "open FunctionNotSupported" "$(rw_write)"
expect_eq "rbd children lists the v2 children (and converts)" "rbd/c1 rbd/c2" \
  "$("${new}/bin/rbd" children rbd/p | tr '\n' ' ' | sed 's/ $//')"
expect_contains "converted: non-primary" "$(rbd info rbd/p)" "non-primary"
expect_eq "converted: the fence's lock" "standalone-parent-fence" \
  "$(rbd lock ls --format json rbd/p | jq -r '.[].id')"
expect_eq "converted parent opens read-write, refuses the write" "write ReadOnlyImage" "$(rw_write)"
rbd export --no-progress rbd/c1 "${dir}/c1" >/dev/null 2>&1
expect_ok "old child c1 reads the parent" cmp -s "${dir}/p" "${dir}/c1"
expect_ok "new clone of the converted parent" "${new}/bin/rbd" clone-standalone rbd/p rbd/c3
rbd export --no-progress rbd/c3 "${dir}/c3" >/dev/null 2>&1
expect_ok "new child c3 reads the parent" cmp -s "${dir}/p" "${dir}/c3"
expect_ok "stock flatten of old child c1" rbd flatten --no-progress rbd/c1
expect_ok "rm c2" "${new}/bin/rbd" rm --no-progress rbd/c2
expect_ok "rm c3" "${new}/bin/rbd" rm --no-progress rbd/c3
expect_eq "no children left" "" "$("${new}/bin/rbd" children rbd/p)"
expect_not_contains "the fence is gone" "$(rbd info rbd/p)" "non-primary"
expect_eq "parent writable again" "wrote" "$(rw_write)"
echo "${PASSED} passed, 0 failed"
