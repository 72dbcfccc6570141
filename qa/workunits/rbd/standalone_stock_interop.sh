#!/usr/bin/env bash
# Standalone clones (a copy-on-write child of a parent image's HEAD, no
# snapshot) driven only with the STOCK Ceph 16.2 tools: /usr/bin/rbd and
# Debian's python3-rbd.  The child is built without the project's client
# library: stock `rbd create`, then cls_standalone.py link, which calls the
# overlay's class methods directly (or, with CLONE_CLI=<project rbd>, by the
# project's `rbd clone-standalone`).  So what is tested is that the OSD-side
# overlay makes stock librbd read, copy up, snapshot, resize, flatten and
# remove a standalone child correctly, and that it keeps the parent
# read-only while it has children.
#
# Needs: a running cluster whose OSDs load the overlay, and CEPH_CONF
# pointing at it, e.g.
#   eval "$(src/vstart.sh start --dir /tmp/wu-x --mon-port 40300 \
#           --class-dir build/lib/rados-classes)"
#   qa/workunits/rbd/standalone_stock_interop.sh
# It fails (never skips) if the cluster cannot be reached.  Everything it
# creates lives in its own pool, removed on exit.
set -euo pipefail

readonly RBD=/usr/bin/rbd
readonly PY=/usr/bin/python3
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CLS_STANDALONE="${HERE}/cls_standalone.py"
readonly CMD_TIMEOUT="${CMD_TIMEOUT:-300}"

readonly MIB=$((1 << 20))
readonly OBJ=$((4 * MIB))
readonly SIZE=$((16 * MIB))
# The parent's op-feature marker (RBD_OPERATION_FEATURE_STANDALONE_PARENT).
readonly MARKER_BIT=$((1 << 40))

PASSED=0
FINISHED=0
POOL="interop-$$"
POOL_CREATED=0
TMP=""

# ------------------------------------------------------------ reporting ---

# shellcheck source=qa/workunits/rbd/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ---------------------------------------------------------------- tools ---

# Every cluster call is bounded: a hung client must fail the test.
rbd() { timeout "${CMD_TIMEOUT}" "${RBD}" "$@"; }
cls() { timeout "${CMD_TIMEOUT}" "${PY}" "${CLS_STANDALONE}" "$@"; }

info_json() { rbd info --format json "$1"; }
json_field() { jq -r "$2" <<<"$1"; }

children_of() { cls children "${POOL}/$1"; }
children_count() {
  local out
  out="$(children_of "$1")" || fail "cls_standalone.py children ${POOL}/$1 failed"
  grep -c . <<<"${out}" || true
}
image_id() { info_json "${POOL}/$1" | jq -r .id; }

# What a stock-only user runs after stock flatten/rm of a child: the
# project's rbd checks each child whose detach was asked and drops its
# entry once the child no longer reads through the parent.
complete_detaches() {
  [[ -x "${PROJECT_RBD:-}" ]] || fail "PROJECT_RBD must name the project's rbd"
  timeout "${CMD_TIMEOUT}" "${PROJECT_RBD}" children "${POOL}/$1" >/dev/null ||
    fail "rbd children ${POOL}/$1 (completing detaches) failed"
}

# The parent fence as stock sees it: non-primary, the marker, the lock.
expect_fence() {  # IMAGE 1|0
  local feats ops lock
  feats="$(info_json "${POOL}/$1" | jq -r '.features | join(",")')"
  ops="$(raw_op_features "$1")"
  lock="$(rbd lock ls --format json "${POOL}/$1" | jq -r '.[0].id // .[].id // empty' 2>/dev/null | head -1)"
  if [[ "$2" == 1 ]]; then
    expect_contains "$1 is non-primary (fenced)" ",${feats}," ",non-primary,"
    expect_eq "$1 carries the standalone-parent marker" "${MARKER_BIT}" "$((ops & MARKER_BIT))"
    expect_eq "$1's exclusive lock is the fence's" "standalone-parent-fence" "${lock}"
  else
    expect_not_contains "$1 is not non-primary" ",${feats}," ",non-primary,"
    expect_eq "$1 has no standalone-parent marker" "0" "$((ops & MARKER_BIT))"
    expect_eq "$1 has no fence lock" "" "${lock}"
  fi
}

# The parent's raw op_features (u64), read with the stock op_features_get.
raw_op_features() {
  local hex
  hex="$(cls raw "${POOL}" "rbd_header.$(image_id "$1")" op_features_get "")"
  "${PY}" -c 'import struct,sys; print(struct.unpack("<Q", bytes.fromhex(sys.argv[1]))[0])' "${hex}"
}

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

# The parent image content: every 4 MiB object has its own pattern.
make_parent_file() {  # FILE
  local f="$1" i
  : >"${f}"
  for i in 0 1 2 3; do
    make_pattern "${TMP}/obj${i}" "${OBJ}" "parent-object-${i}"
    cat "${TMP}/obj${i}" >>"${f}"
  done
}

# Overwrites FILE at byte OFFSET with the content of PATCH.
patch_file() {  # FILE OFFSET PATCH
  dd if="$3" of="$1" bs=4096 seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# python3-rbd operations on an image of the test pool.
#   write IMAGE OFFSET FILE    write FILE's bytes at OFFSET (read-write open)
#   open-rw IMAGE              open read-write and close (exit 1 + message if
#                              the open raises)
#   read-ro IMAGE OFFSET LEN OUT  read-only open, read into OUT
pyrbd() {
  timeout "${CMD_TIMEOUT}" "${PY}" - "${POOL}" "$@" <<'EOF'
import os, sys
import rados, rbd
pool, op, image = sys.argv[1], sys.argv[2], sys.argv[3]
cluster = rados.Rados(conffile='')
cluster.connect()
try:
    with cluster.open_ioctx(pool) as ioctx:
        if op == 'write':
            data = open(sys.argv[5], 'rb').read()
            with rbd.Image(ioctx, image) as img:
                n = img.write(data, int(sys.argv[4]))
                if n != len(data):
                    sys.exit('short write: %d of %d' % (n, len(data)))
                img.flush()
        elif op == 'read':  # the default open, read-write as QEMU's
            with rbd.Image(ioctx, image) as img:
                data = img.read(int(sys.argv[4]), int(sys.argv[5]))
            open(sys.argv[6], 'wb').write(data)
        elif op == 'open-rw':
            try:
                with rbd.Image(ioctx, image) as img:
                    img.size()
            except rbd.Error as e:
                errno = getattr(e, 'errno', None) or 0
                print('read-write open raised %s (errno %s, %s): %s' %
                      (type(e).__name__, errno, os.strerror(errno), e))
                sys.exit(1)
        elif op == 'read-ro':
            with rbd.Image(ioctx, image, read_only=True) as img:
                data = img.read(int(sys.argv[4]), int(sys.argv[5]))
            open(sys.argv[6], 'wb').write(data)
        else:
            sys.exit('bad op ' + op)
finally:
    cluster.shutdown()
EOF
}

# A fresh standalone child of PARENT: stock create, then link; or, with
# CLONE_CLI set to the project's rbd, its `clone-standalone`.
make_child() {  # PARENT CHILD [rbd create options...]
  local parent="$1" child="$2"
  shift 2
  if [[ -n "${CLONE_CLI:-}" ]]; then
    "${CLONE_CLI}" clone-standalone "$@" "${POOL}/${parent}" "${POOL}/${child}" ||
      fail "${CLONE_CLI} clone-standalone ${POOL}/${parent} ${POOL}/${child} failed"
    return
  fi
  rbd create "${POOL}/${child}" --size "$((SIZE / MIB))M" "$@" >/dev/null ||
    fail "rbd create ${POOL}/${child} failed"
  cls link "${POOL}/${parent}" "${POOL}/${child}" ||
    fail "cls_standalone.py link ${POOL}/${parent} ${POOL}/${child} failed"
}

# ------------------------------------------------------- setup/cleanup ---

cleanup() {
  local rc=$?
  set +e
  ((POOL_CREATED)) && remove_pool "${POOL}"
  finish_cleanup "${rc}"
}

preflight() {
  require_cluster
  require_tools "${RBD}" "$(command -v qemu-img || echo qemu-img)" \
    "$(command -v qemu-io || echo qemu-io)" "$(command -v fio || echo fio)"
  [[ -r "${CLS_STANDALONE}" ]] || fail "${CLS_STANDALONE} is missing"
}

setup() {
  TMP="$(mktemp -d /tmp/wu-interop.XXXXXX)"
  ceph_ osd pool create "${POOL}" 8 8 >/dev/null 2>&1 || fail "cannot create pool ${POOL}"
  POOL_CREATED=1
  rbd pool init "${POOL}" || fail "rbd pool init ${POOL} failed"
}

# ---------------------------------------------------------------- tests ---

# 1. A 16 MiB parent with one pattern per object, a linked child.
test_link() {
  echo "# 1. parent with known data, standalone child linked"
  make_parent_file "${TMP}/parent.orig"
  head -c 4096 /dev/zero >"${TMP}/zero4k"
  head -c 4096 "${TMP}/parent.orig" >"${TMP}/orig4k"
  rbd import --no-progress "${TMP}/parent.orig" "${POOL}/parent" >/dev/null 2>&1 ||
    fail "rbd import of the parent failed"
  export_to "${POOL}/parent" "${TMP}/parent.exp"
  expect_same_file "parent export equals the imported file" "${TMP}/parent.orig" "${TMP}/parent.exp"
  local overlay
  overlay="$(cls info "${POOL}/parent" 2>&1)" || fail "the OSD does not run the overlay: ${overlay}"
  expect_contains "the OSD runs the overlay" "${overlay}" "overlay v"

  make_child parent child
  local info json
  info="$(rbd info "${POOL}/child")"
  expect_contains "rbd info child shows the HEAD parent" "${info}" "parent: ${POOL}/parent@"
  expect_contains "rbd info child shows a 16 MiB overlap" "${info}" "overlap: 16 MiB"
  expect_contains "rbd info child has op feature clone-child" "${info}" "op_features: clone-child"
  json="$(info_json "${POOL}/child")"
  expect_eq "info json parent.pool" "${POOL}" "$(json_field "${json}" .parent.pool)"
  expect_eq "info json parent.image" "parent" "$(json_field "${json}" .parent.image)"
  expect_eq "info json parent.id" "$(image_id parent)" "$(json_field "${json}" .parent.id)"
  expect_eq "info json parent.snapshot is empty (HEAD)" "" "$(json_field "${json}" .parent.snapshot)"
  expect_eq "info json parent.overlap" "${SIZE}" "$(json_field "${json}" .parent.overlap)"
  expect_eq "info json parent.trash" "false" "$(json_field "${json}" .parent.trash)"

  local pool_id
  pool_id="$(ceph_ osd pool ls detail --format json | jq -r --arg p "${POOL}" '.[] | select(.pool_name == $p) | .pool_id')"
  expect_eq "cls_standalone children lists the child" "${pool_id}//$(image_id child)" "$(children_of parent)"
  local ops
  ops="$(raw_op_features parent)"
  expect_eq "parent carries the standalone-parent marker" "${MARKER_BIT}" "$((ops & MARKER_BIT))"
}

# 2. The child reads the parent's data.
test_read_through() {
  echo "# 2. child reads through to the parent"
  export_to "${POOL}/child" "${TMP}/child.exp"
  expect_same_file "export child equals export parent" "${TMP}/parent.exp" "${TMP}/child.exp"
}

# 3. A small write copies up one object; the parent is untouched.
test_copy_up() {
  echo "# 3. copy-up"
  local off=$((OBJ + 8192))
  make_pattern "${TMP}/w3" 4096 "child-write-3"
  pyrbd write child "${off}" "${TMP}/w3" || fail "python3-rbd write to the child failed"
  cp "${TMP}/parent.orig" "${TMP}/expect3"
  patch_file "${TMP}/expect3" "${off}" "${TMP}/w3"

  export_to "${POOL}/child" "${TMP}/child3.exp"
  dd if="${TMP}/child3.exp" of="${TMP}/child3.range" bs=4096 skip="${off}" count=4096 \
    iflag=skip_bytes,count_bytes status=none
  expect_same_file "child holds the new 4 KiB at 4 MiB+8 KiB" "${TMP}/w3" "${TMP}/child3.range"
  expect_same_file "rest of the child still equals the parent" "${TMP}/expect3" "${TMP}/child3.exp"
  export_to "${POOL}/parent" "${TMP}/parent3.exp"
  expect_same_file "parent unchanged by the child's write" "${TMP}/parent.orig" "${TMP}/parent3.exp"

  local feats
  feats="$(info_json "${POOL}/child" | jq -r '.features | join(",")')"
  [[ ",${feats}," == *",object-map,"* ]] || fail "child unexpectedly has no object-map (${feats})"
  local out rc=0
  out="$(rbd object-map check --no-progress "${POOL}/child" 2>&1)" || rc=$?
  expect_eq "rbd object-map check child exits 0" "0" "${rc}"
  expect_eq "rbd object-map check child reports nothing" "" "${out}"
  expect_not_contains "child's flags do not mark the object map invalid" \
    "$(rbd info "${POOL}/child" | grep flags:)" "invalid"
}

# 4. A snapshot keeps what it saw, inherited data included.
test_snapshot() {
  echo "# 4. snapshot of a standalone child"
  expect_ok "rbd snap create child@s1" rbd snap create --no-progress "${POOL}/child@s1"
  local off=$((2 * OBJ + 12288))
  make_pattern "${TMP}/w4" 8192 "child-write-4"
  pyrbd write child "${off}" "${TMP}/w4" || fail "python3-rbd write to the child failed"
  cp "${TMP}/expect3" "${TMP}/expect4"
  patch_file "${TMP}/expect4" "${off}" "${TMP}/w4"

  export_to "${POOL}/child@s1" "${TMP}/s1.exp"
  expect_same_file "export child@s1 equals the child at snapshot time" "${TMP}/expect3" "${TMP}/s1.exp"
  export_to "${POOL}/child" "${TMP}/child4.exp"
  expect_same_file "export child (HEAD) has the post-snapshot write" "${TMP}/expect4" "${TMP}/child4.exp"

  local info
  info="$(rbd info "${POOL}/child@s1")"
  expect_contains "rbd info child@s1 shows the parent" "${info}" "parent: ${POOL}/parent@"
  expect_contains "rbd info child@s1 shows the overlap" "${info}" "overlap: 16 MiB"
  expect_eq "rbd snap ls child lists s1" "s1" \
    "$(rbd snap ls --format json "${POOL}/child" | jq -r '[.[].name] | join(",")')"
  expect_eq "snapshot s1 is 16 MiB" "${SIZE}" \
    "$(rbd snap ls --format json "${POOL}/child" | jq -r '.[0].size')"
  export_to "${POOL}/parent" "${TMP}/parent4.exp"
  expect_same_file "parent unchanged after the snapshot and write" "${TMP}/parent.orig" "${TMP}/parent4.exp"
}

# 5. Shrinking trims the overlap: a regrown range reads zeros.
test_shrink_grow() {
  echo "# 5. shrink then grow"
  make_child parent child2
  expect_ok "rbd resize --allow-shrink child2 to 8 MiB" \
    rbd resize --no-progress --size 8M --allow-shrink "${POOL}/child2"
  expect_contains "rbd info child2 shows an 8 MiB overlap" "$(rbd info "${POOL}/child2")" "overlap: 8 MiB"
  expect_eq "info json child2 overlap" "$((8 * MIB))" "$(info_json "${POOL}/child2" | jq -r .parent.overlap)"
  expect_ok "rbd resize child2 back to 16 MiB" rbd resize --no-progress --size 16M "${POOL}/child2"
  expect_eq "overlap stays 8 MiB after the grow" "$((8 * MIB))" \
    "$(info_json "${POOL}/child2" | jq -r .parent.overlap)"
  export_to "${POOL}/child2" "${TMP}/child2.exp"
  head -c "$((8 * MIB))" "${TMP}/parent.orig" >"${TMP}/expect5"
  head -c "$((8 * MIB))" /dev/zero >>"${TMP}/expect5"
  expect_same_file "child2: first 8 MiB = parent, last 8 MiB = zeros" "${TMP}/expect5" "${TMP}/child2.exp"
}

# 6. Removing snapshots never drops the HEAD's clone-child state.
test_snap_removal() {
  echo "# 6. snapshot removal keeps clone-child"
  make_child parent c3
  rbd snap create --no-progress "${POOL}/c3@a" >/dev/null 2>&1 || fail "snap create c3@a failed"
  rbd snap create --no-progress "${POOL}/c3@b" >/dev/null 2>&1 || fail "snap create c3@b failed"
  expect_ok "rbd snap rm c3@a" rbd snap rm --no-progress "${POOL}/c3@a"
  local info
  info="$(rbd info "${POOL}/c3")"
  expect_contains "c3 keeps clone-child after removing a (b remains)" "${info}" "op_features: clone-child"
  expect_contains "c3 keeps its parent after removing a" "${info}" "parent: ${POOL}/parent@"
  expect_ok "rbd snap rm c3@b" rbd snap rm --no-progress "${POOL}/c3@b"
  info="$(rbd info "${POOL}/c3")"
  expect_contains "c3 keeps clone-child after removing its last snapshot" "${info}" "op_features: clone-child"
  expect_contains "c3 keeps its parent after removing its last snapshot" "${info}" "parent: ${POOL}/parent@"
  expect_contains "c3 keeps a 16 MiB overlap" "${info}" "overlap: 16 MiB"
  expect_eq "rbd snap ls c3 is empty" "0" "$(rbd snap ls --all --format json "${POOL}/c3" | jq length)"
  export_to "${POOL}/c3" "${TMP}/c3.exp"
  expect_same_file "c3 still reads the parent" "${TMP}/parent.orig" "${TMP}/c3.exp"
}

# 7. The parent is read-only while it has children: stored in its header
# as stock enforces it (non-primary, an unknown op feature, the fence's
# exclusive lock), so every stock client opens and reads it and every
# change fails with EROFS.
test_parent_protected() {
  echo "# 7. parent protection"
  local erofs="Read-only file system"
  make_child parent child4
  rbd snap create --no-progress "${POOL}/child4@keep" >/dev/null 2>&1 || fail "snap create child4@keep failed"
  expect_eq "parent has 4 HEAD children" "4" "$(children_count parent)"
  expect_fence parent 1

  expect_fail_with "rbd rm parent fails (EROFS)" "${erofs}" rbd rm --no-progress "${POOL}/parent"
  expect_fail_with "rbd bench write on parent fails (EROFS)" "${erofs}" \
    rbd bench --io-type write --io-size 4K --io-total 64K --io-pattern seq "${POOL}/parent"
  expect_fail_with "rbd resize parent fails (EROFS)" "${erofs}" \
    rbd resize --no-progress --size 32M "${POOL}/parent"
  expect_fail_with "rbd resize --allow-shrink parent fails (EROFS)" "${erofs}" \
    rbd resize --no-progress --size 4M --allow-shrink "${POOL}/parent"
  expect_fail_with "rbd snap create parent@x fails (EROFS)" "${erofs}" \
    rbd snap create --no-progress "${POOL}/parent@x"
  expect_fail_with "rbd rename parent fails (EROFS)" "${erofs}" \
    rbd rename "${POOL}/parent" "${POOL}/parent-renamed"
  expect_fail_with "rbd flatten parent fails (EROFS)" "${erofs}" rbd flatten --no-progress "${POOL}/parent"
  expect_fail_with "rbd feature disable parent fails (EROFS)" "${erofs}" \
    rbd feature disable "${POOL}/parent" fast-diff
  expect_fail_with "rbd feature disable exclusive-lock fails (EROFS)" "${erofs}" \
    rbd feature disable "${POOL}/parent" object-map fast-diff exclusive-lock
  expect_fail_with "rbd image-meta set parent fails (EROFS)" "${erofs}" \
    rbd image-meta set "${POOL}/parent" k v
  expect_fail_with "rbd sparsify parent fails (EROFS)" "${erofs}" rbd sparsify "${POOL}/parent"
  expect_fail_with "rbd lock add parent fails (the fence holds the lock)" "already held" \
    rbd lock add "${POOL}/parent" mylock
  expect_fail_with "python3-rbd write to the parent fails (EROFS)" "errno 30" \
    pyrbd write parent 0 "${TMP}/zero4k"
  expect_ok "python3-rbd default (read-write) open of the parent works" pyrbd open-rw parent
  # trash mv only moves the name: children still read the parent by id,
  # trash rm is refused, restore brings it back.
  local pid
  pid="$(image_id parent)"
  expect_ok "rbd trash mv parent works (name only)" rbd trash mv "${POOL}/parent"
  export_to "${POOL}/c3" "${TMP}/c3.trash"
  expect_same_file "a child reads the trashed parent" "${TMP}/parent.orig" "${TMP}/c3.trash"
  expect_fail_with "rbd trash rm parent fails (EROFS)" "${erofs}" rbd trash rm --no-progress "${POOL}/${pid}"
  expect_ok "rbd trash restore parent" rbd trash restore "${POOL}/${pid}"

  # Third-party clients only ever open read-write: QEMU and fio read the
  # fenced parent, and their writes fail.
  local qp="rbd:${POOL}/parent:conf=${CEPH_CONF}" qc="rbd:${POOL}/c3:conf=${CEPH_CONF}"
  expect_contains "qemu-img info parent" "$(timeout "${CMD_TIMEOUT}" qemu-img info "${qp}" 2>&1)" \
    "virtual size: 16 MiB"
  expect_ok "qemu-img convert parent" timeout "${CMD_TIMEOUT}" qemu-img convert -f raw -O raw "${qp}" "${TMP}/parent.qemu"
  expect_same_file "qemu-img convert of the parent equals its data" "${TMP}/parent.orig" "${TMP}/parent.qemu"
  expect_ok "qemu-img convert child c3" timeout "${CMD_TIMEOUT}" qemu-img convert -f raw -O raw "${qc}" "${TMP}/c3.qemu"
  expect_same_file "qemu-img convert of a child equals the parent's data" "${TMP}/parent.orig" "${TMP}/c3.qemu"
  expect_contains "qemu-img compare parent child" \
    "$(timeout "${CMD_TIMEOUT}" qemu-img compare -f raw -F raw "${qp}" "${qc}" 2>&1)" "Images are identical."
  expect_contains "qemu-io -r reads the parent" \
    "$(timeout "${CMD_TIMEOUT}" qemu-io -r -f raw -c 'read -P 0 0 0' -c 'read 0 64k' "${qp}" 2>&1)" \
    "read 65536/65536 bytes"
  expect_fail_with "qemu-io write to the parent fails (EROFS)" "Read-only file system" \
    timeout "${CMD_TIMEOUT}" qemu-io -f raw -c 'write -P 0x55 0 4k' "${qp}"
  expect_contains "fio (rbd engine) reads the parent" \
    "$(timeout "${CMD_TIMEOUT}" fio --name=r --ioengine=rbd --clientname=admin --pool="${POOL}" \
        --rbdname=parent --rw=read --bs=64k --size=16M 2>&1)" "err= 0"
  expect_contains "fio (rbd engine) writes to the parent fail (EROFS)" \
    "$(timeout "${CMD_TIMEOUT}" fio --name=w --ioengine=rbd --clientname=admin --pool="${POOL}" \
        --rbdname=parent --rw=write --bs=4k --size=64k 2>&1 || true)" "error=Read-only file system"
  pyrbd read-ro parent 0 "${SIZE}" "${TMP}/parent.ro" || fail "python3-rbd read-only open of the parent failed"
  expect_same_file "python3-rbd read-only open reads the parent's data" "${TMP}/parent.orig" "${TMP}/parent.ro"
  pyrbd read parent 0 "${SIZE}" "${TMP}/parent.rw" || fail "python3-rbd default open read of the parent failed"
  expect_same_file "python3-rbd default open reads the parent's data" "${TMP}/parent.orig" "${TMP}/parent.rw"
  export_to "${POOL}/parent" "${TMP}/parent7.exp"
  expect_same_file "rbd export parent works and equals the original" "${TMP}/parent.orig" "${TMP}/parent7.exp"
  expect_contains "rbd info parent works" "$(rbd info "${POOL}/parent")" "size 16 MiB"
  expect_eq "rbd ls still lists the parent" "1" "$(rbd ls "${POOL}" | grep -cx parent || true)"
  expect_eq "parent still has 4 HEAD children" "4" "$(children_count parent)"
  expect_fence parent 1
}

# 8. Stock flatten and rm ask the parent to detach a child; the OSD cannot
# see the child's header, so the entry (and the fence) stays until a client
# has checked the child: the project's `rbd children` (or rm of the parent, --prune)
# completes the detach.  The last one lifts the fence.
test_detach() {
  echo "# 8. flatten / rm detach the children"
  local id
  export_to "${POOL}/child" "${TMP}/child8.pre"
  id="$(image_id child)"
  expect_ok "rbd flatten child" rbd flatten --no-progress "${POOL}/child"
  export_to "${POOL}/child" "${TMP}/child8.post"
  expect_same_file "flatten keeps the child's data" "${TMP}/child8.pre" "${TMP}/child8.post"
  expect_not_contains "rbd info child has no parent after flatten" "$(rbd info "${POOL}/child")" "parent:"
  expect_eq "info json child has no parent after flatten" "null" "$(info_json "${POOL}/child" | jq -r .parent)"
  expect_contains "flatten leaves the entry until it is checked" "$(children_of parent)" "/${id}"
  complete_detaches parent
  expect_not_contains "children list no longer has child" "$(children_of parent)" "/${id}"
  expect_eq "parent has 3 HEAD children" "3" "$(children_count parent)"
  export_to "${POOL}/child@s1" "${TMP}/s1.post"
  expect_same_file "child@s1 still equals the snapshot-time data after flatten" "${TMP}/expect3" "${TMP}/s1.post"

  id="$(image_id child2)"
  expect_ok "rbd rm child2 (no snapshots)" rbd rm --no-progress "${POOL}/child2"
  expect_fail_with "child2 is gone" "No such file or directory" rbd info "${POOL}/child2"
  complete_detaches parent
  expect_not_contains "children list no longer has child2" "$(children_of parent)" "/${id}"
  expect_eq "parent has 2 HEAD children" "2" "$(children_count parent)"

  id="$(image_id child4)"
  expect_fail_with "rbd rm child4 with a snapshot fails (ENOTEMPTY)" "image has snapshots" \
    rbd rm --no-progress "${POOL}/child4"
  complete_detaches parent
  expect_eq "parent still has 2 HEAD children after the failed rm" "2" "$(children_count parent)"
  expect_ok "rbd snap purge child4" rbd snap purge --no-progress "${POOL}/child4"
  expect_contains "child4 keeps its parent after snap purge" "$(rbd info "${POOL}/child4")" "parent: ${POOL}/parent@"
  expect_ok "rbd rm child4" rbd rm --no-progress "${POOL}/child4"
  complete_detaches parent
  expect_not_contains "children list no longer has child4" "$(children_of parent)" "/${id}"
  expect_eq "parent has 1 HEAD child" "1" "$(children_count parent)"

  expect_fail_with "parent still read-only with one child left" "errno 30" pyrbd write parent 0 "${TMP}/zero4k"
  expect_fence parent 1

  id="$(image_id c3)"
  expect_ok "rbd rm c3 (the last child, no snapshots)" rbd rm --no-progress "${POOL}/c3"
  expect_eq "the fence stays until the detach is checked" "1" "$(children_count parent)"
  expect_fence parent 1
  complete_detaches parent
  expect_eq "parent has no HEAD children" "0" "$(children_count parent)"
  expect_fence parent 0
  local ops
  ops="$(raw_op_features parent)"
  expect_eq "parent op_features empty again" "0" "${ops}"
  local feats
  feats="$(info_json "${POOL}/parent" | jq -r '.features | join(",")')"
  expect_eq "parent features are the original ones again" \
    "layering,exclusive-lock,object-map,fast-diff,deep-flatten" "${feats}"
  expect_ok "python3-rbd write to the parent works again" pyrbd write parent 0 "${TMP}/orig4k"
  export_to "${POOL}/parent" "${TMP}/parent8.exp"
  expect_same_file "parent data unchanged at the end" "${TMP}/parent.orig" "${TMP}/parent8.exp"
  wait_no_watchers "${POOL}/parent"
  expect_ok "rbd rm parent succeeds once it has no children" rbd rm --no-progress "${POOL}/parent"
  expect_eq "flattened child survives its parent's removal" "ok" \
    "$(export_to "${POOL}/child" "${TMP}/child8.last" && cmp -s "${TMP}/child8.pre" "${TMP}/child8.last" && echo ok)"
}

# 9. Deep flatten of a child with a snapshot.
test_deep_flatten() {
  echo "# 9. deep flatten of a child with a snapshot"
  rbd import --no-progress "${TMP}/parent.orig" "${POOL}/parent9" >/dev/null 2>&1 ||
    fail "rbd import of parent9 failed"
  make_child parent9 child9
  local feats
  feats="$(info_json "${POOL}/child9" | jq -r '.features | join(",")')"
  expect_contains "child9 has deep-flatten" ",${feats}," ",deep-flatten,"

  local off=$((3 * OBJ + 4096))
  make_pattern "${TMP}/w9a" 4096 "child9-before-snap"
  pyrbd write child9 "${off}" "${TMP}/w9a" || fail "write to child9 failed"
  cp "${TMP}/parent.orig" "${TMP}/expect9s"
  patch_file "${TMP}/expect9s" "${off}" "${TMP}/w9a"
  rbd snap create --no-progress "${POOL}/child9@s9" >/dev/null 2>&1 || fail "snap create child9@s9 failed"
  make_pattern "${TMP}/w9b" 4096 "child9-after-snap"
  pyrbd write child9 0 "${TMP}/w9b" || fail "write to child9 failed"
  cp "${TMP}/expect9s" "${TMP}/expect9h"
  patch_file "${TMP}/expect9h" 0 "${TMP}/w9b"

  export_to "${POOL}/child9@s9" "${TMP}/s9.pre"
  expect_same_file "child9@s9 before flatten" "${TMP}/expect9s" "${TMP}/s9.pre"
  expect_ok "rbd flatten child9 (with a snapshot)" rbd flatten --no-progress "${POOL}/child9"
  export_to "${POOL}/child9@s9" "${TMP}/s9.post"
  expect_same_file "child9@s9 after flatten equals the snapshot-time data" "${TMP}/expect9s" "${TMP}/s9.post"
  export_to "${POOL}/child9" "${TMP}/c9.post"
  expect_same_file "child9 HEAD after flatten" "${TMP}/expect9h" "${TMP}/c9.post"
  expect_not_contains "child9 has no parent" "$(rbd info "${POOL}/child9")" "parent:"
  expect_not_contains "child9@s9 has no parent" "$(rbd info "${POOL}/child9@s9")" "parent:"
  expect_not_contains "child9 has no clone-child" "$(rbd info "${POOL}/child9")" "clone-child"
  expect_fence parent9 1
  complete_detaches parent9
  expect_eq "parent9 has no HEAD children" "0" "$(children_count parent9)"
  expect_fence parent9 0
  expect_ok "rbd rm parent9 succeeds" rbd rm --no-progress "${POOL}/parent9"
  export_to "${POOL}/child9@s9" "${TMP}/s9.last"
  expect_same_file "child9@s9 still reads right with parent9 gone" "${TMP}/expect9s" "${TMP}/s9.last"
  export_to "${POOL}/child9" "${TMP}/c9.last"
  expect_same_file "child9 HEAD still reads right with parent9 gone" "${TMP}/expect9h" "${TMP}/c9.last"
}

# 10. More stock flows on standalone children of one more parent.
test_more_flows() {
  echo "# 10. rollback, trash, flatten without deep-flatten, resize with snapshots, copies"
  rbd import --no-progress "${TMP}/parent.orig" "${POOL}/parent10" >/dev/null 2>&1 ||
    fail "rbd import of parent10 failed"
  make_child parent10 rb10
  make_child parent10 tr10
  make_child parent10 nd10 --image-feature layering,exclusive-lock,object-map,fast-diff
  make_child parent10 sh10
  make_child parent10 cp10
  expect_eq "parent10 has 5 HEAD children" "5" "$(children_count parent10)"

  # Snapshot rollback restores inherited and copied-up data alike.
  make_pattern "${TMP}/w10a" 4096 "rb10-before-snap"
  pyrbd write rb10 "$((OBJ - 2048))" "${TMP}/w10a" || fail "write to rb10 failed"
  cp "${TMP}/parent.orig" "${TMP}/expect10s"
  patch_file "${TMP}/expect10s" "$((OBJ - 2048))" "${TMP}/w10a"
  rbd snap create --no-progress "${POOL}/rb10@s" >/dev/null 2>&1 || fail "snap create rb10@s failed"
  make_pattern "${TMP}/w10b" $((64 * 1024)) "rb10-after-snap"
  pyrbd write rb10 "$((3 * OBJ))" "${TMP}/w10b" || fail "write to rb10 failed"
  pyrbd write rb10 0 "${TMP}/w10b" || fail "write to rb10 failed"
  expect_ok "rbd snap rollback rb10@s" rbd snap rollback --no-progress "${POOL}/rb10@s"
  export_to "${POOL}/rb10" "${TMP}/rb10.exp"
  expect_same_file "rb10 after rollback equals the snapshot-time data" "${TMP}/expect10s" "${TMP}/rb10.exp"
  expect_eq "rbd object-map check rb10 after rollback is clean" "" \
    "$(rbd object-map check --no-progress "${POOL}/rb10" 2>&1 || echo "exit $?")"
  expect_contains "rb10 still a child after rollback" "$(rbd info "${POOL}/rb10")" "parent: ${POOL}/parent10@"

  # Trash: a trashed child stays registered; trash rm detaches it.
  local id
  id="$(image_id tr10)"
  expect_ok "rbd trash mv tr10" rbd trash mv "${POOL}/tr10"
  expect_contains "trashed tr10 still registered on parent10" "$(children_of parent10)" "/${id}"
  expect_ok "rbd trash restore tr10" rbd trash restore "${POOL}/${id}"
  expect_contains "restored tr10 has its parent" "$(rbd info "${POOL}/tr10")" "parent: ${POOL}/parent10@"
  export_to "${POOL}/tr10" "${TMP}/tr10.exp"
  expect_same_file "restored tr10 reads the parent" "${TMP}/parent.orig" "${TMP}/tr10.exp"
  rbd trash mv "${POOL}/tr10" >/dev/null 2>&1 || fail "second rbd trash mv tr10 failed"
  expect_ok "rbd trash rm tr10" rbd trash rm --no-progress "${POOL}/${id}"
  complete_detaches parent10
  expect_not_contains "trash rm detached tr10" "$(children_of parent10)" "/${id}"
  expect_eq "parent10 has 4 HEAD children" "4" "$(children_count parent10)"

  # Flatten without deep-flatten: the snapshot keeps reading the parent,
  # so the child stays registered until the snapshot is removed.
  id="$(image_id nd10)"
  make_pattern "${TMP}/w10c" 4096 "nd10-before-snap"
  pyrbd write nd10 "$((2 * OBJ))" "${TMP}/w10c" || fail "write to nd10 failed"
  cp "${TMP}/parent.orig" "${TMP}/expect10nd"
  patch_file "${TMP}/expect10nd" "$((2 * OBJ))" "${TMP}/w10c"
  rbd snap create --no-progress "${POOL}/nd10@s" >/dev/null 2>&1 || fail "snap create nd10@s failed"
  pyrbd write nd10 "$((OBJ + 4096))" "${TMP}/w10c" || fail "write to nd10 failed"
  cp "${TMP}/expect10nd" "${TMP}/expect10ndh"
  patch_file "${TMP}/expect10ndh" "$((OBJ + 4096))" "${TMP}/w10c"
  expect_ok "rbd flatten nd10 (no deep-flatten, one snapshot)" rbd flatten --no-progress "${POOL}/nd10"
  expect_not_contains "nd10 HEAD has no parent after flatten" "$(rbd info "${POOL}/nd10")" "parent:"
  expect_contains "nd10@s still has its parent" "$(rbd info "${POOL}/nd10@s")" "parent: ${POOL}/parent10@"
  complete_detaches parent10
  expect_contains "nd10 still registered while its snapshot needs parent10" "$(children_of parent10)" "/${id}"
  export_to "${POOL}/nd10@s" "${TMP}/nd10s.exp"
  expect_same_file "nd10@s reads through to parent10" "${TMP}/expect10nd" "${TMP}/nd10s.exp"
  export_to "${POOL}/nd10" "${TMP}/nd10h.exp"
  expect_same_file "nd10 HEAD after flatten" "${TMP}/expect10ndh" "${TMP}/nd10h.exp"
  expect_ok "rbd snap rm nd10@s" rbd snap rm --no-progress "${POOL}/nd10@s"
  complete_detaches parent10
  expect_not_contains "removing nd10's last snapshot detached it" "$(children_of parent10)" "/${id}"
  expect_not_contains "nd10 lost clone-child" "$(rbd info "${POOL}/nd10")" "clone-child"
  expect_eq "parent10 has 3 HEAD children" "3" "$(children_count parent10)"

  # Resize with snapshots: each snapshot keeps the overlap it was taken with.
  rbd snap create --no-progress "${POOL}/sh10@full" >/dev/null 2>&1 || fail "snap create sh10@full failed"
  rbd resize --no-progress --size 8M --allow-shrink "${POOL}/sh10" >/dev/null 2>&1 || fail "shrink sh10 failed"
  rbd snap create --no-progress "${POOL}/sh10@half" >/dev/null 2>&1 || fail "snap create sh10@half failed"
  rbd resize --no-progress --size 16M "${POOL}/sh10" >/dev/null 2>&1 || fail "grow sh10 failed"
  expect_eq "sh10@full overlap" "${SIZE}" "$(info_json "${POOL}/sh10@full" | jq -r .parent.overlap)"
  expect_eq "sh10@half overlap" "$((8 * MIB))" "$(info_json "${POOL}/sh10@half" | jq -r .parent.overlap)"
  expect_eq "sh10 HEAD overlap" "$((8 * MIB))" "$(info_json "${POOL}/sh10" | jq -r .parent.overlap)"
  export_to "${POOL}/sh10@full" "${TMP}/sh10f.exp"
  expect_same_file "sh10@full reads all 16 MiB of the parent" "${TMP}/parent.orig" "${TMP}/sh10f.exp"
  export_to "${POOL}/sh10@half" "${TMP}/sh10h.exp"
  head -c "$((8 * MIB))" "${TMP}/parent.orig" >"${TMP}/expect10half"
  expect_same_file "sh10@half is the parent's first 8 MiB" "${TMP}/expect10half" "${TMP}/sh10h.exp"
  export_to "${POOL}/sh10" "${TMP}/sh10.exp"
  expect_same_file "sh10 HEAD: parent's first 8 MiB, then zeros" "${TMP}/expect5" "${TMP}/sh10.exp"

  # Copies of a child are flat images with the child's data.
  pyrbd write cp10 "$((OBJ / 2))" "${TMP}/w10c" || fail "write to cp10 failed"
  export_to "${POOL}/cp10" "${TMP}/cp10.exp"
  expect_ok "rbd cp cp10" rbd cp --no-progress "${POOL}/cp10" "${POOL}/cp10-copy"
  export_to "${POOL}/cp10-copy" "${TMP}/cp10c.exp"
  expect_same_file "rbd cp copy equals cp10" "${TMP}/cp10.exp" "${TMP}/cp10c.exp"
  expect_not_contains "rbd cp copy has no parent" "$(rbd info "${POOL}/cp10-copy")" "parent:"
  expect_ok "rbd deep cp --flatten cp10" rbd deep cp --flatten --no-progress "${POOL}/cp10" "${POOL}/cp10-deep"
  export_to "${POOL}/cp10-deep" "${TMP}/cp10d.exp"
  expect_same_file "rbd deep cp --flatten copy equals cp10" "${TMP}/cp10.exp" "${TMP}/cp10d.exp"
  expect_not_contains "deep copy has no parent" "$(rbd info "${POOL}/cp10-deep")" "parent:"
  rm -f "${TMP}/cp10.diff"
  expect_ok "rbd export-diff cp10" rbd export-diff --no-progress "${POOL}/cp10" "${TMP}/cp10.diff"
  rbd create --size 16M "${POOL}/cp10-diff" || fail "rbd create cp10-diff failed"
  expect_ok "rbd import-diff into a fresh image" rbd import-diff --no-progress "${TMP}/cp10.diff" "${POOL}/cp10-diff"
  export_to "${POOL}/cp10-diff" "${TMP}/cp10diff.exp"
  expect_same_file "export-diff/import-diff reproduces cp10 (parent data included)" \
    "${TMP}/cp10.exp" "${TMP}/cp10diff.exp"
  expect_eq "copies are not registered on parent10" "3" "$(children_count parent10)"

  rbd snap purge --no-progress "${POOL}/rb10" >/dev/null 2>&1 || fail "snap purge rb10 failed"
  rbd snap purge --no-progress "${POOL}/sh10" >/dev/null 2>&1 || fail "snap purge sh10 failed"
  local c
  for c in rb10 sh10 cp10; do
    expect_ok "rbd rm ${c}" rbd rm --no-progress "${POOL}/${c}"
  done
  expect_fence parent10 1
  complete_detaches parent10
  expect_eq "parent10 has no HEAD children" "0" "$(children_count parent10)"
  expect_fence parent10 0
  expect_ok "rbd rm parent10 succeeds" rbd rm --no-progress "${POOL}/parent10"
}

test_cluster_healthy() {
  echo "# cluster"
  local up total
  total="$(ceph_ osd stat --format json | jq -r .num_osds)"
  up="$(ceph_ osd stat --format json | jq -r .num_up_osds)"
  expect_eq "all OSDs still up (no overlay crash)" "${total}" "${up}"
}

main() {
  trap cleanup EXIT
  preflight
  setup
  local start=${SECONDS}
  test_link
  test_read_through
  test_copy_up
  test_snapshot
  test_shrink_grow
  test_snap_removal
  test_parent_protected
  test_detach
  test_deep_flatten
  test_more_flows
  test_cluster_healthy
  FINISHED=1
  echo "# ran in $((SECONDS - start))s"
  echo "${PASSED} passed, 0 failed"
}

main "$@"
