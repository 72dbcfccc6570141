#!/usr/bin/env bash
# Rolling deployment (and rollback) of the cls_rbd overlay on the OSDs of a
# cluster started by src/vstart.sh: point osd_class_dir at a class
# directory, then restart the OSDs one at a time, each only once
# `ceph osd ok-to-stop` agrees, and check what each one runs afterwards.
# Real clusters (systemd units, one host at a time): see
# doc/dev/deploy-draft.rst; the steps are the same.
set -euo pipefail

readonly PROG="rbd_standalone_deploy.sh"
readonly MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
readonly STOCK_CLASS_DIR="${RBD_STANDALONE_STOCK_CLASS_DIR:-/usr/lib/${MULTIARCH}/rados-classes}"
readonly OVERLAY_CLASS_DIR="${RBD_STANDALONE_CLASS_DIR:-/usr/lib/${MULTIARCH}/rbd-standalone/rados-classes}"
# The block this script owns in the cluster's ceph.conf.
readonly BEGIN_MARK="# >>> rbd-standalone: osd_class_dir (${PROG})"
readonly END_MARK="# <<< rbd-standalone"

usage() {
  cat <<EOF
Usage:
  ${PROG} deploy   --dir DIR [--class-dir CD] [--force] [--timeout S] [--vstart PATH]
  ${PROG} rollback --dir DIR [--class-dir CD] [--force] [--timeout S] [--vstart PATH]
  ${PROG} status   --dir DIR

  deploy    set osd_class_dir = CD in DIR/ceph.conf ([osd] section; default
            CD: ${OVERLAY_CLASS_DIR}, the installed overlay
            class dir) and restart every OSD not yet on it, one at a time;
            fails unless each OSD comes back with the overlay loaded
  rollback  the same with the stock class dir (default CD:
            ${STOCK_CLASS_DIR}); fails unless each OSD
            comes back without the overlay.  Parents fenced while the
            overlay ran stay fenced: the fence is image state that the
            stock class enforces.
  status    per OSD: the osd_class_dir it runs with and the overlay version
            it answers (or "stock")

  --dir DIR      the cluster directory given to vstart.sh start
  --force        restart even when "ceph osd ok-to-stop" says no (a
                 single-OSD or size-1 pool cluster: its I/O pauses)
  --timeout S    seconds to wait for ok-to-stop per OSD (default 300)
  --vstart PATH  vstart.sh to use (default: the one in this tree)

Needs /usr/bin/python3 with python3-rados (the overlay probe).
EOF
}

log() { echo "${PROG}: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

DIR="" CLASS_DIR="" FORCE=0 TIMEOUT=300
VSTART="$(cd "$(dirname "$0")/.." && pwd)/vstart.sh"

ceph_() { timeout 60 ceph -c "${DIR}/ceph.conf" --connect-timeout 10 "$@"; }

osd_ids() { ceph_ osd ls; }

# The class dir osd.$1 runs with ("" if it does not answer).
running_class_dir() {
  ceph_ tell "osd.$1" config get osd_class_dir -f json 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["osd_class_dir"])' 2>/dev/null || true
}

# Asks osd.$1 for the overlay's standalone_overlay_info on a scratch object
# whose primary it is; prints the overlay version, or "stock" when the OSD
# has no such method (EOPNOTSUPP), or "error: ..." when it cannot tell.
probe_overlay() {
  (ulimit -v 8000000
   /usr/bin/python3 - "${DIR}/ceph.conf" "$1" <<'PY'
import json, struct, sys
import rados

conf, osd = sys.argv[1], int(sys.argv[2])
c = rados.Rados(conffile=conf)
c.connect(timeout=30)
try:
    pools = [p for p in c.list_pools() if not p.startswith('.')]
    pools.sort(key=lambda p: p != "rbd")  # the rbd pool first, if any
    if not pools:
        print("error: no pool to probe with")
        sys.exit(0)
    pool = pools[0]
    name = None
    for k in range(512):
        cand = "rbd_standalone_probe.osd%d.%d" % (osd, k)
        ret, out, err = c.mon_command(json.dumps(
            {"prefix": "osd map", "pool": pool, "object": cand, "format": "json"}), b"")
        if ret == 0 and json.loads(out).get("acting_primary") == osd:
            name = cand
            break
    if name is None:
        print("error: no object of pool %s maps to osd.%d" % (pool, osd))
        sys.exit(0)
    io = c.open_ioctx(pool)
    try:
        io.write_full(name, b"probe")
        try:
            ret, out = io.execute(name, "rbd", "standalone_overlay_info", b"")
            # envelope: u8 version, u8 compat, u32 length, then u32 overlay version
            print("v%d" % struct.unpack_from("<I", out, 6)[0])
        except rados.OSError as e:
            print("stock" if e.errno == 95 else "error: %s" % e)
        finally:
            io.remove_object(name)
    finally:
        io.close()
finally:
    c.shutdown()
PY
  )
}

set_conf_class_dir() {
  local conf="${DIR}/ceph.conf" tmp
  tmp="$(mktemp "${conf}.XXXXXX")"
  # Drop the block a previous run wrote, then append the new one; an [osd]
  # value wins over vstart.sh's [global] one wherever it sits.
  awk -v b="${BEGIN_MARK}" -v e="${END_MARK}" '
    $0 == b { skip = 1; next }
    $0 == e { skip = 0; next }
    !skip' "${conf}" >"${tmp}"
  {
    echo "${BEGIN_MARK}"
    echo "[osd]"
    echo "osd class dir = $1"
    echo "${END_MARK}"
  } >>"${tmp}"
  mv -f -- "${tmp}" "${conf}"
  log "${conf}: [osd] osd class dir = $1"
}

# "ceph osd ok-to-stop" is a mgr command: without an active mgr it hangs.
# A mgr that is failing over, or a mon that is slow to answer right after an
# OSD restart, gets 60 s before the answer counts as "no mgr".
have_active_mgr() {
  local deadline=$((SECONDS + 60))
  until ceph_ mgr stat -f json 2>/dev/null |
      /usr/bin/python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("available") else 1)' \
      2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 2
  done
}

wait_ok_to_stop() {
  local id="$1" deadline=$((SECONDS + TIMEOUT)) said=0
  if ((!FORCE)) && ! have_active_mgr; then
    die "no active mgr: 'ceph osd ok-to-stop' cannot answer (start the cluster with --mgr, or --force)"
  fi
  while ! timeout 30 ceph -c "${DIR}/ceph.conf" --connect-timeout 10 osd ok-to-stop "${id}" >/dev/null 2>&1; do
    if ((FORCE)); then
      log "osd.${id}: ok-to-stop says no; restarting anyway (--force)"
      return 0
    fi
    ((said)) || { log "osd.${id}: waiting for 'ceph osd ok-to-stop ${id}' (PGs recovering?)"; said=1; }
    ((SECONDS < deadline)) ||
      die "osd.${id} not ok-to-stop within ${TIMEOUT}s: $(timeout 30 ceph -c "${DIR}/ceph.conf" osd ok-to-stop "${id}" 2>&1 | tail -1)"
    sleep 2
  done
}

check_class_dir() {
  local cd="$1" want_overlay="$2" f name
  [[ -d "${cd}" ]] || die "class dir ${cd} does not exist"
  [[ -e "${cd}/libcls_rbd.so" ]] || die "${cd} has no libcls_rbd.so"
  # Every stock class must be loadable from it (the overlay also refuses
  # to override anything without libcls_lock.so beside it).
  for f in "${STOCK_CLASS_DIR}"/libcls_*.so; do
    name="${f##*/}"
    [[ -e "${cd}/${name}" ]] || die "${cd} lacks ${name} (run link-stock-classes)"
  done
  if ((want_overlay)) && [[ "$(realpath -- "${cd}/libcls_rbd.so")" == "$(realpath -- "${STOCK_CLASS_DIR}/libcls_rbd.so")" ]]; then
    die "${cd}/libcls_rbd.so is the stock class, not the overlay"
  fi
}

cmd_switch() {
  local mode="$1" id now state restarted=0
  local want_overlay=0
  [[ "${mode}" == deploy ]] && want_overlay=1
  CLASS_DIR="$(realpath -m -- "${CLASS_DIR}")"
  check_class_dir "${CLASS_DIR}" "${want_overlay}"
  set_conf_class_dir "${CLASS_DIR}"
  for id in $(osd_ids); do
    now="$(running_class_dir "${id}")"
    if [[ "${now}" == "${CLASS_DIR}" ]]; then
      log "osd.${id} already runs with ${CLASS_DIR}"
    else
      wait_ok_to_stop "${id}"
      log "osd.${id}: restarting (${now:-?} -> ${CLASS_DIR})"
      "${VSTART}" restart-osd "${id}" --dir "${DIR}" >&2
      now="$(running_class_dir "${id}")"
      [[ "${now}" == "${CLASS_DIR}" ]] || die "osd.${id} came back with osd_class_dir '${now}', not ${CLASS_DIR}"
      restarted=$((restarted + 1))
    fi
    state="$(probe_overlay "${id}")"
    log "osd.${id}: class dir ${now}, overlay: ${state}"
    if ((want_overlay)); then
      [[ "${state}" == v* ]] || die "osd.${id} does not run the overlay after the restart (${state}); see ${DIR}/log/osd.${id}.log"
    else
      [[ "${state}" == stock ]] || die "osd.${id} still answers as the overlay (${state})"
    fi
  done
  log "${mode}: done (${restarted} OSD(s) restarted)"
}

cmd_status() {
  local id
  printf '%-8s %-8s %s\n' OSD OVERLAY CLASS_DIR
  for id in $(osd_ids); do
    printf '%-8s %-8s %s\n' "osd.${id}" "$(probe_overlay "${id}")" "$(running_class_dir "${id}")"
  done
}

main() {
  local cmd="${1-}"
  [[ -n "${cmd}" ]] || { usage >&2; exit 2; }
  shift
  while (($#)); do
    case "$1" in
      --dir) DIR="${2?--dir needs a value}"; shift 2 ;;
      --class-dir) CLASS_DIR="${2?--class-dir needs a value}"; shift 2 ;;
      --force) FORCE=1; shift ;;
      --timeout) TIMEOUT="${2?--timeout needs a value}"; shift 2 ;;
      --vstart) VSTART="${2?--vstart needs a value}"; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
  done
  [[ "${cmd}" == -h || "${cmd}" == --help || "${cmd}" == help ]] && { usage; exit 0; }
  [[ -n "${DIR}" ]] || die "--dir is required"
  DIR="$(realpath -- "${DIR}")"
  [[ -f "${DIR}/ceph.conf" ]] || die "${DIR}/ceph.conf not found: not a vstart.sh cluster dir"
  case "${cmd}" in
    deploy) CLASS_DIR="${CLASS_DIR:-${OVERLAY_CLASS_DIR}}"; cmd_switch deploy ;;
    rollback) CLASS_DIR="${CLASS_DIR:-${STOCK_CLASS_DIR}}"; cmd_switch rollback ;;
    status) cmd_status ;;
    *) usage >&2; die "unknown command: ${cmd}" ;;
  esac
}

main "$@"
