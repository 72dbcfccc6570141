#!/usr/bin/env bash
# Stock RBD flows on ordinary images, on a cluster whose OSDs load the
# standalone-clone overlay of cls_rbd: they must behave exactly as on stock
# Ceph 16.2.  Only the stock tools are used (/usr/bin/rbd, python3-rbd).
#
# Needs CEPH_CONF pointing at a running cluster with the overlay loaded:
#   eval "$(src/vstart.sh start --dir /tmp/wu-x --mon-port 40300 \
#           --class-dir build/lib/rados-classes)"
#   qa/workunits/rbd/stock_regression.sh
# It fails (never skips) if that cluster cannot be reached or does not run
# the overlay.
#
# Optionally STOCK_CEPH_CONF points at a second cluster running the stock
# cls_rbd (src/vstart.sh start without --class-dir, other --mon-port and
# --dir): then one representative sequence is run on both clusters and its
# JSON outputs and exit codes, normalised for ids and timestamps, must be
# identical.  Without STOCK_CEPH_CONF that comparison is not run (said
# loudly); every other check always runs.
#
# Everything lives in a pool of its own on each cluster, removed on exit.
set -euo pipefail

readonly RBD=/usr/bin/rbd
readonly PY=/usr/bin/python3
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CLS_STANDALONE="${HERE}/cls_standalone.py"
readonly CMD_TIMEOUT="${CMD_TIMEOUT:-300}"

readonly MIB=$((1 << 20))
readonly OBJ=$((4 * MIB))

PASSED=0
FINISHED=0
POOL="stockreg-$$"
POOL_CREATED=0
# The parity sequence runs in a fresh pool of the same name on each cluster.
PARITY_POOL="stockreg-parity-$$"
PARITY_POOL_OVERLAY=0
PARITY_POOL_STOCK=0
TMP=""

# ------------------------------------------------------------ reporting ---

# shellcheck source=qa/workunits/rbd/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ---------------------------------------------------------------- tools ---

rbd() { timeout "${CMD_TIMEOUT}" "${RBD}" "$@"; }

info_json() { rbd info --format json "$1"; }
features_of() { info_json "$1" | jq -r '.features | join(",")'; }
op_features_of() { info_json "$1" | jq -r '.op_features | join(",")'; }
flags_of() { info_json "$1" | jq -r '.flags | join(",")'; }
snap_names() { rbd snap ls --format json "$1" | jq -r '[.[].name] | join(",")'; }
children_of() { rbd children "$@" | paste -sd, -; }

# A deterministic file of LEN bytes, different for every TAG.
make_pattern() {  # FILE LEN TAG
  "${PY}" - "$@" <<'EOF'
import hashlib, sys
path, length, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out, i = bytearray(), 0
while len(out) < length:
    out += hashlib.sha256(b'%s-%d' % (tag.encode(), i)).digest()
    i += 1
open(path, 'wb').write(bytes(out[:length]))
EOF
}

# Overwrites FILE at byte OFFSET with the content of PATCH.
patch_file() {  # FILE OFFSET PATCH
  dd if="$3" of="$1" bs=4096 seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# python3-rbd: write FILE's bytes into IMAGE of the test pool at OFFSET.
pywrite() {  # IMAGE OFFSET FILE
  timeout "${CMD_TIMEOUT}" "${PY}" - "${POOL}" "$@" <<'EOF'
import sys
import rados, rbd
pool, image, offset, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data = open(path, 'rb').read()
cluster = rados.Rados(conffile='')
cluster.connect()
try:
    with cluster.open_ioctx(pool) as ioctx, rbd.Image(ioctx, image) as img:
        if img.write(data, offset) != len(data):
            sys.exit('short write')
        img.flush()
finally:
    cluster.shutdown()
EOF
}

# An image of SIZE_MIB MiB holding the pattern TAG (rbd import).
make_image() {  # IMAGE SIZE_MIB TAG FILE_OUT [import options...]
  local image="$1" size="$2" tag="$3" file="$4"
  shift 4
  make_pattern "${file}" "$((size * MIB))" "${tag}"
  rbd import --no-progress "$@" "${file}" "${POOL}/${image}" >/dev/null 2>&1 ||
    fail "rbd import ${POOL}/${image} failed"
}

# ------------------------------------------------------- setup/cleanup ---

cleanup() {
  local rc=$?
  set +e
  ((POOL_CREATED)) && remove_pool "${POOL}"
  ((PARITY_POOL_OVERLAY)) && remove_pool "${PARITY_POOL}"
  ((PARITY_POOL_STOCK)) && CEPH_CONF="${STOCK_CEPH_CONF}" remove_pool "${PARITY_POOL}" stock
  finish_cleanup "${rc}"
}

preflight() {
  require_cluster
  require_tools "${RBD}"
  [[ -r "${CLS_STANDALONE}" ]] || fail "${CLS_STANDALONE} is missing"
  if [[ -n "${STOCK_CEPH_CONF:-}" ]]; then
    [[ -r "${STOCK_CEPH_CONF}" ]] || fail "STOCK_CEPH_CONF=${STOCK_CEPH_CONF} is not readable"
    [[ "$(realpath "${STOCK_CEPH_CONF}")" != "$(realpath "${CEPH_CONF}")" ]] ||
      fail "STOCK_CEPH_CONF and CEPH_CONF name the same cluster"
    check_reachable "${STOCK_CEPH_CONF}" "stock"
  fi
}

setup() {
  TMP="$(mktemp -d /tmp/wu-stockreg.XXXXXX)"
  ceph_ osd pool create "${POOL}" 8 8 >/dev/null 2>&1 || fail "cannot create pool ${POOL}"
  POOL_CREATED=1
  rbd pool init "${POOL}" || fail "rbd pool init ${POOL} failed"
}

# ---------------------------------------------------------------- tests ---

readonly DEFAULT_FEATURES="layering,exclusive-lock,object-map,fast-diff,deep-flatten"

test_overlay_loaded() {
  echo "# overlay"
  rbd create --size 4M "${POOL}/probe" || fail "rbd create probe failed"
  local out
  out="$(timeout "${CMD_TIMEOUT}" "${PY}" "${CLS_STANDALONE}" info "${POOL}/probe" 2>&1)" ||
    fail "the OSD of CEPH_CONF does not run the overlay: ${out}"
  expect_contains "the cluster under test runs the overlay" "${out}" "overlay v"
  rbd rm --no-progress "${POOL}/probe" >/dev/null 2>&1 || fail "rbd rm probe failed"
}

test_create_resize() {
  echo "# create, info, resize, data"
  expect_ok "rbd create (default features)" rbd create --size 16M "${POOL}/img"
  local j
  j="$(info_json "${POOL}/img")"
  expect_eq "info: size" "$((16 * MIB))" "$(jq -r .size <<<"${j}")"
  expect_eq "info: format" "2" "$(jq -r .format <<<"${j}")"
  expect_eq "info: order" "22" "$(jq -r .order <<<"${j}")"
  expect_eq "info: default features" "${DEFAULT_FEATURES}" "$(jq -r '.features | join(",")' <<<"${j}")"
  expect_eq "info: no op features" "" "$(jq -r '.op_features | join(",")' <<<"${j}")"
  expect_eq "info: no parent" "null" "$(jq -r .parent <<<"${j}")"
  expect_ok "rbd create --image-feature layering" rbd create --size 8M --image-feature layering "${POOL}/lay"
  expect_eq "layering-only image features" "layering" "$(features_of "${POOL}/lay")"
  expect_contains "rbd ls lists both images" "$(rbd ls "${POOL}" | paste -sd, -)" "img,lay"

  make_pattern "${TMP}/img.data" "$((16 * MIB))" "img"
  pywrite img 0 "${TMP}/img.data" || fail "python3-rbd write to img failed"
  export_to "${POOL}/img" "${TMP}/img.exp"
  expect_same_file "written data reads back (export)" "${TMP}/img.data" "${TMP}/img.exp"

  expect_ok "rbd resize grow to 32 MiB" rbd resize --no-progress --size 32M "${POOL}/img"
  expect_eq "size after grow" "$((32 * MIB))" "$(info_json "${POOL}/img" | jq -r .size)"
  export_to "${POOL}/img" "${TMP}/img32.exp"
  cp "${TMP}/img.data" "${TMP}/img32.want"
  head -c "$((16 * MIB))" /dev/zero >>"${TMP}/img32.want"
  expect_same_file "grown image: data then zeros" "${TMP}/img32.want" "${TMP}/img32.exp"
  expect_fail_with "shrink without --allow-shrink fails" "only allowed with the --allow-shrink flag" \
    rbd resize --no-progress --size 8M "${POOL}/img"
  expect_ok "rbd resize --allow-shrink to 8 MiB" rbd resize --no-progress --size 8M --allow-shrink "${POOL}/img"
  expect_eq "size after shrink" "$((8 * MIB))" "$(info_json "${POOL}/img" | jq -r .size)"
  export_to "${POOL}/img" "${TMP}/img8.exp"
  head -c "$((8 * MIB))" "${TMP}/img.data" >"${TMP}/img8.want"
  expect_same_file "shrunk image keeps its first 8 MiB" "${TMP}/img8.want" "${TMP}/img8.exp"

  make_pattern "${TMP}/lay.data" "$((8 * MIB))" "lay"
  pywrite lay 0 "${TMP}/lay.data" || fail "python3-rbd write to lay failed"
  export_to "${POOL}/lay" "${TMP}/lay.exp"
  expect_same_file "layering-only image data reads back" "${TMP}/lay.data" "${TMP}/lay.exp"
}

test_snapshots() {
  echo "# snapshots"
  # img is 8 MiB holding img8.want.
  expect_ok "rbd snap create img@s1" rbd snap create --no-progress "${POOL}/img@s1"
  make_pattern "${TMP}/w.snap" $((64 * 1024)) "after-s1"
  pywrite img "$((OBJ + 4096))" "${TMP}/w.snap" || fail "write to img failed"
  cp "${TMP}/img8.want" "${TMP}/img.s2"
  patch_file "${TMP}/img.s2" "$((OBJ + 4096))" "${TMP}/w.snap"
  expect_ok "rbd snap create img@s2" rbd snap create --no-progress "${POOL}/img@s2"
  expect_eq "rbd snap ls" "s1,s2" "$(snap_names "${POOL}/img")"
  expect_ok "rbd snap rename img@s1 -> first" rbd snap rename "${POOL}/img@s1" "${POOL}/img@first"
  expect_eq "rbd snap ls after rename" "first,s2" "$(snap_names "${POOL}/img")"
  export_to "${POOL}/img@first" "${TMP}/first.exp"
  expect_same_file "snapshot first keeps its data" "${TMP}/img8.want" "${TMP}/first.exp"
  export_to "${POOL}/img@s2" "${TMP}/s2.exp"
  expect_same_file "snapshot s2 keeps its data" "${TMP}/img.s2" "${TMP}/s2.exp"
  expect_ok "rbd snap rollback img@first" rbd snap rollback --no-progress "${POOL}/img@first"
  export_to "${POOL}/img" "${TMP}/rb.exp"
  expect_same_file "rollback restores the snapshot's data" "${TMP}/img8.want" "${TMP}/rb.exp"

  expect_ok "rbd snap protect img@first" rbd snap protect "${POOL}/img@first"
  expect_eq "snap ls shows first protected" "true" \
    "$(rbd snap ls --format json "${POOL}/img" | jq -r '.[] | select(.name == "first") | .protected')"
  expect_fail_with "rbd snap rm of a protected snapshot fails (EBUSY)" "is protected from removal" \
    rbd snap rm --no-progress "${POOL}/img@first"
  expect_ok "rbd snap unprotect img@first" rbd snap unprotect "${POOL}/img@first"
  expect_ok "rbd snap rm img@first" rbd snap rm --no-progress "${POOL}/img@first"
  expect_eq "rbd snap ls after rm" "s2" "$(snap_names "${POOL}/img")"

  expect_ok "rbd snap limit set --limit 2" rbd snap limit set --limit 2 "${POOL}/img"
  expect_ok "snapshot 2 of 2 is allowed" rbd snap create --no-progress "${POOL}/img@s3"
  expect_fail_with "snapshot beyond the limit fails (EDQUOT)" "Disk quota exceeded" \
    rbd snap create --no-progress "${POOL}/img@s4"
  expect_eq "no snapshot created beyond the limit" "s2,s3" "$(snap_names "${POOL}/img")"
  expect_ok "rbd snap limit clear" rbd snap limit clear "${POOL}/img"
  expect_ok "snapshot allowed after limit clear" rbd snap create --no-progress "${POOL}/img@s4"

  expect_fail_with "rbd rm of an image with snapshots fails (ENOTEMPTY)" "image has snapshots" \
    rbd rm --no-progress "${POOL}/img"
  expect_contains "image with snapshots still there" "$(rbd ls "${POOL}" | paste -sd, -)" "img"
  expect_ok "rbd snap purge" rbd snap purge --no-progress "${POOL}/img"
  expect_eq "no snapshots after purge" "0" "$(rbd snap ls --all --format json "${POOL}/img" | jq length)"
  expect_ok "rbd rm after purge" rbd rm --no-progress "${POOL}/img"
  expect_fail_with "removed image is gone" "No such file or directory" rbd info "${POOL}/img"
}

test_clones() {
  echo "# clones v1 and v2"
  make_image p 16 "clone-parent" "${TMP}/p.data"
  rbd snap create --no-progress "${POOL}/p@s" >/dev/null 2>&1 || fail "snap create p@s failed"
  # Later writes must not show through the clones.
  make_pattern "${TMP}/w.p" 8192 "p-after-s"
  pywrite p 4096 "${TMP}/w.p" || fail "write to p failed"

  expect_fail_with "clone v1 of an unprotected snapshot fails (EINVAL)" "Invalid argument" \
    rbd clone --rbd-default-clone-format 1 "${POOL}/p@s" "${POOL}/c1"
  expect_ok "rbd snap protect p@s" rbd snap protect "${POOL}/p@s"
  expect_ok "rbd clone (format 1) p@s c1" rbd clone --rbd-default-clone-format 1 "${POOL}/p@s" "${POOL}/c1"
  expect_ok "rbd clone (format 2) p@s c2" rbd clone --rbd-default-clone-format 2 "${POOL}/p@s" "${POOL}/c2"
  make_image q 8 "clone-parent-q" "${TMP}/q.data"
  rbd snap create --no-progress "${POOL}/q@u" >/dev/null 2>&1 || fail "snap create q@u failed"
  expect_ok "clone v2 of an unprotected snapshot q@u" \
    rbd clone --rbd-default-clone-format 2 "${POOL}/q@u" "${POOL}/cq"

  local c
  for c in c1 c2; do
    export_to "${POOL}/${c}" "${TMP}/${c}.exp"
    expect_same_file "${c} data equals p@s" "${TMP}/p.data" "${TMP}/${c}.exp"
    expect_contains "rbd info ${c} shows parent ${POOL}/p@s" "$(rbd info "${POOL}/${c}")" "parent: ${POOL}/p@s"
    expect_eq "info json ${c} overlap" "$((16 * MIB))" "$(info_json "${POOL}/${c}" | jq -r .parent.overlap)"
  done
  export_to "${POOL}/cq" "${TMP}/cq.exp"
  expect_same_file "cq data equals q@u" "${TMP}/q.data" "${TMP}/cq.exp"
  expect_eq "clone v1 has no op features" "" "$(op_features_of "${POOL}/c1")"
  expect_eq "clone v2 has clone-child" "clone-child" "$(op_features_of "${POOL}/c2")"
  expect_eq "parent of a v2 clone has clone-parent" "clone-parent" "$(op_features_of "${POOL}/p")"

  expect_eq "rbd children p@s" "${POOL}/c1,${POOL}/c2" "$(children_of "${POOL}/p@s")"
  expect_eq "rbd children --all p@s" "${POOL}/c1,${POOL}/c2" "$(children_of --all "${POOL}/p@s")"
  expect_eq "rbd children --format json p@s" \
    "[{\"pool\":\"${POOL}\",\"pool_namespace\":\"\",\"image\":\"c1\"},{\"pool\":\"${POOL}\",\"pool_namespace\":\"\",\"image\":\"c2\"}]" \
    "$(rbd children --format json "${POOL}/p@s" | jq -c .)"
  rbd snap create --no-progress "${POOL}/c2@g" >/dev/null 2>&1 || fail "snap create c2@g failed"
  rbd clone --rbd-default-clone-format 2 "${POOL}/c2@g" "${POOL}/gc" >/dev/null 2>&1 || fail "clone c2@g gc failed"
  expect_eq "rbd children p@s (no grandchildren)" "${POOL}/c1,${POOL}/c2" "$(children_of "${POOL}/p@s")"
  expect_eq "rbd children --descendants p" "${POOL}/c1,${POOL}/c2,${POOL}/gc" \
    "$(children_of --descendants "${POOL}/p")"
  export_to "${POOL}/gc" "${TMP}/gc.exp"
  expect_same_file "grandchild data equals p@s" "${TMP}/p.data" "${TMP}/gc.exp"

  expect_fail_with "unprotect with a v1 child fails (EBUSY)" "Device or resource busy" \
    rbd snap unprotect "${POOL}/p@s"
  expect_fail_with "rbd rm of a parent with v1/v2 clones fails" "image has snapshots" \
    rbd rm --no-progress "${POOL}/p"
  expect_fail_with "rbd snap rm of the protected parent snapshot fails" "is protected from removal" \
    rbd snap rm --no-progress "${POOL}/p@s"

  export_to "${POOL}/c1" "${TMP}/c1.pre"
  expect_ok "rbd flatten c1 (v1)" rbd flatten --no-progress "${POOL}/c1"
  export_to "${POOL}/c1" "${TMP}/c1.post"
  expect_same_file "flatten keeps c1's data" "${TMP}/c1.pre" "${TMP}/c1.post"
  expect_not_contains "c1 has no parent after flatten" "$(rbd info "${POOL}/c1")" "parent:"
  expect_eq "rbd children p@s after flattening c1" "${POOL}/c2" "$(children_of "${POOL}/p@s")"
  # Only the v1 child blocked unprotect: v2 children do not.
  expect_ok "unprotect p@s with only a v2 child" rbd snap unprotect "${POOL}/p@s"

  rbd clone --rbd-default-clone-format 2 "${POOL}/p@s" "${POOL}/c3" >/dev/null 2>&1 || fail "clone p@s c3 failed"
  expect_eq "rbd children p@s" "${POOL}/c2,${POOL}/c3" "$(children_of "${POOL}/p@s")"
  export_to "${POOL}/cq" "${TMP}/cq.pre"
  expect_ok "rbd flatten cq (v2)" rbd flatten --no-progress "${POOL}/cq"
  export_to "${POOL}/cq" "${TMP}/cq.post"
  expect_same_file "flatten keeps cq's data" "${TMP}/cq.pre" "${TMP}/cq.post"
  expect_eq "rbd children q@u empty after flatten" "" "$(children_of "${POOL}/q@u")"
  expect_eq "cq lost clone-child" "" "$(op_features_of "${POOL}/cq")"
  expect_eq "q lost clone-parent" "" "$(op_features_of "${POOL}/q")"
}

test_snap_trash() {
  echo "# snapshot removal with clone v2 children (snapshot trash)"
  # p@s has v2 children c2 (which has a snapshot and a grandchild) and c3.
  expect_ok "rbd snap rm p@s with v2 children" rbd snap rm --no-progress "${POOL}/p@s"
  expect_eq "snap ls (user namespace) no longer shows s" "" "$(snap_names "${POOL}/p")"
  local j
  j="$(rbd snap ls --all --format json "${POOL}/p")"
  expect_eq "snap ls --all shows one snapshot" "1" "$(jq length <<<"${j}")"
  expect_eq "the snapshot is in the trash namespace" "trash" "$(jq -r '.[0].namespace.type' <<<"${j}")"
  expect_eq "trash snapshot keeps its original name" "s" "$(jq -r '.[0].namespace.original_name' <<<"${j}")"
  expect_contains "snap ls --all plain output shows namespace trash" "$(rbd snap ls --all "${POOL}/p")" "trash"
  expect_eq "p has op features clone-parent, snap-trash" "clone-parent,snap-trash" "$(op_features_of "${POOL}/p")"
  expect_eq "children of p (--all) still lists c2, c3" "${POOL}/c2,${POOL}/c3" "$(children_of --all "${POOL}/p")"
  local tname
  tname="$(jq -r '.[0].name' <<<"${j}")"
  expect_eq "c2's parent is now the trash snapshot" "${tname}" "$(info_json "${POOL}/c2" | jq -r .parent.snapshot)"
  export_to "${POOL}/c2" "${TMP}/c2.trash"
  expect_same_file "c2 still reads p@s data" "${TMP}/p.data" "${TMP}/c2.trash"
  expect_fail_with "rbd rm p fails while a trash snapshot has clones" "image has snapshots with linked clones" \
    rbd rm --no-progress "${POOL}/p"

  expect_ok "rbd rm c3 (a v2 child)" rbd rm --no-progress "${POOL}/c3"
  expect_eq "trash snapshot stays while c2 remains" "1" "$(rbd snap ls --all --format json "${POOL}/p" | jq length)"
  export_to "${POOL}/c2" "${TMP}/c2.pre"
  expect_ok "rbd flatten c2 (last child)" rbd flatten --no-progress "${POOL}/c2"
  export_to "${POOL}/c2" "${TMP}/c2.post"
  expect_same_file "flatten keeps c2's data" "${TMP}/c2.pre" "${TMP}/c2.post"
  # Pacific removes a trash snapshot when its last clone detaches.
  expect_eq "trash snapshot removed automatically with the last child" "0" \
    "$(rbd snap ls --all --format json "${POOL}/p" | jq length)"
  expect_eq "p has no op features left" "" "$(op_features_of "${POOL}/p")"
  expect_eq "c2 has only clone-parent left (its own child gc)" "clone-parent" "$(op_features_of "${POOL}/c2")"
  export_to "${POOL}/gc" "${TMP}/gc.post"
  expect_same_file "grandchild gc still reads right" "${TMP}/p.data" "${TMP}/gc.post"

  export_to "${POOL}/p" "${TMP}/p.final"
  cp "${TMP}/p.data" "${TMP}/p.want"
  patch_file "${TMP}/p.want" 4096 "${TMP}/w.p"
  expect_same_file "parent HEAD data intact" "${TMP}/p.want" "${TMP}/p.final"
  expect_ok "rbd rm p once its clones are gone" rbd rm --no-progress "${POOL}/p"
  rbd snap purge --no-progress "${POOL}/q" >/dev/null 2>&1 || fail "snap purge q failed"
  expect_ok "rbd rm q after its clone was flattened" rbd rm --no-progress "${POOL}/q"
}

test_trash() {
  echo "# image trash"
  rbd create --size 4M "${POOL}/t" || fail "rbd create t failed"
  local id
  id="$(info_json "${POOL}/t" | jq -r .id)"
  expect_ok "rbd trash mv" rbd trash mv "${POOL}/t"
  expect_eq "rbd trash ls lists it" "${id} t" "$(rbd trash ls "${POOL}")"
  expect_not_contains "rbd ls no longer lists it" "$(rbd ls "${POOL}" | paste -sd, -)" ",t,"
  expect_fail_with "trashed image cannot be opened by name" "No such file or directory" rbd info "${POOL}/t"
  expect_ok "rbd trash restore" rbd trash restore "${POOL}/${id}"
  expect_eq "restored image has its id" "${id}" "$(info_json "${POOL}/t" | jq -r .id)"
  expect_eq "rbd trash ls empty after restore" "" "$(rbd trash ls "${POOL}")"
  expect_ok "rbd trash mv again" rbd trash mv "${POOL}/t"
  expect_ok "rbd trash rm" rbd trash rm --no-progress "${POOL}/${id}"
  expect_eq "rbd trash ls empty after trash rm" "" "$(rbd trash ls --all "${POOL}")"
  expect_fail_with "image is gone" "No such file or directory" rbd info "${POOL}/t"
}

test_features_and_tools() {
  echo "# features, object map, diff, du, locks, metadata"
  make_image f 16 "features" "${TMP}/f.data"
  expect_ok "rbd feature disable fast-diff object-map exclusive-lock" \
    rbd feature disable "${POOL}/f" fast-diff object-map exclusive-lock
  expect_eq "features after disable" "layering,deep-flatten" "$(features_of "${POOL}/f")"
  expect_ok "rbd feature enable exclusive-lock" rbd feature enable "${POOL}/f" exclusive-lock
  expect_ok "rbd feature enable object-map fast-diff" rbd feature enable "${POOL}/f" object-map fast-diff
  expect_eq "features after enable" "${DEFAULT_FEATURES}" "$(features_of "${POOL}/f")"
  expect_eq "new object map is flagged invalid" "object map invalid,fast diff invalid" "$(flags_of "${POOL}/f")"
  expect_ok "rbd object-map rebuild" rbd object-map rebuild --no-progress "${POOL}/f"
  expect_eq "flags clear after rebuild" "" "$(flags_of "${POOL}/f")"
  local out rc=0
  out="$(rbd object-map check --no-progress "${POOL}/f" 2>&1)" || rc=$?
  expect_eq "rbd object-map check exit" "0" "${rc}"
  expect_eq "rbd object-map check reports nothing" "" "${out}"
  expect_eq "flags still clear after check" "" "$(flags_of "${POOL}/f")"

  expect_eq "rbd diff lists the 4 written objects" \
    "0:4194304:data,4194304:4194304:data,8388608:4194304:data,12582912:4194304:data" \
    "$(rbd diff --format json "${POOL}/f" | jq -r '[.[] | "\(.offset):\(.length):\(.exists)"] | join(",")' | sed 's/true/data/g')"
  rbd snap create --no-progress "${POOL}/f@d" >/dev/null 2>&1 || fail "snap create f@d failed"
  make_pattern "${TMP}/w.f" 4096 "f-after-d"
  pywrite f "$((2 * OBJ + 8192))" "${TMP}/w.f" || fail "write to f failed"
  expect_eq "rbd diff --from-snap shows only the written extent" "$((2 * OBJ + 8192)):4096" \
    "$(rbd diff --from-snap d --format json "${POOL}/f" | jq -r '[.[] | "\(.offset):\(.length)"] | join(",")')"
  expect_eq "rbd diff --from-snap --whole-object" "8388608:4194304" \
    "$(rbd diff --from-snap d --whole-object --format json "${POOL}/f" | jq -r '[.[] | "\(.offset):\(.length)"] | join(",")')"
  local du
  du="$(rbd du --format json "${POOL}/f")"
  expect_eq "rbd du: HEAD used" "${OBJ}" "$(jq -r '.images[] | select(.snapshot == null) | .used_size' <<<"${du}")"
  expect_eq "rbd du: snapshot used" "$((16 * MIB))" "$(jq -r '.images[] | select(.snapshot == "d") | .used_size' <<<"${du}")"
  expect_eq "rbd du: HEAD provisioned" "$((16 * MIB))" \
    "$(jq -r '.images[] | select(.snapshot == null) | .provisioned_size' <<<"${du}")"

  expect_eq "rbd lock ls (none)" "[]" "$(rbd lock ls --format json "${POOL}/f" | jq -c .)"
  expect_ok "rbd lock add" rbd lock add "${POOL}/f" mylock
  local locks locker
  locks="$(rbd lock ls --format json "${POOL}/f")"
  expect_eq "rbd lock ls shows the lock" "mylock" "$(jq -r '.[].id' <<<"${locks}")"
  locker="$(jq -r '.[0].locker' <<<"${locks}")"
  expect_fail_with "a second exclusive lock is refused (EBUSY)" "lock is already held" \
    rbd lock add "${POOL}/f" otherlock
  expect_ok "rbd lock rm" rbd lock rm "${POOL}/f" mylock "${locker}"
  expect_eq "rbd lock ls empty again" "[]" "$(rbd lock ls --format json "${POOL}/f" | jq -c .)"

  expect_ok "rbd image-meta set k1" rbd image-meta set "${POOL}/f" k1 v1
  expect_ok "rbd image-meta set k2" rbd image-meta set "${POOL}/f" k2 "value two"
  expect_eq "rbd image-meta get k1" "v1" "$(rbd image-meta get "${POOL}/f" k1)"
  expect_eq "rbd image-meta list" '{"k1":"v1","k2":"value two"}' \
    "$(rbd image-meta list --format json "${POOL}/f" | jq -cS .)"
  expect_ok "rbd image-meta remove k1" rbd image-meta remove "${POOL}/f" k1
  expect_fail_with "removed key is gone" "No such file or directory" rbd image-meta get "${POOL}/f" k1
  expect_eq "rbd image-meta list after remove" '{"k2":"value two"}' \
    "$(rbd image-meta list --format json "${POOL}/f" | jq -cS .)"

  export_to "${POOL}/f@d" "${TMP}/fd.exp"
  expect_same_file "snapshot data intact after the feature changes" "${TMP}/f.data" "${TMP}/fd.exp"
  cp "${TMP}/f.data" "${TMP}/f.want"
  patch_file "${TMP}/f.want" "$((2 * OBJ + 8192))" "${TMP}/w.f"
  export_to "${POOL}/f" "${TMP}/f.exp"
  expect_same_file "HEAD data intact after the feature changes" "${TMP}/f.want" "${TMP}/f.exp"
}

test_cluster_healthy() {
  echo "# cluster"
  local st
  st="$(ceph_ osd stat --format json)"
  expect_eq "all OSDs still up" "$(jq -r .num_osds <<<"${st}")" "$(jq -r .num_up_osds <<<"${st}")"
}

# ------------------------------------------------- stock-cluster parity ---

# jq: drop what differs between any two clusters or runs (ids, timestamps,
# lock addresses), and blank out UUIDs (trash snapshot names).
readonly NORMALISE='walk(
  if type == "object" then
    del(.id, .block_name_prefix, .create_timestamp, .access_timestamp,
        .modify_timestamp, .timestamp, .deleted_at, .deferment_end_time,
        .pool_id, .locker, .address)
  elif type == "string" then
    gsub("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"; "<uuid>")
  else . end)'

# Runs the representative sequence on the cluster of CONF, in PARITY_POOL,
# writing one normalised JSON file per step into OUT.  Each file is
# {"rc": exit code, "out": normalised JSON output (or null)}.
parity_sequence() (  # CONF OUT
  local conf="$1" out="$2" n=0
  mkdir -p "${out}"
  step() {  # NAME CMD...: records rc and normalised JSON stdout
    local name="$1" o rc=0
    shift
    n=$((n + 1))
    o="$(CEPH_CONF="${conf}" timeout "${CMD_TIMEOUT}" "$@" 2>/dev/null)" || rc=$?
    if [[ -n "${o}" ]] && jq -e . >/dev/null 2>&1 <<<"${o}"; then
      jq -S --argjson rc "${rc}" "{rc: \$rc, out: (${NORMALISE})}" <<<"${o}" >"${out}/$(printf %02d "${n}")-${name}.json"
    else
      jq -nS --argjson rc "${rc}" '{rc: $rc, out: null}' >"${out}/$(printf %02d "${n}")-${name}.json"
    fi
  }
  local p="${PARITY_POOL}"
  step create-p "${RBD}" create --size 16M "${p}/p"
  step bench-p "${RBD}" bench --io-type write --io-size 1M --io-total 6M --io-pattern seq "${p}/p"
  step info-p "${RBD}" info --format json "${p}/p"
  step snap-create "${RBD}" snap create --no-progress "${p}/p@s"
  step clone-v1-unprotected "${RBD}" clone --rbd-default-clone-format 1 "${p}/p@s" "${p}/c1"
  step protect "${RBD}" snap protect "${p}/p@s"
  step clone-v1 "${RBD}" clone --rbd-default-clone-format 1 "${p}/p@s" "${p}/c1"
  step clone-v2 "${RBD}" clone --rbd-default-clone-format 2 "${p}/p@s" "${p}/c2"
  step snap-ls-all "${RBD}" snap ls --all --format json "${p}/p"
  step info-p-after-clone "${RBD}" info --format json "${p}/p"
  step info-p-snap "${RBD}" info --format json "${p}/p@s"
  step info-c1 "${RBD}" info --format json "${p}/c1"
  step info-c2 "${RBD}" info --format json "${p}/c2"
  step children "${RBD}" children --format json "${p}/p@s"
  step snap-c2 "${RBD}" snap create --no-progress "${p}/c2@g"
  step clone-gc "${RBD}" clone --rbd-default-clone-format 2 "${p}/c2@g" "${p}/gc"
  step children-descendants "${RBD}" children --descendants --format json "${p}/p"
  step du-p "${RBD}" du --format json "${p}/p"
  step diff-p "${RBD}" diff --format json "${p}/p"
  step diff-c2 "${RBD}" diff --format json "${p}/c2"
  step diff-p-from-snap "${RBD}" diff --from-snap s --format json "${p}/p"
  step rm-p-with-children "${RBD}" rm --no-progress "${p}/p"
  step unprotect-with-v1 "${RBD}" snap unprotect "${p}/p@s"
  step flatten-c1 "${RBD}" flatten --no-progress "${p}/c1"
  step info-c1-flat "${RBD}" info --format json "${p}/c1"
  step unprotect "${RBD}" snap unprotect "${p}/p@s"
  step snap-rm-to-trash "${RBD}" snap rm --no-progress "${p}/p@s"
  step snap-ls-all-trash "${RBD}" snap ls --all --format json "${p}/p"
  step info-p-trash "${RBD}" info --format json "${p}/p"
  step info-c2-trash "${RBD}" info --format json "${p}/c2"
  step children-all "${RBD}" children --all --format json "${p}/p"
  step rm-p-trash-snap "${RBD}" rm --no-progress "${p}/p"
  step flatten-c2 "${RBD}" flatten --no-progress "${p}/c2"
  step snap-ls-all-final "${RBD}" snap ls --all --format json "${p}/p"
  step info-p-final "${RBD}" info --format json "${p}/p"
  step info-c2-final "${RBD}" info --format json "${p}/c2"
  step resize-shrink "${RBD}" resize --no-progress --size 8M --allow-shrink "${p}/p"
  step feature-disable "${RBD}" feature disable "${p}/p" fast-diff object-map
  step info-p-features "${RBD}" info --format json "${p}/p"
  step meta-set "${RBD}" image-meta set "${p}/p" key val
  step meta-list "${RBD}" image-meta list --format json "${p}/p"
  step snap-limit "${RBD}" snap limit set --limit 1 "${p}/c1"
  step snap-c1-a "${RBD}" snap create --no-progress "${p}/c1@a"
  step snap-c1-over-limit "${RBD}" snap create --no-progress "${p}/c1@b"
  step snap-ls-c1 "${RBD}" snap ls --format json "${p}/c1"
  step trash-mv "${RBD}" trash mv "${p}/p"
  step trash-ls "${RBD}" trash ls --format json "${p}"
  step ls "${RBD}" ls --format json "${p}"
  step du-pool "${RBD}" du --format json -p "${p}"
)

compare_with_stock() {
  echo "# parity with a stock cluster"
  if [[ -z "${STOCK_CEPH_CONF:-}" ]]; then
    echo "NOTE: STOCK_CEPH_CONF is not set: the stock-cluster comparison was NOT run" >&2
    echo "# NOTE: STOCK_CEPH_CONF not set, stock-cluster comparison NOT run"
    return 0
  fi
  ceph_ osd pool create "${PARITY_POOL}" 8 8 >/dev/null 2>&1 || fail "cannot create pool ${PARITY_POOL}"
  PARITY_POOL_OVERLAY=1
  rbd pool init "${PARITY_POOL}" || fail "rbd pool init ${PARITY_POOL} failed"
  CEPH_CONF="${STOCK_CEPH_CONF}" ceph_ osd pool create "${PARITY_POOL}" 8 8 >/dev/null 2>&1 ||
    fail "cannot create pool ${PARITY_POOL} on the stock cluster"
  PARITY_POOL_STOCK=1
  CEPH_CONF="${STOCK_CEPH_CONF}" rbd pool init "${PARITY_POOL}" ||
    fail "rbd pool init ${PARITY_POOL} on the stock cluster failed"
  CEPH_CONF="${STOCK_CEPH_CONF}" rbd create --size 4M "${PARITY_POOL}/probe" ||
    fail "rbd create on the stock cluster failed"
  local rc=0 out
  out="$(CEPH_CONF="${STOCK_CEPH_CONF}" timeout "${CMD_TIMEOUT}" "${PY}" "${CLS_STANDALONE}" info \
    "${PARITY_POOL}/probe" 2>&1)" || rc=$?
  expect_eq "the STOCK_CEPH_CONF cluster runs stock cls_rbd (cls_standalone.py info exit 2)" "2" "${rc}"
  CEPH_CONF="${STOCK_CEPH_CONF}" rbd rm --no-progress "${PARITY_POOL}/probe" >/dev/null 2>&1 ||
    fail "rbd rm probe on the stock cluster failed"

  parity_sequence "${CEPH_CONF}" "${TMP}/parity-overlay"
  parity_sequence "${STOCK_CEPH_CONF}" "${TMP}/parity-stock"
  local f name d
  for f in "${TMP}"/parity-stock/*.json; do
    name="$(basename "${f}" .json)"
    [[ -e "${TMP}/parity-overlay/${name}.json" ]] || fail "parity: overlay run has no ${name}"
    if ! d="$(diff -u "${f}" "${TMP}/parity-overlay/${name}.json")"; then
      fail "parity ${name}: overlay differs from stock:
${d}"
    fi
    pass "parity ${name}: rc $(jq -r .rc "${f}"), output identical to stock"
  done
  expect_eq "both runs have the same steps" "$(ls "${TMP}/parity-stock")" "$(ls "${TMP}/parity-overlay")"
}

main() {
  trap cleanup EXIT
  preflight
  setup
  local start=${SECONDS}
  test_overlay_loaded
  test_create_resize
  test_snapshots
  test_clones
  test_snap_trash
  test_trash
  test_features_and_tools
  compare_with_stock
  test_cluster_healthy
  FINISHED=1
  echo "# ran in $((SECONDS - start))s"
  echo "${PASSED} passed, 0 failed"
}

main "$@"
