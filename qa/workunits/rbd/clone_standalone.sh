#!/usr/bin/env bash
# The seed specification's "Manual Test Procedures", Tests 1-10 (Test 6,
# "Flatten Standalone Clone", included), as a
# workunit that asserts every expected output: standalone clones (a
# copy-on-write child of a parent image's HEAD, no snapshot) made with the
# project's CLI (`rbd clone-standalone`, `children`, `info`, `ls -l`, `rm`,
# `config`, `object-map view`), with the stock Ceph 16.2 tools for I/O
# (/usr/bin/rbd bench/import/export/diff/object-map/lock, python3-rbd).
# Where the seed's expected output is wrong for Ceph 16.2 (object counts,
# "No errors found in object map", `rbd import --image-size`, `rbd export
# --offset`; the seed's info omits fast-diff and operations), what a Ceph
# user gets is asserted instead; see the comments.
# Also: `ls -l` (= stock's + a TYPE column), `config pool|image` of
# rbd_standalone_clone_enabled, `config image list|get` of a parent with
# standalone children (stock refuses), `children --descendants`, `info` of a stock
# snapshot clone, the stock `-p POOL` form, well-formed JSON for odd names.
#
# Needs: a running cluster whose OSDs load the overlay, CEPH_CONF pointing
# at it, the project's CLI (env RBD_CLI, default build/bin/rbd of this
# tree), e.g.
#   eval "$(src/vstart.sh start --dir /tmp/wu-x --mon-port 40300 \
#           --class-dir build/lib/rados-classes)"
#   qa/workunits/rbd/clone_standalone.sh
# It fails (never skips) if the cluster cannot be reached.  Everything lives
# in two pools of its own (testpool-PID, testpool2-PID), removed on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
RBD_CLI="${RBD_CLI:-${HERE}/../../../build/bin/rbd}"
readonly RBD_CLI
readonly STOCK_RBD=/usr/bin/rbd
readonly CEPH=/usr/bin/ceph
readonly RADOS=/usr/bin/rados
readonly PY=/usr/bin/python3
readonly CMD_TIMEOUT="${CMD_TIMEOUT:-300}"

readonly MIB=$((1 << 20))
readonly OBJ=$((4 * MIB))
readonly SIZE=$((100 * MIB))
readonly OBJECTS=25
# The features `rbd create --image-feature layering,exclusive-lock,object-map`
# gives on Ceph 16.2 (object-map brings fast-diff with it).
readonly BASE_FEATURES="layering, exclusive-lock, object-map, fast-diff"
# A standalone child (and a parent with children) also has "operations":
# the child's clone-child op feature (the parent's marker op feature).
readonly CHILD_FEATURES="${BASE_FEATURES}, operations"

PASSED=0
FINISHED=0
P1="testpool-$$"
P2="testpool2-$$"
P1_CREATED=0
P2_CREATED=0
TMP=""

# ------------------------------------------------------------ reporting ---

# shellcheck source=qa/workunits/rbd/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ---------------------------------------------------------------- tools ---

# Every cluster call is bounded: a hung client must fail the test.
rbd() { timeout "${CMD_TIMEOUT}" "${RBD_CLI}" "$@"; }         # the project's CLI
srbd() { timeout "${CMD_TIMEOUT}" "${STOCK_RBD}" "$@"; }      # the stock CLI

# must CMD...: CMD's stdout; if CMD fails, says so (with its stderr) and
# exits the caller's command substitution non-zero, so that
# `var="$(must ...)"` stops the script under set -e.
must() {
  local err rc=0 out
  err="$(mktemp "${TMP}/err.XXXXXX")"
  out="$("$@" 2>"${err}")" || rc=$?
  if ((rc != 0)); then
    echo "FAIL: [$*] exited ${rc}: $(cat "${err}")" >&2
    rm -f "${err}"
    exit 1
  fi
  rm -f "${err}"
  printf '%s' "${out}"
}

# Exports SPEC (stock rbd) to a fresh file FILE.
stock_export_to() {
  local out
  rm -f -- "$2"
  out="$(srbd export --no-progress "$1" "$2" 2>&1)" || fail "rbd export $1 failed: ${out}"
}

# Stock rbd bench (write or read) of 4 KiB I/Os, TOTAL bytes.
bench() {  # TYPE SPEC TOTAL
  local out
  out="$(srbd bench --io-type "$1" "$2" --io-size 4K --io-total "$3" 2>&1)" ||
    fail "rbd bench --io-type $1 $2 --io-total $3 failed: ${out}"
  printf '%s' "${out}"
}

# One line of `rbd info` (the project's), without its leading tab:
# info_line SPEC KEY -> "KEY: value".
info_line() {
  local info
  info="$(must rbd info "$1")" || exit 1
  sed -n "s/^\t\($2: .*\)$/\1/p; s/^\t\($2:\)$/\1/p" <<<"${info}"
}

# `rbd info` without the *_timestamp lines (those may move between calls).
info_no_times() { grep -v '_timestamp: ' <<<"$1" || true; }

image_id() { must srbd info --format json "$1" | jq -r .id; }

# The project's `object-map view --format json` states, one per line.
view_states() { must rbd object-map view --format json "$1" | jq -r '.states[]'; }

# The project's `rbd ls -l POOL` without its TYPE column, and the stock
# `rbd ls -l POOL`, both without trailing blanks: they must be equal.
ls_long_without_type() {  # POOL
  local out
  out="$(must rbd ls -l "$1")" || exit 1
  awk 'NR == 1 { cut = index($0, "  TYPE") - 1 }
       { line = substr($0, 1, cut); sub(/ +$/, "", line); print line }' <<<"${out}"
}
ls_long_stock() { must srbd ls -l "$1" | sed 's/ *$//'; }

# python3-rbd: write FILE's bytes at OFFSET into POOL/IMAGE.
pywrite() {  # POOL IMAGE OFFSET FILE
  timeout "${CMD_TIMEOUT}" "${PY}" - "$@" <<'EOF'
import sys
import rados, rbd
pool, image, offset, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data = open(path, 'rb').read()
cluster = rados.Rados(conffile='')
cluster.connect()
try:
    with cluster.open_ioctx(pool) as ioctx:
        with rbd.Image(ioctx, image) as img:
            n = img.write(data, offset)
            if n != len(data):
                sys.exit('short write: %d of %d' % (n, len(data)))
            img.flush()
finally:
    cluster.shutdown()
EOF
}

# Overwrites FILE at byte OFFSET with the content of PATCH.
patch_file() {  # FILE OFFSET PATCH
  dd if="$3" of="$1" bs=4096 seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# OUT = BASE with every non-zero byte of TOP laid over it.
overlay_nonzero() {  # BASE TOP OUT
  "${PY}" - "$@" <<'EOF'
import sys
base = bytearray(open(sys.argv[1], 'rb').read())
top = open(sys.argv[2], 'rb').read()
zero = bytes(4096)
for off in range(0, len(top), 4096):
    block = top[off:off + 4096]
    if block == zero:
        continue
    if block.count(0) == 0:
        base[off:off + len(block)] = block
        continue
    for i, b in enumerate(block):
        if b:
            base[off + i] = b
open(sys.argv[3], 'wb').write(bytes(base))
EOF
}

# Object numbers (decimal, ascending) of the RADOS data objects of an image.
data_objects() {  # POOL SPEC
  local prefix objs
  prefix="$(must srbd info --format json "$2" | jq -r .block_name_prefix)" || exit 1
  objs="$(must timeout "${CMD_TIMEOUT}" "${RADOS}" -p "$1" ls)" || exit 1
  sed -n "s/^${prefix}\.//p" <<<"${objs}" |
    while read -r hex; do echo $((16#${hex})); done | sort -n
}

# Creates the seed's parent: 100 MiB, layering,exclusive-lock,object-map
# (FEATURES to override), 4 KiB bench writes of TOTAL bytes.
make_parent() {  # SPEC TOTAL [FEATURES]
  local out
  out="$(srbd create "$1" --size 100M \
    --image-feature "${3:-layering,exclusive-lock,object-map}" 2>&1)" ||
    fail "rbd create $1 failed: ${out}"
  bench write "$1" "$2" >/dev/null
}

# ------------------------------------------------------- setup/cleanup ---

cleanup() {
  local rc=$?
  set +e
  ((P2_CREATED)) && remove_pool "${P2}"
  ((P1_CREATED)) && remove_pool "${P1}"
  finish_cleanup "${rc}"
}

preflight() {
  require_cluster
  local out
  [[ -x "${RBD_CLI}" ]] ||
    fail "the project's rbd CLI ${RBD_CLI} is missing (build it: cd build && cmake .. && make), or set RBD_CLI"
  require_tools "${STOCK_RBD}" "${CEPH}" "${RADOS}" "${PY}"
  out="$("${RBD_CLI}" help clone-standalone 2>&1)" ||
    fail "${RBD_CLI} is not the project's CLI (no clone-standalone): ${out}"
}

make_pool() {  # POOL
  local out
  out="$(ceph_ osd pool create "$1" 32 32 2>&1)" || fail "cannot create pool $1: ${out}"
}

# ---------------------------------------------------------------- tests ---

# Test 1: Basic Clone Creation and Verification.
test1() {
  echo "# Test 1: basic clone creation and verification"
  make_pool "${P1}"
  P1_CREATED=1
  expect_ok "rbd pool init ${P1}" srbd pool init "${P1}"

  expect_ok "rbd create ${P1}/parent (100M, layering,exclusive-lock,object-map)" \
    srbd create "${P1}/parent" --size 100M --image-feature layering,exclusive-lock,object-map
  expect_eq "parent features before any clone" "features: ${BASE_FEATURES}" \
    "$(info_line "${P1}/parent" features)"
  expect_contains "rbd bench --io-type write parent (4K, 10M) completes 2560 ops" \
    "$(bench write "${P1}/parent" 10M)" "ops: 2560 "
  stock_export_to "${P1}/parent" "${TMP}/parent.orig"

  expect_ok "rbd clone-standalone ${P1}/parent ${P1}/child1" \
    rbd clone-standalone "${P1}/parent" "${P1}/child1"
  expect_eq "clone-standalone prints nothing on success" "" "${LAST_OUT}"

  local info stock
  info="$(must rbd info "${P1}/child1")"
  expect_eq "info: header line" "rbd image 'child1':" "$(head -n1 <<<"${info}")"
  expect_contains "info: size (100 MiB = 25 objects of 4 MiB; the seed's 25600 is wrong)" \
    "${info}" $'\tsize 100 MiB in '"${OBJECTS}"$' objects\n'
  expect_contains "info: order 22 (4 MiB objects)" "${info}" $'\torder 22 (4 MiB objects)\n'
  expect_contains "info: snapshot_count: 0" "${info}" $'\tsnapshot_count: 0\n'
  expect_contains "info: format: 2" "${info}" $'\tformat: 2\n'
  expect_eq "info: features = the parent's + operations (clone-child)" \
    "features: ${CHILD_FEATURES}" "$(info_line "${P1}/child1" features)"
  expect_eq "info: op_features: clone-child" "op_features: clone-child" \
    "$(info_line "${P1}/child1" op_features)"
  expect_eq "info: flags empty" "flags:" "$(info_line "${P1}/child1" flags | sed 's/ *$//')"
  expect_eq "info: parent: ${P1}/parent@ (no snapshot name)" "parent: ${P1}/parent@" \
    "$(info_line "${P1}/child1" parent)"
  expect_eq "info: overlap: 100 MiB" "overlap: 100 MiB" "$(info_line "${P1}/child1" overlap)"
  expect_eq "info: parent_type: standalone, right after overlap" \
    $'\toverlap: 100 MiB\n\tparent_type: standalone' \
    "$(grep -A1 $'^\toverlap: ' <<<"${info}")"
  stock="$(must srbd info "${P1}/child1")"
  expect_eq "info = stock rbd info + the parent_type line (timestamps aside)" \
    "$(info_no_times "${stock}")" "$(info_no_times "$(grep -v $'^\tparent_type: ' <<<"${info}")")"

  local json pjson
  json="$(must rbd info --format json "${P1}/child1")"
  pjson="$(must rbd info --format json "${P1}/parent")"
  expect_eq "info json: parent.pool" "${P1}" "$(jq -r .parent.pool <<<"${json}")"
  expect_eq "info json: parent.pool_namespace" "" "$(jq -r .parent.pool_namespace <<<"${json}")"
  expect_eq "info json: parent.image" "parent" "$(jq -r .parent.image <<<"${json}")"
  expect_eq "info json: parent.id = the parent's id" "$(jq -r .id <<<"${pjson}")" \
    "$(jq -r .parent.id <<<"${json}")"
  expect_eq "info json: parent.snapshot empty (HEAD)" "" "$(jq -r .parent.snapshot <<<"${json}")"
  expect_eq "info json: parent.overlap" "${SIZE}" "$(jq -r .parent.overlap <<<"${json}")"
  expect_eq "info json: parent.trash" "false" "$(jq -r .parent.trash <<<"${json}")"
  expect_eq "info json: parent.type" "standalone" "$(jq -r .parent.type <<<"${json}")"
  expect_eq "info json: size" "${SIZE}" "$(jq -r .size <<<"${json}")"
  # The parent's fence adds non-primary to its features.
  expect_eq "info json: features equal the parent's (but its fence)" \
    "$(jq -c '.features - ["non-primary"]' <<<"${pjson}")" \
    "$(jq -c .features <<<"${json}")"
  expect_eq "info json: op_features" '["clone-child"]' "$(jq -c .op_features <<<"${json}")"
  info="$(must rbd info "${P1}/parent")"
  expect_not_contains "info parent: no parent line" "${info}" $'\tparent'
  expect_eq "info json parent: no parent member" "null" "$(jq -r .parent <<<"${pjson}")"
}

# Test 2: Multiple Children Tracking.
test2() {
  echo "# Test 2: multiple children tracking"
  expect_ok "rbd clone-standalone parent child2" rbd clone-standalone "${P1}/parent" "${P1}/child2"
  expect_ok "rbd clone-standalone parent child3" rbd clone-standalone "${P1}/parent" "${P1}/child3"
  expect_eq "rbd children parent lists child1..3 in order" \
    "${P1}/child1"$'\n'"${P1}/child2"$'\n'"${P1}/child3" "$(must rbd children "${P1}/parent")"
  local json
  json="$(must rbd children --format json "${P1}/parent")"
  expect_eq "children json: images" '["child1","child2","child3"]' "$(jq -c 'map(.image)' <<<"${json}")"
  expect_eq "children json: pools" "[\"${P1}\",\"${P1}\",\"${P1}\"]" "$(jq -c 'map(.pool)' <<<"${json}")"
  expect_eq "children json: all parent_type standalone" '["standalone","standalone","standalone"]' \
    "$(jq -c 'map(.parent_type)' <<<"${json}")"
  expect_eq "children json: ids are the children's" \
    "$(image_id "${P1}/child1") $(image_id "${P1}/child2") $(image_id "${P1}/child3")" \
    "$(jq -r 'map(.id) | join(" ")' <<<"${json}")"
  expect_eq "children json: state ok, depth 1, not in trash" '[["ok",1,false],["ok",1,false],["ok",1,false]]' \
    "$(jq -c 'map([.state, .depth, .trash])' <<<"${json}")"
  local info
  info="$(must rbd info "${P1}/parent")"
  expect_contains "info parent: size 100 MiB in 25 objects" "${info}" $'\tsize 100 MiB in 25 objects\n'
  expect_eq "info parent: features (operations, non-primary = the parent's fence)" \
    "features: ${CHILD_FEATURES}, non-primary" "$(info_line "${P1}/parent" features)"

  # ls -l: PARENT pool/image@ and TYPE standalone for each child.
  local ls
  ls="$(must rbd ls -l "${P1}")"
  expect_eq "ls -l header" "NAME    SIZE     PARENT$(printf '%*s' $((${#P1} + 8 - 6)) '')  FMT  PROT  LOCK  TYPE" \
    "$(head -n1 <<<"${ls}")"
  local c
  for c in child1 child2 child3; do
    expect_match "ls -l: ${c} has PARENT ${P1}/parent@ and TYPE standalone" \
      "$(grep "^${c} " <<<"${ls}")" "^${c} +100 MiB +${P1}/parent@ +2 +standalone\$"
  done
  # LOCK excl: the fence holds the parent's exclusive lock (as stock shows).
  expect_match "ls -l: parent row has no PARENT nor TYPE, LOCK excl (the fence)" \
    "$(grep '^parent ' <<<"${ls}")" '^parent +100 MiB +2 +excl$'
  expect_eq "ls -l = stock rbd ls -l + the TYPE column" "$(ls_long_stock "${P1}")" \
    "$(ls_long_without_type "${P1}")"
  json="$(must rbd ls -l --format json "${P1}")"
  expect_eq "ls -l json = stock's + parent.type" \
    "$(must srbd ls -l --format json "${P1}" | jq -c .)" \
    "$(jq -c 'map(if .parent then .parent |= del(.type) else . end)' <<<"${json}")"
  expect_eq "ls -l json: children's parent.type" '["standalone","standalone","standalone"]' \
    "$(jq -c '[.[] | select(.image | startswith("child")) | .parent.type]' <<<"${json}")"
  expect_eq "ls -l json: children's parent image@snapshot" '["parent@","parent@","parent@"]' \
    "$(jq -c '[.[] | select(.image | startswith("child")) | .parent.image + "@" + .parent.snapshot]' <<<"${json}")"
}

# Test 3: Read from Parent (Copy-on-Read).
test3() {
  echo "# Test 3: read from the parent"
  local out
  out="$(bench read "${P1}/child1" 10M)"
  expect_contains "rbd bench --io-type read child1: header" "${out}" \
    "bench  type read io_size 4096 io_threads 16 bytes 10485760 pattern seq"
  expect_match "rbd bench --io-type read child1: 2560 ops" "${out}" $'elapsed: +[0-9.]+ +ops: +2560 '
  stock_export_to "${P1}/child1" "${TMP}/child1.exp"
  expect_same_file "export child1 = export parent" "${TMP}/parent.orig" "${TMP}/child1.exp"

  # Pacific prints a progress line, not the seed's "No errors found".
  expect_ok "rbd object-map check child1" srbd object-map check "${P1}/child1"
  expect_contains "object-map check child1 completes" "${LAST_OUT}" "Object Map Check: 100% complete...done."
  expect_ok "rbd object-map check --no-progress child1" srbd object-map check --no-progress "${P1}/child1"
  expect_eq "object-map check --no-progress child1 reports nothing" "" "${LAST_OUT}"
  expect_not_contains "child1 flags: object map not invalid" "$(info_line "${P1}/child1" flags)" "invalid"

  # Before any write the child owns nothing: each object is inherited
  # (exists_parent) exactly where the parent has data.
  local want got
  want="$(view_states "${P1}/parent" | sed 's/^exists$/exists_parent/')"
  got="$(view_states "${P1}/child1")"
  expect_eq "object-map view child1 = the parent's objects, as exists_parent" "${want}" "${got}"
  expect_eq "object-map view child1: 25 objects" "${OBJECTS}" "$(grep -c . <<<"${got}")"
}

# Test 4: Write to Clone (Copy-on-Write).
test4() {
  echo "# Test 4: write to the clone (copy-up)"
  # The seed writes with `echo ... | rbd import - testpool/child1 --image-size 1M`:
  # Ceph 16.2's rbd import has no --image-size and cannot import into an
  # existing image.  Both must fail and leave child1 alone; the write the
  # seed means is done with python3-rbd.
  local data="test data for child"
  expect_exit "seed's 'rbd import - child1 --image-size 1M' is refused" nonzero "--image-size" \
    bash -c "echo '${data}' | timeout ${CMD_TIMEOUT} '${RBD_CLI}' import - '${P1}/child1' --image-size 1M"
  expect_exit "rbd import - child1 fails: child1 exists (17)" 17 "File exists" \
    bash -c "echo '${data}' | timeout ${CMD_TIMEOUT} '${RBD_CLI}' import --no-progress - '${P1}/child1'"
  stock_export_to "${P1}/child1" "${TMP}/child1.afterimport"
  expect_same_file "the failed imports left child1 alone" "${TMP}/parent.orig" "${TMP}/child1.afterimport"

  # Object 0 has parent data (copy-up); the first object without parent
  # data gets a write too (no copy-up: a plain new object).
  local parent_states empty_obj
  parent_states="$(view_states "${P1}/parent")"
  expect_eq "parent object 0 exists (bench wrote offset 0)" "exists" "$(head -n1 <<<"${parent_states}")"
  empty_obj="$(grep -n -m1 '^nonexistent$' <<<"${parent_states}" | cut -d: -f1)"
  [[ -n "${empty_obj}" ]] || fail "the parent has data in every object; cannot pick an empty one"
  empty_obj=$((empty_obj - 1))

  printf '%s\n' "${data}" >"${TMP}/w4a"
  head -c 4096 /dev/urandom >"${TMP}/w4b"
  pywrite "${P1}" child1 0 "${TMP}/w4a" || fail "python3-rbd write to child1 at 0 failed"
  pywrite "${P1}" child1 $((empty_obj * OBJ)) "${TMP}/w4b" ||
    fail "python3-rbd write to child1 at object ${empty_obj} failed"
  pass "python3-rbd writes to child1 (object 0 and object ${empty_obj})"
  cp "${TMP}/parent.orig" "${TMP}/child1.want"
  patch_file "${TMP}/child1.want" 0 "${TMP}/w4a"
  patch_file "${TMP}/child1.want" $((empty_obj * OBJ)) "${TMP}/w4b"

  stock_export_to "${P1}/child1" "${TMP}/child1_data"
  expect_different_file "child1 data differs from the parent's" "${TMP}/parent.orig" "${TMP}/child1_data"
  expect_eq "child1 starts with the written data" "${data}" "$(head -n1 "${TMP}/child1_data")"
  expect_same_file "child1 = parent + the two writes (rest inherited)" "${TMP}/child1.want" "${TMP}/child1_data"
  stock_export_to "${P1}/parent" "${TMP}/parent_data"
  expect_same_file "parent data unchanged" "${TMP}/parent.orig" "${TMP}/parent_data"

  expect_ok "rbd object-map check --no-progress child1" srbd object-map check --no-progress "${P1}/child1"
  expect_eq "object-map check child1 reports nothing" "" "${LAST_OUT}"
  expect_not_contains "child1 flags: object map not invalid" "$(info_line "${P1}/child1" flags)" "invalid"

  local want got
  want="$(sed 's/^exists$/exists_parent/' <<<"${parent_states}" |
    awk -v e="${empty_obj}" 'NR == 1 {print "copied_up"; next} NR == e + 1 {print "exists"; next} {print}')"
  got="$(view_states "${P1}/child1")"
  expect_eq "object-map view child1: 0 copied_up, ${empty_obj} exists, others inherited" "${want}" "${got}"
  local plain
  plain="$(must rbd object-map view "${P1}/child1")"
  expect_eq "object-map view plain: object 0 copied_up" "0"$'\t'"copied_up" "$(head -n1 <<<"${plain}")"
  expect_contains "object-map view plain: object ${empty_obj} exists" "${plain}" $'\n'"${empty_obj}"$'\texists\n'
  expect_match "object-map view plain: summary counts" "$(tail -n1 <<<"${plain}")" \
    "^25 objects: 1 copied_up 1 exists [0-9]+ exists_parent [0-9]+ nonexistent\$"
  expect_eq "child1 still has its parent and overlap" "parent: ${P1}/parent@ overlap: 100 MiB" \
    "$(info_line "${P1}/child1" parent) $(info_line "${P1}/child1" overlap)"
  # A snapshot's states are not the HEAD's: view refuses rather than lie.
  expect_ok "rbd snap create child1@s" srbd snap create --no-progress "${P1}/child1@s"
  expect_exit "object-map view child1@s is refused (exit 22)" 22 "not a snapshot" \
    rbd object-map view "${P1}/child1@s"
  expect_ok "rbd snap rm child1@s" srbd snap rm --no-progress "${P1}/child1@s"
}

# Test 5: Parent Deletion Protection.
test5() {
  echo "# Test 5: parent deletion protection"
  expect_exit "rbd rm parent fails: exit 16 (EBUSY), 3 standalone children" 16 \
    "image has 3 standalone child(ren) - not removing" rbd rm "${P1}/parent"
  expect_exit "stock /usr/bin/rbd rm parent fails too" nonzero "delete error" \
    srbd rm --no-progress "${P1}/parent"
  expect_exit "stock rbd bench write on the parent fails (read-only parent)" nonzero \
    "Read-only file system" srbd bench --io-type write --io-size 4K --io-total 64K "${P1}/parent"
  # Stock rbd bench exits on the error without closing the image: its
  # watch lingers until the watch timeout (30 s); wait it out.
  wait_no_watchers "${P1}/parent"
  expect_eq "parent still listed" "parent" "$(must srbd ls "${P1}" | grep -x parent)"
  stock_export_to "${P1}/parent" "${TMP}/parent5.exp"
  expect_same_file "parent data unchanged by the refused operations" "${TMP}/parent.orig" "${TMP}/parent5.exp"
  expect_eq "rbd children parent: still child1..3" \
    "${P1}/child1"$'\n'"${P1}/child2"$'\n'"${P1}/child3" "$(must rbd children "${P1}/parent")"

  stock_export_to "${P1}/child1" "${TMP}/child1.preflatten"
  expect_ok "rbd flatten child1" rbd flatten "${P1}/child1"
  expect_contains "flatten child1: progress done" "${LAST_OUT}" "Image flatten: 100% complete...done."
  expect_eq "rbd children parent: child2, child3" "${P1}/child2"$'\n'"${P1}/child3" \
    "$(must rbd children "${P1}/parent")"
  local info
  info="$(must rbd info "${P1}/child1")"
  expect_not_contains "child1 has no parent after flatten" "${info}" $'\tparent'
  expect_eq "child1 features after flatten: no operations" "features: ${BASE_FEATURES}" \
    "$(info_line "${P1}/child1" features)"
  expect_eq "child1 op_features empty after flatten" "op_features:" \
    "$(info_line "${P1}/child1" op_features | sed 's/ *$//')"
  stock_export_to "${P1}/child1" "${TMP}/child1.postflatten"
  expect_same_file "flatten kept child1's data" "${TMP}/child1.preflatten" "${TMP}/child1.postflatten"
  expect_exit "rbd rm parent still fails: 2 standalone children" 16 \
    "image has 2 standalone child(ren) - not removing" rbd rm "${P1}/parent"

  expect_ok "rbd flatten child2" rbd flatten --no-progress "${P1}/child2"
  expect_ok "rbd flatten child3" rbd flatten --no-progress "${P1}/child3"
  expect_eq "rbd children parent: empty" "" "$(must rbd children "${P1}/parent")"
  expect_eq "rbd children --all --format json parent: []" "[]" \
    "$(must rbd children --all --format json "${P1}/parent")"
  expect_eq "parent features: the marker is gone" "features: ${BASE_FEATURES}" \
    "$(info_line "${P1}/parent" features)"
  expect_ok "rbd rm parent succeeds" rbd rm "${P1}/parent"
  expect_contains "rm parent: progress done" "${LAST_OUT}" "Removing image: 100% complete...done."
  expect_eq "parent is gone" "" "$(must srbd ls "${P1}" | grep -x parent || true)"
  stock_export_to "${P1}/child2" "${TMP}/child2.exp"
  expect_same_file "child2 reads the parent's data after the parent is gone" "${TMP}/parent.orig" "${TMP}/child2.exp"
  local c
  for c in child1 child2 child3; do
    expect_ok "rbd rm ${c}" rbd rm --no-progress "${P1}/${c}"
  done
}

# Test 6: Flatten Standalone Clone.
test6() {
  echo "# Test 6: flatten a standalone clone"
  make_parent "${P1}/parent2" 50M
  expect_ok "rbd clone-standalone parent2 child_flatten" \
    rbd clone-standalone "${P1}/parent2" "${P1}/child_flatten"
  expect_eq "info child_flatten | grep parent" "parent: ${P1}/parent2@"$'\n'"parent_type: standalone" \
    "$(must rbd info "${P1}/child_flatten" | grep parent | sed 's/^\t//')"
  expect_ok "rbd flatten child_flatten" rbd flatten "${P1}/child_flatten"
  expect_contains "flatten: Image flatten: 100% complete...done." "${LAST_OUT}" \
    "Image flatten: 100% complete...done."
  expect_eq "info child_flatten | grep parent: nothing" "" \
    "$(must rbd info "${P1}/child_flatten" | grep parent || true)"
  expect_eq "info json child_flatten: no parent" "null" \
    "$(must rbd info --format json "${P1}/child_flatten" | jq -r .parent)"
  stock_export_to "${P1}/parent2" "${TMP}/parent2_data"
  stock_export_to "${P1}/child_flatten" "${TMP}/child_flatten_data"
  expect_same_file "data identical - flatten successful" "${TMP}/parent2_data" "${TMP}/child_flatten_data"
  expect_eq "rbd children parent2: empty" "" "$(must rbd children "${P1}/parent2")"
  expect_ok "rbd rm parent2 (no children left)" rbd rm --no-progress "${P1}/parent2"
  stock_export_to "${P1}/child_flatten" "${TMP}/child_flatten_data2"
  expect_same_file "child_flatten is independent of the removed parent2" \
    "${TMP}/parent2_data" "${TMP}/child_flatten_data2"
}

# Test 7: Object Map States.
test7() {
  echo "# Test 7: object map states"
  make_parent "${P1}/parent_objmap" 10M
  stock_export_to "${P1}/parent_objmap" "${TMP}/parent_objmap.orig"
  expect_ok "rbd clone-standalone parent_objmap child_objmap" \
    rbd clone-standalone "${P1}/parent_objmap" "${P1}/child_objmap"
  local child="${P1}/child_objmap"

  expect_ok "object-map check child_objmap (initial)" srbd object-map check "${child}"
  expect_contains "initial check completes" "${LAST_OUT}" "Object Map Check: 100% complete...done."
  expect_eq "initial view: parent objects as exists_parent" \
    "$(view_states "${P1}/parent_objmap" | sed 's/^exists$/exists_parent/')" "$(view_states "${child}")"

  expect_contains "rbd bench --io-type write child_objmap (4K, 5M)" \
    "$(bench write "${child}" 5M)" "ops: 1280 "
  expect_ok "object-map check child_objmap (after copy-up)" srbd object-map check --no-progress "${child}"
  expect_eq "check after copy-up reports nothing" "" "${LAST_OUT}"
  expect_not_contains "flags: object map not invalid" "$(info_line "${child}" flags)" "invalid"

  # rbd bench writes the same bytes (0x67) as it wrote into the parent, so
  # the data is checked against a flat image given the same bench: the
  # child must read the bench's bytes where it wrote and the parent's
  # elsewhere.
  make_parent "${P1}/benchref" 5M
  stock_export_to "${P1}/benchref" "${TMP}/benchref.exp"
  srbd rm --no-progress "${P1}/benchref" >/dev/null 2>&1 || fail "rbd rm benchref failed"
  overlay_nonzero "${TMP}/parent_objmap.orig" "${TMP}/benchref.exp" "${TMP}/child_objmap.want"
  stock_export_to "${child}" "${TMP}/child_objmap.exp"
  expect_same_file "child_objmap = parent data + the bench's writes" \
    "${TMP}/child_objmap.want" "${TMP}/child_objmap.exp"

  # The objects the child owns (copied up or written) are its RADOS data
  # objects; the view must say copied_up where the parent has the object,
  # exists where not, and for the others what the parent has.
  local states pstates owned want
  states="$(view_states "${child}")"
  pstates="$(view_states "${P1}/parent_objmap")"
  owned="$(data_objects "${P1}" "${child}")"
  [[ -n "${owned}" ]] || fail "child_objmap has no data object after the bench write"
  want="$(awk -v owned=" $(tr '\n' ' ' <<<"${owned}")" '
    { o = index(owned, " " (NR - 1) " ") > 0 }
    $0 == "exists" { print (o ? "copied_up" : "exists_parent"); next }
    { print (o ? "exists" : "nonexistent") }' <<<"${pstates}")"
  expect_eq "object-map view child_objmap matches its RADOS objects ($(wc -w <<<"${owned}") owned)" \
    "${want}" "${states}"
  expect_contains "some object is copied_up (OBJECT_COPIEDUP after copy-up)" "${states}" "copied_up"
  stock_export_to "${P1}/parent_objmap" "${TMP}/parent_objmap.after"
  expect_same_file "parent_objmap unchanged" "${TMP}/parent_objmap.orig" "${TMP}/parent_objmap.after"

  expect_ok "rbd object-map rebuild child_objmap" srbd object-map rebuild "${child}"
  expect_contains "rebuild completes" "${LAST_OUT}" "Object Map Rebuild: 100% complete...done."
  expect_ok "object-map check child_objmap (after rebuild)" srbd object-map check --no-progress "${child}"
  expect_eq "check after rebuild reports nothing" "" "${LAST_OUT}"
  expect_eq "object-map view unchanged by rebuild" "${states}" "$(view_states "${child}")"
  stock_export_to "${child}" "${TMP}/child_objmap.rebuilt"
  expect_same_file "child_objmap data unchanged by rebuild" "${TMP}/child_objmap.exp" "${TMP}/child_objmap.rebuilt"
  expect_not_contains "flags after rebuild: not invalid" "$(info_line "${child}" flags)" "invalid"
}

# Test 8: Cross-Pool Clone.
test8() {
  echo "# Test 8: cross-pool clone"
  make_pool "${P2}"
  P2_CREATED=1
  expect_ok "rbd pool init ${P2}" srbd pool init "${P2}"
  make_parent "${P1}/parent_cross" 10M
  stock_export_to "${P1}/parent_cross" "${TMP}/parent_cross.orig"
  expect_ok "rbd clone-standalone ${P1}/parent_cross ${P2}/child_cross" \
    rbd clone-standalone "${P1}/parent_cross" "${P2}/child_cross"
  local info
  info="$(must rbd info "${P2}/child_cross")"
  expect_eq "info child_cross: header" "rbd image 'child_cross':" "$(head -n1 <<<"${info}")"
  expect_contains "info child_cross: size" "${info}" $'\tsize 100 MiB in 25 objects\n'
  expect_contains "info child_cross: parent in the other pool" "${info}" $'\tparent: '"${P1}/parent_cross@"$'\n'
  expect_contains "info child_cross: overlap" "${info}" $'\toverlap: 100 MiB\n'
  expect_contains "info child_cross: parent_type" "${info}" $'\tparent_type: standalone'
  expect_eq "info json child_cross: parent.pool" "${P1}" \
    "$(must rbd info --format json "${P2}/child_cross" | jq -r .parent.pool)"
  expect_eq "rbd children parent_cross: ${P2}/child_cross" "${P2}/child_cross" \
    "$(must rbd children "${P1}/parent_cross")"
  expect_eq "children json: pool ${P2}, standalone" "${P2} standalone" \
    "$(must rbd children --format json "${P1}/parent_cross" | jq -r '.[] | .pool + " " + .parent_type')"
  expect_match "ls -l ${P2}: child_cross PARENT and TYPE" \
    "$(must rbd ls -l "${P2}" | grep '^child_cross ')" \
    "^child_cross +100 MiB +${P1}/parent_cross@ +2 +standalone\$"
  local out
  out="$(bench read "${P2}/child_cross" 10M)"
  expect_match "rbd bench --io-type read child_cross: 2560 ops" "${out}" $'elapsed: +[0-9.]+ +ops: +2560 '
  stock_export_to "${P2}/child_cross" "${TMP}/child_cross.exp"
  expect_same_file "child_cross reads the parent's data" "${TMP}/parent_cross.orig" "${TMP}/child_cross.exp"
  expect_exit "rbd rm parent_cross fails: exit 16, 1 standalone child" 16 \
    "image has 1 standalone child(ren) - not removing" rbd rm "${P1}/parent_cross"
  expect_eq "parent_cross still exists" "parent_cross" "$(must srbd ls "${P1}" | grep -x parent_cross)"
  # Stock's -p POOL form (instead of POOL/IMAGE) works the same.
  expect_eq "rbd children -p ${P1} parent_cross" "${P2}/child_cross" \
    "$(must rbd children -p "${P1}" parent_cross)"
  expect_contains "rbd info -p ${P2} child_cross: parent_type" \
    "$(must rbd info -p "${P2}" child_cross)" $'\tparent_type: standalone'
  expect_exit "rbd rm -p ${P1} parent_cross: exit 16" 16 \
    "image has 1 standalone child(ren) - not removing" rbd rm -p "${P1}" parent_cross
  expect_match "rbd object-map view -p ${P2} child_cross" \
    "$(must rbd object-map view -p "${P2}" child_cross | tail -n1)" '^25 objects: '
}

# Test 9: Image Features Compatibility.
test9() {
  echo "# Test 9: image features"
  make_parent "${P1}/parent_features" 10M layering,exclusive-lock,object-map,fast-diff
  expect_eq "parent_features features" "features: ${BASE_FEATURES}" \
    "$(info_line "${P1}/parent_features" features)"
  expect_ok "rbd clone-standalone parent_features child_features" \
    rbd clone-standalone "${P1}/parent_features" "${P1}/child_features"
  local child="${P1}/child_features"
  expect_eq "child_features features: inherited + operations" "features: ${CHILD_FEATURES}" \
    "$(info_line "${child}" features)"
  expect_eq "child_features json features equal the parent's" \
    "$(must rbd info --format json "${P1}/parent_features" | jq -c '.features - ["non-primary"]')" \
    "$(must rbd info --format json "${child}" | jq -c .features)"

  expect_ok "rbd lock list child_features" srbd lock list "${child}"
  expect_eq "no lockers on the idle child" "" "${LAST_OUT}"
  expect_ok "rbd lock list --format json child_features" srbd lock list --format json "${child}"
  expect_eq "lock list json: none" "[]" "$(jq -c . <<<"${LAST_OUT}")"
  expect_ok "object-map check child_features" srbd object-map check --no-progress "${child}"
  expect_eq "object-map check child_features reports nothing" "" "${LAST_OUT}"

  # Stock rbd diff of a clone includes the parent's data.
  expect_eq "rbd diff child_features (no writes) = rbd diff parent_features" \
    "$(must srbd diff "${P1}/parent_features")" "$(must srbd diff "${child}")"
  local empty_obj
  empty_obj="$(view_states "${P1}/parent_features" | grep -n -m1 '^nonexistent$' | cut -d: -f1)"
  [[ -n "${empty_obj}" ]] || fail "parent_features has data in every object"
  empty_obj=$((empty_obj - 1))
  head -c 8192 /dev/urandom >"${TMP}/w9"
  pywrite "${P1}" child_features $((empty_obj * OBJ + 4096)) "${TMP}/w9" ||
    fail "python3-rbd write to child_features failed"
  # The child's own extent: one more extent than the parent's, inside the
  # written object, covering the write (a memstore OSD reports an object's
  # data from its start, so the extent may begin before the write).
  local diff pdiff off=$((empty_obj * OBJ + 4096))
  diff="$(must srbd diff --format json "${child}")"
  pdiff="$(must srbd diff --format json "${P1}/parent_features")"
  expect_eq "rbd diff child_features keeps all the parent's extents" "[]" \
    "$(jq -c --argjson c "${diff}" '. - $c' <<<"${pdiff}")"
  expect_eq "rbd diff child_features adds one extent covering the write, inside object ${empty_obj}" "1" \
    "$(jq --argjson p "${pdiff}" --argjson o "${off}" --argjson lo $((empty_obj * OBJ)) \
        --argjson hi $(((empty_obj + 1) * OBJ)) \
        '(. - $p) | map(select(.exists == "true" and .offset >= $lo and .offset <= $o and
                              .offset + .length >= $o + 8192 and .offset + .length <= $hi))
         | length' <<<"${diff}")"
  expect_eq "rbd diff child_features: nothing else" "1" \
    "$(jq --argjson p "${pdiff}" '(. - $p) | length' <<<"${diff}")"
  expect_eq "rbd diff --whole-object (fast-diff) child_features: own object included" "1" \
    "$(must srbd diff --whole-object --format json "${child}" |
      jq --argjson o $((empty_obj * OBJ)) '[.[] | select(.offset == $o and .length == 4194304)] | length')"
  expect_ok "object-map check child_features after the write" srbd object-map check --no-progress "${child}"
  expect_eq "object-map check reports nothing" "" "${LAST_OUT}"
}

# Test 10: Error Handling.
test10() {
  echo "# Test 10: error handling"
  expect_exit "clone-standalone from a nonexistent parent: exit 2 (ENOENT)" 2 \
    "No such file or directory" rbd clone-standalone "${P1}/nonexistent" "${P1}/child_error1"
  expect_exit "  ... names the missing image" 2 "nonexistent" \
    rbd clone-standalone "${P1}/nonexistent" "${P1}/child_error1"
  expect_exit "clone-standalone from parent@snap: exit 22, mentions snapshot" 22 "snapshot" \
    rbd clone-standalone "${P1}/parent_features@snap" "${P1}/child_error2"
  expect_exit "clone-standalone --image-feature invalid_feature: exit 1, as stock" 1 \
    "the argument for option '--image-feature' is invalid" \
    rbd clone-standalone "${P1}/parent_features" "${P1}/child_error3" --image-feature invalid_feature
  local ls
  ls="$(must srbd ls "${P1}")"
  expect_not_contains "no child_error image was created" "${ls}" "child_error"
  expect_eq "parent_features still has exactly child_features" "${P1}/child_features" \
    "$(must rbd children "${P1}/parent_features")"
}

# config pool set/get/rm of rbd_standalone_clone_enabled.
test_config() {
  echo "# config: rbd_standalone_clone_enabled"
  local key=rbd_standalone_clone_enabled
  expect_exit "config pool get ${key} (unset): exit 2" 2 "${key} is not set" \
    rbd config pool get "${P1}" "${key}"
  expect_match "config pool list: ${key} true (default)" \
    "$(must rbd config pool list "${P1}" | grep "^${key} ")" "^${key} +true +default\$"
  expect_ok "config pool set ${P1} ${key} false" rbd config pool set "${P1}" "${key}" false
  expect_eq "config pool get ${key}" "false" "$(must rbd config pool get "${P1}" "${key}")"
  local list header row
  list="$(must rbd config pool list "${P1}")"
  expect_match "config pool list: ${key} false (pool)" "$(grep "^${key} " <<<"${list}")" \
    "^${key} +false +pool *\$"
  header="$(grep '^Name ' <<<"${list}")"
  row="$(grep "^${key} " <<<"${list}")"
  expect_eq "config pool list: the row is aligned with stock's Value/Source columns" \
    "$(awk '{print index($0, "Value") " " index($0, "Source")}' <<<"${header}")" \
    "$(awk '{print index($0, "false") " " index($0, "pool")}' <<<"${row}")"
  expect_eq "config pool list json: ${key}" "false pool" \
    "$(must rbd config pool list --format json "${P1}" | jq -r ".[] | select(.name == \"${key}\") | .value + \" \" + .source")"
  expect_exit "clone-standalone refused while disabled: exit 95" 95 \
    "standalone clones are disabled" \
    rbd clone-standalone "${P1}/parent_features" "${P1}/child_disabled"
  expect_eq "no child_disabled was created" "" "$(must srbd ls "${P1}" | grep -x child_disabled || true)"
  expect_exit "config pool set ${key} bogus: exit 22" 22 "invalid value" \
    rbd config pool set "${P1}" "${key}" bogus
  expect_ok "config pool rm ${key}" rbd config pool rm "${P1}" "${key}"
  expect_exit "config pool get ${key} after rm: exit 2" 2 "${key} is not set" \
    rbd config pool get "${P1}" "${key}"
  expect_eq "config pool get ${key} (unset): stock's exact words" "rbd: ${key} is not set" \
    "$(rbd config pool get "${P1}" "${key}" 2>&1 || true)"
  expect_ok "config image set child_features ${key} false" \
    rbd config image set "${P1}/child_features" "${key}" false
  expect_eq "config image get child_features ${key}" "false" \
    "$(must rbd config image get "${P1}/child_features" "${key}")"
  expect_match "config image list child_features: ${key} false (image)" \
    "$(must rbd config image list "${P1}/child_features" | grep "^${key} ")" "^${key} +false +image *\$"
  expect_exit "clone-standalone of child_features refused (image level): exit 95" 95 \
    "standalone clones are disabled" rbd clone-standalone "${P1}/child_features" "${P1}/child_disabled"
  expect_ok "config image rm child_features ${key}" rbd config image rm "${P1}/child_features" "${key}"
  expect_exit "config image get ${key} after rm: exit 2" 2 "${key} is not set" \
    rbd config image get "${P1}/child_features" "${key}"
  expect_ok "clone-standalone works again after rm" \
    rbd clone-standalone "${P1}/parent_features" "${P1}/child_enabled"
  expect_eq "parent_features children" "${P1}/child_enabled"$'\n'"${P1}/child_features" \
    "$(must rbd children "${P1}/parent_features" | sort)"
}

# config image list/get of a parent with standalone children: stock opens
# the image read-write, which the overlay refuses; the project's CLI gives
# the very output stock gave before the parent had children.
test_config_of_parent() {
  echo "# config image list/get of a parent with standalone children"
  local p="${P1}/cfg_parent" c="${P1}/cfg_child" f
  expect_ok "create cfg_parent" srbd create "${p}" --size 8M
  expect_ok "create cfg_plain (no children)" srbd create "${P1}/cfg_plain" --size 8M
  expect_ok "config image set cfg_parent rbd_readahead_max_bytes" \
    rbd config image set "${p}" rbd_readahead_max_bytes 1048576
  # A value that JSON and XML must escape (quotes, <&>, tab, a control byte).
  expect_ok "image-meta set cfg_parent conf_rbd_persistent_cache_path (odd bytes)" \
    srbd image-meta set "${p}" conf_rbd_persistent_cache_path $'/x"y<&>\'z\tw\x01v'
  for f in plain json xml; do
    must rbd config image list --format "${f}" "${p}" >"${TMP}/cfg_before.${f}"
    must srbd config image list --format "${f}" "${p}" >"${TMP}/cfg_stock_before.${f}"
  done
  expect_ok "clone-standalone cfg_parent -> cfg_child" rbd clone-standalone "${p}" "${c}"
  for f in plain json xml; do
    must srbd config image list --format "${f}" "${p}" >"${TMP}/cfg_stock.${f}"
    expect_same_file "stock config image list --format ${f} of the fenced parent: as before" \
      "${TMP}/cfg_stock_before.${f}" "${TMP}/cfg_stock.${f}"
  done
  for f in plain json xml; do
    must rbd config image list --format "${f}" "${p}" >"${TMP}/cfg_after.${f}"
    expect_same_file "config image list --format ${f}: as before the child" \
      "${TMP}/cfg_before.${f}" "${TMP}/cfg_after.${f}"
  done
  expect_eq "config image get rbd_readahead_max_bytes" "1048576" \
    "$(must rbd config image get "${p}" rbd_readahead_max_bytes)"
  expect_exit "config image get rbd_cache (unset): exit 2" 2 "rbd_cache is not set" \
    rbd config image get "${p}" rbd_cache
  expect_eq "config image get rbd_cache (unset): stock's exact words" \
    "$(srbd config image get "${P1}/cfg_plain" rbd_cache 2>&1 || true)" \
    "$(rbd config image get "${p}" rbd_cache 2>&1 || true)"
  expect_eq "config image get rbd_default_features (valid key, not an image option): as stock" \
    "$(srbd config image get "${P1}/cfg_plain" rbd_default_features 2>&1; echo "exit $?")" \
    "$(rbd config image get "${p}" rbd_default_features 2>&1; echo "exit $?")"
  expect_exit "config image get foo: exit 22" 22 "not rbd option: foo" \
    rbd config image get "${p}" foo
  expect_exit "config image get rbd_foo: exit 22" 22 "invalid config key: rbd_foo" \
    rbd config image get "${p}" rbd_foo
  expect_exit "config image set on the parent stays refused (read-only parent)" 30 \
    "Read-only file system" rbd config image set "${p}" rbd_cache false
  expect_ok "rm cfg_child" rbd rm --no-progress "${c}"
  expect_ok "rm cfg_parent" srbd rm --no-progress "${p}"
  expect_ok "rm cfg_plain" srbd rm --no-progress "${P1}/cfg_plain"
}

# children --descendants with a grandchild.
test_descendants() {
  echo "# children --descendants"
  expect_ok "clone-standalone child_enabled -> grandchild" \
    rbd clone-standalone "${P1}/child_enabled" "${P1}/grandchild"
  expect_eq "info grandchild: parent child_enabled@" "parent: ${P1}/child_enabled@" \
    "$(info_line "${P1}/grandchild" parent)"
  expect_eq "rbd children parent_features: direct children only" \
    "${P1}/child_enabled"$'\n'"${P1}/child_features" "$(must rbd children "${P1}/parent_features" | sort)"
  expect_eq "rbd children --descendants parent_features: + grandchild" \
    "${P1}/child_enabled"$'\n'"${P1}/child_features"$'\n'"${P1}/grandchild" \
    "$(must rbd children --descendants "${P1}/parent_features" | sort)"
  expect_eq "children --descendants json: depths and parents" \
    '[["child_enabled",1,"parent_features"],["child_features",1,"parent_features"],["grandchild",2,"child_enabled"]]' \
    "$(must rbd children --descendants --format json "${P1}/parent_features" |
      jq -c 'map([.image, .depth, .parent_image]) | sort')"
  stock_export_to "${P1}/grandchild" "${TMP}/grandchild.exp"
  stock_export_to "${P1}/parent_features" "${TMP}/parent_features.exp"
  expect_same_file "grandchild reads the grandparent's data" "${TMP}/parent_features.exp" "${TMP}/grandchild.exp"
  expect_exit "rbd rm child_enabled fails: it has a standalone child" 16 \
    "image has 1 standalone child(ren) - not removing" rbd rm "${P1}/child_enabled"
}

# info of a stock snapshot clone.
test_snapshot_clone() {
  echo "# info of a stock snapshot clone"
  srbd create "${P1}/snapparent" --size 8M >/dev/null 2>&1 || fail "rbd create snapparent failed"
  expect_ok "rbd snap create snapparent@s" srbd snap create --no-progress "${P1}/snapparent@s"
  expect_ok "rbd snap protect snapparent@s" srbd snap protect "${P1}/snapparent@s"
  expect_ok "stock rbd clone snapparent@s snapclone" srbd clone "${P1}/snapparent@s" "${P1}/snapclone"
  local info
  info="$(must rbd info "${P1}/snapclone")"
  expect_contains "info snapclone: parent: snapparent@s" "${info}" $'\tparent: '"${P1}/snapparent@s"$'\n'
  expect_contains "info snapclone: parent_type: snapshot" "${info}" $'\toverlap: 8 MiB\n\tparent_type: snapshot'
  expect_eq "info json snapclone: parent.type snapshot, snapshot s" "snapshot s" \
    "$(must rbd info --format json "${P1}/snapclone" | jq -r '.parent.type + " " + .parent.snapshot')"
  expect_match "ls -l: snapclone TYPE snapshot" "$(must rbd ls -l "${P1}" | grep '^snapclone ')" \
    "^snapclone +8 MiB +${P1}/snapparent@s +2 +snapshot\$"
  expect_eq "rbd children snapparent (json): snapclone, snapshot s" "snapclone snapshot s" \
    "$(must rbd children --format json "${P1}/snapparent" | jq -r '.[] | .image + " " + .parent_type + " " + .parent_snapshot')"
}

# Names with JSON/XML special characters: outputs stay well-formed.
test_odd_names() {
  echo "# odd image names"
  local odd='odd}"{name'
  srbd create "${P1}/${odd}" --size 8M >/dev/null 2>&1 || fail "rbd create ${P1}/${odd} failed"
  expect_ok "clone-standalone '${odd}' -> odd_child" rbd clone-standalone "${P1}/${odd}" "${P1}/odd_child"
  local json
  json="$(must rbd info --format json "${P1}/odd_child")"
  expect_eq "info json (parent named ${odd}) is valid, parent.image and type" "${odd} standalone" \
    "$(jq -r '.parent.image + " " + .parent.type' <<<"${json}" 2>&1)"
  expect_eq "info json = stock's + parent.type" \
    "$(must srbd info --format json "${P1}/odd_child" | jq -c 'del(.access_timestamp, .modify_timestamp)')" \
    "$(jq -c 'del(.access_timestamp, .modify_timestamp) | .parent |= del(.type)' <<<"${json}" 2>&1)"
  expect_eq "info --pretty-format json is valid" "${odd} standalone" \
    "$(must rbd info --format json --pretty-format "${P1}/odd_child" | jq -r '.parent.image + " " + .parent.type' 2>&1)"
  expect_eq "info xml: parent type" "standalone" \
    "$(must rbd info --format xml "${P1}/odd_child" | sed -n 's:.*<parent>.*<type>\(.*\)</type></parent>.*:\1:p')"
  expect_eq "children json (parent named ${odd}) is valid" "odd_child ${odd}" \
    "$(must rbd children --format json "${P1}/${odd}" | jq -r '.[] | .image + " " + .parent_image' 2>&1)"
  expect_eq "ls -l json is valid" "${odd}" \
    "$(must rbd ls -l --format json "${P1}" | jq -r '.[] | select(.image == "odd_child") | .parent.image' 2>&1)"
  expect_eq "ls -l (odd names) = stock rbd ls -l + the TYPE column" "$(ls_long_stock "${P1}")" \
    "$(ls_long_without_type "${P1}")"
}

test_cluster_healthy() {
  echo "# cluster"
  local stat
  stat="$(must ceph_ osd stat --format json)"
  expect_eq "all OSDs still up (no overlay crash)" "$(jq -r .num_osds <<<"${stat}")" \
    "$(jq -r .num_up_osds <<<"${stat}")"
}

main() {
  trap cleanup EXIT
  TMP="$(mktemp -d /tmp/wu-clone-standalone.XXXXXX)"
  preflight
  local start=${SECONDS}
  test1
  test2
  test3
  test4
  test5
  test6
  test7
  test8
  test9
  test10
  test_config
  test_config_of_parent
  test_descendants
  test_snapshot_clone
  test_odd_names
  test_cluster_healthy
  FINISHED=1
  echo "# ran in $((SECONDS - start))s"
  echo "${PASSED} passed, 0 failed"
}

main "$@"
