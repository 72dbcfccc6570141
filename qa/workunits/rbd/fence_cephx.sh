#!/usr/bin/env bash
# The parent fence against cephx tenants.  `profile rbd-read-only` grants
# class calls named child_attach and child_detach on every image header
# (stock clone v2 lets a read-only tenant clone a snapshot).  Asserted:
#
#   a read-only tenant cannot fence an image (child_attach(NOSNAP) of an
#     unfenced parent: EPERM; standalone_child_attach: EPERM by caps; its
#     clone-standalone fails with EPERM and leaves nothing behind)
#   a read-only tenant cannot lift a fence (child_detach(NOSNAP) only marks
#     the entry; standalone_child_remove and standalone_fence_repair: EPERM;
#     the owner's writes still fail)
#   a read-only tenant may clone a parent that is already fenced (as it may
#     clone a snapshot), into its own pool; removing that clone leaves the
#     parent's entry to the owner's tools, which complete it
#   the owner (profile rbd on the pool) clones, unfences and writes
#
# Needs a cluster with cephx and the overlay: run it through
#   VSTART_OPTS="--auth cephx" with_cluster.sh VSTART CLASS_DIR PORT fence_cephx.sh
# PROJECT_RBD: the project's rbd.
set -euo pipefail

readonly STOCK=/usr/bin/rbd
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CMD_TIMEOUT=120
PASSED=0
# shellcheck source=qa/workunits/rbd/common.sh
source "${HERE}/common.sh"

[[ -n "${CEPH_CONF:-}" ]] || fail "CEPH_CONF is not set"
[[ -x "${PROJECT_RBD:-}" ]] || fail "PROJECT_RBD must name the project's rbd"
grep -q '^auth client required = cephx' "${CEPH_CONF}" || fail "the cluster must run cephx"
TMP="$(mktemp -d /tmp/fence-cephx.XXXXXX)"
trap 'rm -rf "${TMP}"' EXIT

ceph osd pool create golden 8 8 >/dev/null 2>&1
ceph osd pool create tenant 8 8 >/dev/null 2>&1
"${STOCK}" pool init golden
"${STOCK}" pool init tenant
ceph auth get-or-create client.ro mon 'profile rbd' \
  osd 'profile rbd-read-only pool=golden, profile rbd pool=tenant' -o "${TMP}/ro.keyring" >/dev/null
ceph auth get-or-create client.owner mon 'profile rbd' \
  osd 'profile rbd pool=golden, profile rbd pool=tenant' -o "${TMP}/owner.keyring" >/dev/null

# The tenant's and the owner's tools, stock and ours (credentials by flag).
ro() { timeout "${CMD_TIMEOUT}" "${PROJECT_RBD}" --id ro --keyring "${TMP}/ro.keyring" "$@"; }
sro() { timeout "${CMD_TIMEOUT}" "${STOCK}" --id ro --keyring "${TMP}/ro.keyring" "$@"; }
own() { timeout "${CMD_TIMEOUT}" "${PROJECT_RBD}" --id owner --keyring "${TMP}/owner.keyring" "$@"; }
sown() { timeout "${CMD_TIMEOUT}" "${STOCK}" --id owner --keyring "${TMP}/owner.keyring" "$@"; }

# Raw class calls as client.ro: METHOD POOL OBJECT HEX_PAYLOAD -> errno (0 = ok).
ro_call() {
  /usr/bin/python3 - "${TMP}/ro.keyring" "$@" <<'EOF'
import sys, rados
keyring, method, pool, obj, payload = sys.argv[1:6]
c = rados.Rados(conffile='', rados_id='ro', conf={'keyring': keyring})
c.connect()
try:
    with c.open_ioctx(pool) as io:
        io.execute(obj, 'rbd', method, bytes.fromhex(payload), length=1 << 16)
    print(0)
except rados.Error as e:
    print(getattr(e, 'errno', -1) or -1)
finally:
    c.shutdown()
EOF
}

hex_le64() { printf '%016x' "$1" | sed 's/../& /g' | awk '{for (i = NF; i > 0; i--) printf "%s", $i}'; }
hex_str() { printf '%08x' "${#1}" | sed 's/../& /g' | awk '{for (i = NF; i > 0; i--) printf "%s", $i}'; printf '%s' "$1" | xxd -p | tr -d '\n'; }
# ChildImageSpec envelope (2,1): i64 pool, string id, string namespace.
child_spec() {
  local body
  body="$(hex_le64 "$1")$(hex_str "$2")$(hex_str "")"
  printf '0201%s%s' "$(hex_le64 $((${#body} / 2)) | cut -c1-8)" "${body}"
}
header() { echo "rbd_header.$("${STOCK}" info --format json "$1" | jq -r .id)"; }
fenced() {  # IMAGE -> "1" when the whole fence is up, "0" when none of it
  local feats lock
  feats="$("${STOCK}" info --format json "$1" | jq -r '.features | join(",")')"
  lock="$("${STOCK}" lock ls --format json "$1" | jq -r '.[].id' | head -1)"
  if [[ ",${feats}," == *",non-primary,"* && "${lock}" == standalone-parent-fence ]]; then
    echo 1
  elif [[ ",${feats}," != *",non-primary,"* && -z "${lock}" ]]; then
    echo 0
  else
    echo "partial (${feats}; lock ${lock})"
  fi
}

# Parents, made by the admin: p1 has no children, p2 has one.
for p in p1 p2; do
  "${STOCK}" create --size 8M "golden/${p}"
  "${STOCK}" bench --io-type write --io-size 1M --io-total 8M --io-pattern seq "golden/${p}" >/dev/null
done
"${PROJECT_RBD}" clone-standalone golden/p2 golden/c2 >/dev/null
golden_id="$(ceph osd pool ls detail --format json | jq '.[] | select(.pool_name=="golden") | .pool_id')"
tenant_id="$(ceph osd pool ls detail --format json | jq '.[] | select(.pool_name=="tenant") | .pool_id')"
c2_id="$("${STOCK}" info --format json golden/c2 | jq -r .id)"
"${STOCK}" export --no-progress golden/p2 "${TMP}/p2.orig" >/dev/null 2>&1

echo "# 1. a read-only tenant cannot fence an image"
expect_eq "p1 starts unfenced" "0" "$(fenced golden/p1)"
nosnap="feffffffffffffff"
expect_eq "child_attach(NOSNAP) on unfenced p1: stock ENOENT (not a standalone parent)" "2" \
  "$(ro_call child_attach golden "$(header golden/p1)" "${nosnap}$(child_spec "${tenant_id}" abcdef12)")"
expect_eq "standalone_child_attach on p1: EPERM (caps)" "1" \
  "$(ro_call standalone_child_attach golden "$(header golden/p1)" "$(child_spec "${tenant_id}" abcdef12)")"
expect_eq "standalone_fence_repair on p1: EPERM (caps)" "1" \
  "$(ro_call standalone_fence_repair golden "$(header golden/p1)" "")"
expect_eq "p1 still unfenced" "0" "$(fenced golden/p1)"
expect_fail_with "tenant clone-standalone of p1 fails, says why" "needs write access" \
  ro clone-standalone golden/p1 tenant/x1
expect_eq "no tenant/x1 left behind" "" "$(sro ls tenant | grep -x x1 || true)"
expect_eq "p1 still unfenced after the refused clone" "0" "$(fenced golden/p1)"
expect_ok "the owner still writes p1" sown bench --io-type write --io-size 4K --io-total 4K golden/p1

echo "# 2. a read-only tenant cannot lift a fence"
expect_eq "p2 fenced" "1" "$(fenced golden/p2)"
expect_eq "child_detach(NOSNAP) of c2 on p2: allowed (caps), only marks it" "0" \
  "$(ro_call child_detach golden "$(header golden/p2)" "${nosnap}$(child_spec "${golden_id}" "${c2_id}")")"
expect_eq "p2 still fenced after the tenant's child_detach" "1" "$(fenced golden/p2)"
expect_eq "standalone_child_remove of c2: EPERM (caps)" "1" \
  "$(ro_call standalone_child_remove golden "$(header golden/p2)" "$(child_spec "${golden_id}" "${c2_id}")")"
expect_eq "p2 still fenced" "1" "$(fenced golden/p2)"
expect_fail_with "the owner's write to p2 still fails (EROFS)" "Read-only file system" \
  sown bench --io-type write --io-size 4K --io-total 4K golden/p2
# The owner's listing checks c2: still linked, so it stays (shown as a
# detach that did not finish), and the fence with it.
expect_contains "owner's rbd children p2: c2 kept" "$(own children golden/p2)" "golden/c2"
expect_eq "p2 still fenced after the owner's listing" "1" "$(fenced golden/p2)"
expect_ok "the tenant's prune of p2 runs" ro children --prune golden/p2
expect_contains "c2 survives the tenant's prune" "$(own children golden/p2)" "golden/c2"
expect_eq "p2 still fenced after the tenant's prune" "1" "$(fenced golden/p2)"

echo "# 3. a read-only tenant may clone an already fenced parent"
expect_ok "tenant clone-standalone golden/p2 tenant/t2" ro clone-standalone golden/p2 tenant/t2
sro export --no-progress tenant/t2 "${TMP}/t2" >/dev/null 2>&1
expect_ok "tenant/t2 reads p2's data" cmp -s "${TMP}/p2.orig" "${TMP}/t2"
expect_contains "p2 lists the tenant's child" "$(own children golden/p2)" "tenant/t2"
expect_ok "the tenant writes into its own child" sro bench --io-type write --io-size 4K --io-total 4K tenant/t2
expect_ok "the tenant removes its child" ro rm --no-progress tenant/t2
expect_eq "p2 still fenced (c2 remains)" "1" "$(fenced golden/p2)"
expect_not_contains "the owner's listing completes the tenant's detach" \
  "$(own children golden/p2)" "tenant/t2"

echo "# 4. the owner"
expect_ok "owner clone-standalone golden/p1 golden/o1 (fences p1)" own clone-standalone golden/p1 golden/o1
expect_eq "p1 fenced" "1" "$(fenced golden/p1)"
expect_ok "owner rm golden/o1" own rm --no-progress golden/o1
expect_eq "p1 unfenced again" "0" "$(fenced golden/p1)"
expect_ok "owner flatten golden/c2" own flatten --no-progress golden/c2
expect_eq "p2 unfenced with its last child flattened" "0" "$(fenced golden/p2)"
expect_ok "the owner writes p2 again" sown bench --io-type write --io-size 4K --io-total 4K golden/p2
echo "${PASSED} passed, 0 failed"
