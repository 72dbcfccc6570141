#!/usr/bin/env bash
# Start, stop and inspect a small throw-away Ceph Pacific cluster on
# 127.0.0.1 that loads the project's cls_rbd overlay, using the distro's
# Ceph 16.2.x daemons (not a Ceph source tree, unlike Ceph's own vstart.sh).
set -euo pipefail

readonly PROG="vstart.sh"
# Stock object classes shipped by Debian's ceph-osd; overridable for other
# multiarch triplets.
readonly STOCK_CLASS_DIR="${VSTART_STOCK_CLASS_DIR:-/usr/lib/x86_64-linux-gnu/rados-classes}"
# Stock ceph-mgr python modules (Debian's ceph-mgr and ceph-mgr-modules-core).
readonly STOCK_MGR_MODULE_DIR="${VSTART_STOCK_MGR_MODULE_DIR:-/usr/share/ceph/mgr}"
readonly REQUIRED_CEPH_SERIES="16.2."
# Seconds to wait for each step; bluestore mkfs/mount is slower.
readonly STEP_TIMEOUT="${VSTART_STEP_TIMEOUT:-60}"
readonly SLOW_TIMEOUT="${VSTART_SLOW_TIMEOUT:-300}"
readonly STOP_TIMEOUT=20
# A file that marks a directory as ours, so "start" never wipes anything else.
readonly MARKER=".vstart-cluster"

usage() {
  cat <<'EOF'
Usage:
  src/vstart.sh start [options]        start a cluster; prints one line
                                       "export CEPH_CONF=DIR/ceph.conf" on stdout
  src/vstart.sh stop [--dir DIR]       stop exactly the daemons this script
                                       started in DIR (by recorded pids)
  src/vstart.sh status [--dir DIR]     show which recorded daemons run
                                       (exit 0: all run, 1: some, 3: none)
  src/vstart.sh restart-osd ID [--dir DIR]
                                       stop osd.ID by pid, start it again with
                                       the same conf, wait until it is up and
                                       the PGs are active (memstore OSDs keep
                                       their data too: they shut down cleanly)
  src/vstart.sh stop-osd ID [--dir DIR]
                                       stop osd.ID by pid (SIGTERM: it tells
                                       the mon it is going down) and wait
                                       until the osdmap has it down
  src/vstart.sh kill-osd ID [--dir DIR]
                                       SIGKILL osd.ID by its recorded pid and
                                       wait until the process is gone; the mon
                                       learns it from the other OSDs (a
                                       memstore OSD loses its data)
  src/vstart.sh start-osd ID [--dir DIR]
                                       start a stopped or killed osd.ID with
                                       the same conf and wait until the osdmap
                                       has it up (its PGs may still be peering)
  src/vstart.sh restart-mgr [--kill] [--dir DIR]
                                       stop mgr.x by pid (SIGTERM; --kill:
                                       SIGKILL, a crash), start it again with
                                       the same conf and environment, and wait
                                       until the mgrmap has the new instance
                                       active

Options (start):
  --dir DIR            cluster directory (default: ./build/cluster, relative to
                       the current dir); any cluster still running there is
                       stopped first, then DIR is wiped (only if DIR is empty
                       or was made by this script)
  --osds N             number of OSDs (default 1)
  --bluestore          OSDs on bluestore backed by the file DIR/osd.N/block
                       (restartable without data loss); default is memstore
  --bluestore-size S   size of each bluestore block file, sparse
                       (default 8G; suffixes K M G T)
  --memstore-bytes B   memstore device bytes per OSD (default 2147483648)
  --mgr                also start one ceph-mgr (mgr.x); default: no mgr
  --mgr-module-dir DIR directory of extra mgr modules (one sub-directory per
                       module, e.g. src/pybind/mgr); the mgr's "mgr module
                       path" becomes DIR_CLUSTER/mgr-modules, which links every
                       stock module plus each module of DIR (needs --mgr)
  --mgr-python-path P  colon-separated directories put first on the mgr's
                       PYTHONPATH, e.g. build/lib/python for rbd_standalone
                       (needs --mgr; kept for restart-mgr)
  --auth none|cephx    authentication (default none); with cephx the
                       conf's keyring holds client.admin (all caps), and
                       tests create tenants with "ceph auth get-or-create"
  --mon-port P         mon port (default 17000); the other daemons bind in
                       P+1..P+99, so clusters with different ports coexist
  --class-dir DIR      directory holding the overlay libcls_rbd.so; the OSD
                       class dir DIR_CLUSTER/rados-classes links it plus every
                       other stock class; without it all stock classes,
                       including the stock libcls_rbd.so, are linked
  --pool NAME          create this replicated pool (size 1, pg_num 8) and
                       "rbd pool init" it (default: rbd; --pool '' for none)
  -h, --help           show this help

Environment: VSTART_STEP_TIMEOUT (default 60 s per step), VSTART_SLOW_TIMEOUT
(300 s: OSD mkfs/boot), VSTART_STOCK_CLASS_DIR (stock class libraries),
VSTART_STOCK_MGR_MODULE_DIR (stock mgr modules, default /usr/share/ceph/mgr).
Logs: DIR/log/<daemon>.log (cls_log output at debug objclass 20 goes to
DIR/log/osd.N.log), DIR/log/client.<pid>.log.

Example:
  eval "$(src/vstart.sh start --class-dir build --osds 2)"
  rbd create rbd/img --size 16M
  src/vstart.sh stop
EOF
}

log() { echo "${PROG}: $*" >&2; }
die() { echo "${PROG}: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- paths ---

DIR=""
CONF=""
RUN_DIR=""
LOG_DIR=""

# Every daemon is started with -c "$CONF"; stop matches on that exact string,
# so the path must be the same absolute, normalised spelling each time.
set_dir() {
  DIR="$(realpath -m -- "$1")"
  CONF="${DIR}/ceph.conf"
  RUN_DIR="${DIR}/run"
  LOG_DIR="${DIR}/log"
}

# ------------------------------------------------------------ processes ---

pid_file() { echo "${RUN_DIR}/$1.pid"; }

read_pid() {
  local f
  f="$(pid_file "$1")"
  [[ -s "${f}" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"${f}")"
  [[ -n "${pid}" ]] || return 1
  echo "${pid}"
}

# True only if PID is a live (not zombie) ceph-mon/osd/mgr process whose
# command line names this cluster's ceph.conf: a recycled pid or another
# cluster's daemon is never touched.
is_our_daemon() {
  local pid="$1" state exe arg found_conf=0
  [[ -r "/proc/${pid}/cmdline" ]] || return 1
  state="$(awk '{print $3}' "/proc/${pid}/stat" 2>/dev/null || true)"
  [[ -n "${state}" && "${state}" != "Z" && "${state}" != "X" ]] || return 1
  local -a argv=()
  mapfile -d '' -t argv <"/proc/${pid}/cmdline" 2>/dev/null || return 1
  ((${#argv[@]} > 0)) || return 1
  exe="$(basename -- "${argv[0]}")"
  case "${exe}" in
    ceph-mon | ceph-osd | ceph-mgr) ;;
    *) return 1 ;;
  esac
  for arg in "${argv[@]:1}"; do
    [[ "${arg}" == "${CONF}" ]] && found_conf=1
  done
  ((found_conf))
}

daemon_running() {
  local pid
  pid="$(read_pid "$1")" || return 1
  is_our_daemon "${pid}"
}

# Names (mon.a, osd.0, ...) of all daemons with a pid file in RUN_DIR.
recorded_daemons() {
  local f
  [[ -d "${RUN_DIR}" ]] || return 0
  for f in "${RUN_DIR}"/*.pid; do
    [[ -e "${f}" ]] || continue
    basename -- "${f}" .pid
  done
}

# SIGTERM the given daemons together, wait up to STOP_TIMEOUT s, then
# SIGKILL stragglers. Pid files are removed in every case.
stop_daemons() {
  local name pid
  local -a names=() pids=()
  for name in "$@"; do
    if pid="$(read_pid "${name}")" && is_our_daemon "${pid}"; then
      log "stopping ${name} (pid ${pid})"
      kill -TERM "${pid}" 2>/dev/null || true
      names+=("${name}")
      pids+=("${pid}")
    fi
  done
  local deadline=$((SECONDS + STOP_TIMEOUT)) i alive
  while ((${#pids[@]} > 0)); do
    alive=0
    for i in "${!pids[@]}"; do
      is_our_daemon "${pids[i]}" && alive=1
    done
    ((alive)) || break
    if ((SECONDS >= deadline)); then
      for i in "${!pids[@]}"; do
        if is_our_daemon "${pids[i]}"; then
          log "${names[i]} (pid ${pids[i]}) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
          kill -KILL "${pids[i]}" 2>/dev/null || true
        fi
      done
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  # A killed or fast-shut-down daemon leaves its admin socket behind.
  for name in "$@"; do
    rm -f -- "$(pid_file "${name}")" "${RUN_DIR}/${name}.asok"
  done
}

# Stop everything recorded in DIR: clients of the mon first, the mon last,
# so OSDs can still tell the mon they are going down.
stop_all() {
  local -a mgrs=() osds=() mons=() others=()
  local name
  while IFS= read -r name; do
    case "${name}" in
      mgr.*) mgrs+=("${name}") ;;
      osd.*) osds+=("${name}") ;;
      mon.*) mons+=("${name}") ;;
      *) others+=("${name}") ;;
    esac
  done < <(recorded_daemons)
  ((${#mgrs[@]} == 0)) || stop_daemons "${mgrs[@]}"
  ((${#osds[@]} == 0)) || stop_daemons "${osds[@]}"
  ((${#others[@]} == 0)) || stop_daemons "${others[@]}"
  ((${#mons[@]} == 0)) || stop_daemons "${mons[@]}"
}

show_log_tail() {
  local name="$1" f
  for f in "${LOG_DIR}/${name}.launch.log" "${LOG_DIR}/${name}.log"; do
    if [[ -s "${f}" ]]; then
      echo "----- last 40 lines of ${f} -----" >&2
      tail -n 40 -- "${f}" >&2
      echo "----- end of ${f} -----" >&2
    fi
  done
}

# Report a daemon that did not come up, then exit; the EXIT trap of "start"
# stops whatever was already running.
fail_daemon() {
  local name="$1" why="$2"
  echo "${PROG}: ERROR: ${name} failed: ${why}" >&2
  show_log_tail "${name}"
  exit 1
}

# Daemons this invocation expects to be alive; checked while waiting so a
# crash is reported at once instead of as a timeout.
EXPECTED=()

check_expected_alive() {
  local name
  for name in "${EXPECTED[@]}"; do
    daemon_running "${name}" || fail_daemon "${name}" "process exited (no live process for $(pid_file "${name}"))"
  done
}

# wait_until TIMEOUT DESCRIPTION COMMAND...: rerun COMMAND until it succeeds.
wait_until() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    check_expected_alive
    if ((SECONDS >= deadline)); then
      die "timed out after ${timeout}s waiting for ${what}"
    fi
    sleep 0.5
  done
}

# Launch one daemon (it forks into the background itself) and make sure it
# wrote its pid file. Returns 1 (status in LAUNCH_RC) if the launcher exits
# non-zero, so the caller decides; any other failure is fatal here.
# Its stdout/stderr go to a file and fd 3 (our real stdout) is closed for
# it: a daemon holding that pipe open makes "$(vstart.sh start)" hang.
launch_daemon() {
  local name="$1" timeout="$2"
  shift 2
  local launch_log="${LOG_DIR}/${name}.launch.log"
  log "starting ${name}"
  local rc=0
  timeout "${timeout}" "$@" </dev/null >"${launch_log}" 2>&1 3>&- || rc=$?
  if ((rc == 124)); then
    fail_daemon "${name}" "'$*' did not finish starting within ${timeout}s"
  elif ((rc != 0)); then
    LAUNCH_RC=${rc}
    return 1
  fi
  EXPECTED+=("${name}")
  local deadline=$((SECONDS + STEP_TIMEOUT))
  until daemon_running "${name}"; do
    if ((SECONDS >= deadline)); then
      fail_daemon "${name}" "no running process recorded in $(pid_file "${name}") after ${STEP_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "${name} running, pid $(read_pid "${name}")"
}

LAUNCH_RC=0

start_daemon() {
  local name="$1"
  launch_daemon "$@" || fail_daemon "${name}" "'${*:3}' exited with status ${LAUNCH_RC}"
}

# -------------------------------------------------------------- helpers ---

ceph_() { timeout 30 ceph -c "${CONF}" --connect-timeout 10 "$@"; }

check_ceph_version() {
  command -v ceph-osd >/dev/null 2>&1 || die "ceph-osd not installed (run ./install-deps.sh)"
  local v
  v="$(ceph-osd --version 2>/dev/null | awk '{print $3}')"
  [[ "${v}" == "${REQUIRED_CEPH_SERIES}"* ]] ||
    die "the overlay targets Ceph Pacific ${REQUIRED_CEPH_SERIES}x, but ceph-osd reports version '${v:-unknown}'"
}

osds_up_and_in() {
  local want="$1" json
  json="$(ceph_ osd stat -f json)" || return 1
  jq -e --argjson n "${want}" \
    '.num_osds == $n and .num_up_osds == $n and .num_in_osds == $n' <<<"${json}" >/dev/null
}

mgr_available() {
  [[ "$(ceph_ mgr stat -f json | jq -r .available)" == true ]]
}

# The active mgr's gid (0 while none is active).
mgr_active_gid() {
  ceph_ mgr dump -f json | jq -r 'if .available then .active_gid else 0 end'
}

# True once an active mgr other than gid $1 is available.
mgr_active_not() {
  local gid
  gid="$(mgr_active_gid)" || return 1
  [[ -n "${gid}" && "${gid}" != 0 && "${gid}" != "$1" ]]
}

# Where start records the mgr's environment, so restart-mgr reuses it.
mgr_env_file() { echo "${DIR}/mgr.x.env"; }

# Launch mgr.x with -c CONF and the PYTHONPATH recorded in its env file.
start_mgr() {
  local pythonpath="" f
  f="$(mgr_env_file)"
  if [[ -s "${f}" ]]; then
    pythonpath="$(sed -n 's/^PYTHONPATH=//p' "${f}")"
  fi
  if [[ -n "${pythonpath}" ]]; then
    start_daemon mgr.x "${STEP_TIMEOUT}" env "PYTHONPATH=${pythonpath}" ceph-mgr -c "${CONF}" -i x
  else
    start_daemon mgr.x "${STEP_TIMEOUT}" ceph-mgr -c "${CONF}" -i x
  fi
}

# Listing a pool touches every PG, so it only succeeds once all are active.
pool_active() {
  timeout 10 rados -c "${CONF}" -p "$1" ls >/dev/null
}

osd_up_from() {
  ceph_ osd dump -f json | jq -r --argjson id "$1" \
    '.osds[] | select(.osd == $id) | if .up == 1 then .up_from else -1 end'
}

# Prints how local TCP port $1 is taken, if it is. The mon cannot bind it
# while any socket holds it; a port inside Linux's ephemeral range
# (32768-60999) can also be held by some program's outgoing connection,
# which is why the default ports sit below it. TIME_WAIT does not block
# (Ceph binds with SO_REUSEADDR).
port_user() {
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v hex="${hex}" 'FNR > 1 {
      split($2, a, ":")
      if (a[2] == hex && $4 != "06") {
        print ($4 == "0A" ? "a listening socket" : "an open connection (as its local port)")
        exit
      }
    }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

# Safety net for the "wrong fsid" boot race described in ceph.conf (it
# should no longer happen there): it is a race, not a configuration error,
# so try again.
start_osd() {
  local id="$1" name="osd.$1" attempt
  for attempt in 1 2 3 4 5; do
    if launch_daemon "${name}" "${SLOW_TIMEOUT}" ceph-osd -c "${CONF}" -i "${id}"; then
      return 0
    fi
    if ((attempt < 5)) && grep -q "wrong fsid" "${LOG_DIR}/${name}.launch.log"; then
      log "${name} lost the 'wrong fsid' startup race (attempt ${attempt}); retrying"
      rm -f -- "$(pid_file "${name}")" "${RUN_DIR}/${name}.asok"
      sleep 1
      continue
    fi
    fail_daemon "${name}" "'ceph-osd -c ${CONF} -i ${id}' exited with status ${LAUNCH_RC}"
  done
}

# ---------------------------------------------------------------- start ---

STARTING=0

on_exit() {
  local rc=$?
  if ((STARTING)) && ((rc != 0)); then
    log "start failed; stopping the daemons started so far in ${DIR}"
    stop_all || true
  fi
  exit "${rc}"
}

write_conf() {
  local fsid="$1" port="$2" objectstore="$3" memstore_bytes="$4" bluestore_bytes="$5" auth="$6"
  local mgr_module_path="${7-}"
  cat >"${CONF}" <<EOF
# Written by src/vstart.sh; the cluster lives entirely in ${DIR}.
[global]
fsid = ${fsid}
# msgr v1 only, on loopback: the monmap has just a v1 address.
mon host = [v1:127.0.0.1:${port}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = true
ms bind msgr2 = false
ms bind ipv4 = true
ms bind ipv6 = false
# Non-mon daemons pick ports from this range, so clusters with different
# --mon-port values never collide.
ms bind port min = $((port + 1))
ms bind port max = $((port + 99))

auth cluster required = ${auth}
auth service required = ${auth}
auth client required = ${auth}
keyring = ${DIR}/keyring

run dir = ${RUN_DIR}
pid file = ${RUN_DIR}/\$name.pid
admin socket = ${RUN_DIR}/\$name.asok
log file = ${LOG_DIR}/\$name.log
crash dir = ${DIR}/crash
mon data = ${DIR}/\$name
osd data = ${DIR}/\$name
mgr data = ${DIR}/\$name

osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# With auth none these warnings are noise; keep HEALTH_OK reachable.
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
# The disk may be fuller than a production mon would accept.
mon data avail warn = 2
mon data avail crit = 1
mon max pg per osd = 1000
# The mon batches map changes for up to 1 s by default; every step here
# (osd new, crush add, pool create, rbd pool init's snapshot ops) waits for
# one. 0.1 s cuts a memstore start from ~7.7 s to ~2.5 s.
paxos propose interval = 0.1

# The overlay logs via cls_log (objclass subsystem); tests grep the OSD log.
debug objclass = 20
debug osd = 1
debug ms = 0
debug mon = 1
debug paxos = 0
debug auth = 0
debug monc = 0
debug mgr = 1
debug mgrc = 0
debug bluestore = 1
debug bluefs = 1
debug bdev = 1
debug rocksdb = 1
debug filestore = 1

osd class dir = ${DIR}/rados-classes
osd class load list = *
osd class default list = *
# With auth none a booting OSD can send its first mon command before its
# MonClient has the monmap (fsid still zero); the mon rejects it as "wrong
# fsid" and the OSD exits (seen on ~1 in 6 OSD starts). Its boot-time mon
# commands come from these two options, so vstart.sh places each OSD in
# CRUSH itself instead.
osd crush update on start = false
osd class update on start = false
osd max object name len = 460
osd max object namespace len = 64
osd op num shards = 2
osd op num threads per shard = 1
osd objectstore = ${objectstore}
memstore device bytes = ${memstore_bytes}
# memstore writes its contents to "osd data" only on a clean umount, which
# the default fast shutdown skips; a clean shutdown makes restart-osd keep
# the data. bluestore is crash-safe, so it keeps the fast one.
osd fast shutdown = $([[ "${objectstore}" == memstore ]] && echo false || echo true)
EOF
  if [[ "${auth}" == cephx ]]; then
    cat >>"${CONF}" <<EOF
# cephx: each daemon has its own key in its data dir.
[osd]
keyring = ${DIR}/\$name/keyring
[mgr]
keyring = ${DIR}/\$name/keyring
[global]
EOF
  fi
  if [[ "${objectstore}" == "bluestore" ]]; then
    cat >>"${CONF}" <<EOF
# No "bluestore block path": the default is "osd data"/block, and naming
# that same path makes mkfs symlink it to itself (ELOOP).
bluestore block create = true
bluestore block size = ${bluestore_bytes}
bluestore block db create = false
bluestore block wal create = false
# A 2-core, 24 GiB box runs several of these.
osd memory target = 1073741824
bluestore cache autotune = true
bdev enable discard = false
EOF
  fi
  if [[ -n "${mgr_module_path}" ]]; then
    cat >>"${CONF}" <<EOF

[mgr]
# Stock modules plus the project's (links made by vstart.sh --mgr-module-dir).
mgr module path = ${mgr_module_path}
EOF
  fi
  cat >>"${CONF}" <<EOF

[client]
log file = ${LOG_DIR}/client.\$pid.log
admin socket =
EOF
}

# DIR/mgr-modules: a link to every entry of the stock mgr module directory
# (modules, mgr_module.py, mgr_util.py), then one to each module of $1 (a
# sub-directory with module.py), which replaces a stock one of that name.
link_mgr_modules() {
  local extra="$1" mods="${DIR}/mgr-modules" f base n=0 m=0
  mkdir -p -- "${mods}"
  [[ -f "${STOCK_MGR_MODULE_DIR}/mgr_module.py" ]] ||
    die "stock mgr modules not found in ${STOCK_MGR_MODULE_DIR} (is ceph-mgr installed?)"
  for f in "${STOCK_MGR_MODULE_DIR}"/*; do
    [[ -e "${f}" ]] || continue
    base="$(basename -- "${f}")"
    [[ -e "${extra}/${base}/module.py" ]] && continue
    ln -s -- "${f}" "${mods}/${base}"
    n=$((n + 1))
  done
  for f in "${extra}"/*/module.py; do
    [[ -e "${f}" ]] || continue
    base="$(basename -- "$(dirname -- "${f}")")"
    ln -s -- "$(dirname -- "${f}")" "${mods}/${base}"
    m=$((m + 1))
  done
  ((m > 0)) || die "--mgr-module-dir ${extra} holds no module (no */module.py)"
  log "mgr modules: ${m} from ${extra}, plus ${n} stock entries"
}

link_classes() {
  local class_dir="$1" cls="${DIR}/rados-classes" f base n=0
  mkdir -p -- "${cls}"
  [[ -d "${STOCK_CLASS_DIR}" ]] || die "stock class dir ${STOCK_CLASS_DIR} not found (is ceph-osd installed?)"
  for f in "${STOCK_CLASS_DIR}"/libcls_*.so; do
    [[ -e "${f}" ]] || continue
    base="$(basename -- "${f}")"
    # The overlay replaces the stock rbd class.
    [[ -n "${class_dir}" && "${base}" == libcls_rbd.so* ]] && continue
    ln -s -- "${f}" "${cls}/${base}"
    n=$((n + 1))
  done
  if [[ -n "${class_dir}" ]]; then
    ln -s -- "${class_dir}/libcls_rbd.so" "${cls}/libcls_rbd.so"
    log "class dir: overlay libcls_rbd.so -> ${class_dir}/libcls_rbd.so, plus ${n} stock classes"
  else
    log "class dir: ${n} stock classes (stock libcls_rbd.so included)"
  fi
}

# Prepare DIR: stop a cluster still running there, then wipe it -- but only
# if it is empty or carries our marker, never an arbitrary directory.
prepare_dir() {
  if [[ -e "${DIR}" && ! -d "${DIR}" ]]; then
    die "${DIR} exists and is not a directory"
  fi
  if [[ -d "${DIR}" ]]; then
    if [[ -e "${DIR}/${MARKER}" ]]; then
      stop_all
    elif [[ -n "$(ls -A -- "${DIR}")" ]]; then
      die "refusing to wipe ${DIR}: not empty and not a cluster directory made by ${PROG} (no ${MARKER})"
    fi
    rm -rf -- "${DIR}"
  fi
  mkdir -p -- "${DIR}" "${RUN_DIR}" "${LOG_DIR}" "${DIR}/crash"
  touch -- "${DIR}/${MARKER}"
}

cmd_start() {
  local dir="./build/cluster" n_osds=1 objectstore=memstore bluestore_size=8G
  local memstore_bytes=2147483648 with_mgr=0 port=17000 class_dir="" pool="rbd" auth=none
  local mgr_module_dir="" mgr_python_path=""
  while (($#)); do
    case "$1" in
      --dir) dir="${2?--dir needs a value}"; shift 2 ;;
      --osds) n_osds="${2?--osds needs a value}"; shift 2 ;;
      --bluestore) objectstore=bluestore; shift ;;
      --bluestore-size) bluestore_size="${2?--bluestore-size needs a value}"; shift 2 ;;
      --memstore-bytes) memstore_bytes="${2?--memstore-bytes needs a value}"; shift 2 ;;
      --mgr) with_mgr=1; shift ;;
      --mgr-module-dir) mgr_module_dir="${2?--mgr-module-dir needs a value}"; shift 2 ;;
      --mgr-python-path) mgr_python_path="${2?--mgr-python-path needs a value}"; shift 2 ;;
      --auth) auth="${2?--auth needs a value}"; shift 2 ;;
      --mon-port) port="${2?--mon-port needs a value}"; shift 2 ;;
      --class-dir) class_dir="${2?--class-dir needs a value}"; shift 2 ;;
      --pool) pool="${2?--pool needs a value}"; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown start option: $1" ;;
    esac
  done

  [[ "${auth}" == none || "${auth}" == cephx ]] || die "--auth must be none or cephx, got '${auth}'"
  if ! is_uint "${n_osds}" || ((n_osds < 1 || n_osds > 20)); then
    die "--osds must be 1..20, got '${n_osds}'"
  fi
  if ! is_uint "${port}" || ((port < 1024 || port > 65436)); then
    die "--mon-port must be 1024..65436, got '${port}'"
  fi
  if ! is_uint "${memstore_bytes}" || ((memstore_bytes == 0)); then
    die "--memstore-bytes must be a positive integer, got '${memstore_bytes}'"
  fi
  local bluestore_bytes
  bluestore_bytes="$(numfmt --from=iec -- "${bluestore_size}" 2>/dev/null || true)"
  if ! is_uint "${bluestore_bytes}" || ((bluestore_bytes == 0)); then
    die "--bluestore-size must be a size such as 8G, got '${bluestore_size}'"
  fi
  if [[ -n "${mgr_module_dir}" || -n "${mgr_python_path}" ]] && ((!with_mgr)); then
    die "--mgr-module-dir and --mgr-python-path need --mgr"
  fi
  if [[ -n "${mgr_module_dir}" ]]; then
    mgr_module_dir="$(realpath -m -- "${mgr_module_dir}")"
    [[ -d "${mgr_module_dir}" ]] || die "--mgr-module-dir ${mgr_module_dir} is not a directory"
  fi
  if [[ -n "${mgr_python_path}" ]]; then
    local d abs=""
    local -a dirs=()
    IFS=: read -r -a dirs <<<"${mgr_python_path}"
    for d in "${dirs[@]}"; do
      [[ -n "${d}" ]] || continue
      d="$(realpath -m -- "${d}")"
      [[ -d "${d}" ]] || die "--mgr-python-path: ${d} is not a directory"
      abs="${abs:+${abs}:}${d}"
    done
    mgr_python_path="${abs}"
  fi
  if [[ -n "${class_dir}" ]]; then
    class_dir="$(realpath -m -- "${class_dir}")"
    [[ -f "${class_dir}/libcls_rbd.so" ]] || die "--class-dir ${class_dir} has no libcls_rbd.so (build the project first)"
  fi
  set_dir "${dir}"
  # Unix socket paths (DIR/run/osd.N.asok) are limited to 107 bytes.
  ((${#DIR} <= 85)) || die "cluster dir path too long for admin sockets (${#DIR} > 85 chars): ${DIR}"

  local tool
  for tool in ceph ceph-mon ceph-osd ceph-authtool monmaptool rados rbd uuidgen jq numfmt timeout; do
    command -v "${tool}" >/dev/null 2>&1 || die "${tool} not found (run ./install-deps.sh)"
  done
  if ((with_mgr)); then
    command -v ceph-mgr >/dev/null 2>&1 || die "ceph-mgr not found (run ./install-deps.sh)"
  fi
  check_ceph_version

  # Everything but the final export line goes to stderr, so that callers
  # can eval our stdout.
  exec 3>&1 1>&2
  local t0=${SECONDS}

  prepare_dir
  STARTING=1
  trap on_exit EXIT
  trap 'exit 130' INT TERM

  local holder
  holder="$(port_user "${port}")"
  if [[ -n "${holder}" ]]; then
    die "mon port ${port} is taken by ${holder} (another cluster?); pick another --mon-port"
  fi

  local fsid
  fsid="$(uuidgen)"
  link_classes "${class_dir}"
  local mgr_module_path=""
  if [[ -n "${mgr_module_dir}" ]]; then
    link_mgr_modules "${mgr_module_dir}"
    mgr_module_path="${DIR}/mgr-modules"
  fi
  write_conf "${fsid}" "${port}" "${objectstore}" "${memstore_bytes}" "${bluestore_bytes}" "${auth}" \
    "${mgr_module_path}"
  log "cluster ${fsid} in ${DIR}: ${n_osds} ${objectstore} OSD(s), mon port ${port}$( ((with_mgr)) && echo ', mgr')"

  # The mon needs a keyring at mkfs time even with auth none.  With cephx,
  # client.admin (the default client of DIR/ceph.conf) gets every cap, and
  # each OSD and the mgr get their keys from it below.
  ceph-authtool -c "${CONF}" --log-file "${LOG_DIR}/authtool.log" --create-keyring "${DIR}/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  if [[ "${auth}" == cephx ]]; then
    ceph-authtool -c "${CONF}" --log-file "${LOG_DIR}/authtool.log" "${DIR}/keyring" --gen-key \
      -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  fi
  monmaptool -c "${CONF}" --create --clobber --fsid "${fsid}" \
    --addv a "[v1:127.0.0.1:${port}]" "${DIR}/monmap" >/dev/null
  mkdir -p -- "${DIR}/mon.a"
  if ! ceph-mon -c "${CONF}" -i a --mkfs --monmap "${DIR}/monmap" --keyring "${DIR}/keyring" \
    </dev/null >"${LOG_DIR}/mon.a.mkfs.log" 2>&1 3>&-; then
    cat -- "${LOG_DIR}/mon.a.mkfs.log" >&2
    fail_daemon mon.a "ceph-mon --mkfs failed"
  fi
  start_daemon mon.a "${STEP_TIMEOUT}" ceph-mon -c "${CONF}" -i a
  wait_until "${STEP_TIMEOUT}" "the mon to answer (ceph -s)" ceph_ -s

  local i uuid id crush_host
  crush_host="$(hostname -s 2>/dev/null || echo localhost)"
  for ((i = 0; i < n_osds; i++)); do
    uuid="$(uuidgen)"
    id="$(ceph_ osd new "${uuid}")" || die "'ceph osd new ${uuid}' failed"
    is_uint "${id}" || die "'ceph osd new' returned '${id}', not an OSD id"
    ceph_ osd crush add "osd.${id}" 1.0 root=default "host=${crush_host}" >/dev/null 2>&1 ||
      die "'ceph osd crush add osd.${id}' failed"
    mkdir -p -- "${DIR}/osd.${id}"
    if [[ "${auth}" == cephx ]]; then
      ceph_ auth get-or-create "osd.${id}" mon 'allow profile osd' osd 'allow *' \
        mgr 'allow profile osd' -o "${DIR}/osd.${id}/keyring" >/dev/null 2>&1 ||
        die "could not create the key of osd.${id}"
    fi
    log "creating osd.${id} (${objectstore})"
    if ! timeout "${SLOW_TIMEOUT}" ceph-osd -c "${CONF}" -i "${id}" --mkfs --osd-uuid "${uuid}" \
      </dev/null >"${LOG_DIR}/osd.${id}.mkfs.log" 2>&1 3>&-; then
      cat -- "${LOG_DIR}/osd.${id}.mkfs.log" >&2
      fail_daemon "osd.${id}" "ceph-osd --mkfs failed"
    fi
    start_osd "${id}"
  done

  if ((with_mgr)); then
    mkdir -p -- "${DIR}/mgr.x"
    if [[ "${auth}" == cephx ]]; then
      ceph_ auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
        -o "${DIR}/mgr.x/keyring" >/dev/null 2>&1 || die "could not create the key of mgr.x"
    fi
    # Its environment beyond ours (the rest is inherited, as for every
    # daemon); restart-mgr reads it back.
    if [[ -n "${mgr_python_path}" ]]; then
      echo "PYTHONPATH=${mgr_python_path}${PYTHONPATH:+:${PYTHONPATH}}" >"$(mgr_env_file)"
    fi
    start_mgr
  fi

  log "waiting for ${n_osds} OSD(s) to be up and in"
  wait_until "${SLOW_TIMEOUT}" "${n_osds} OSD(s) up and in" osds_up_and_in "${n_osds}"

  if [[ -n "${class_dir}" ]]; then
    # A broken overlay only shows in the OSD log; refuse to hand out a
    # cluster that silently lacks the rbd class.
    local bad
    bad="$(grep -h 'could not open class' "${LOG_DIR}"/osd.*.log | grep 'libcls_rbd\.so' | head -n 5 || true)"
    [[ -z "${bad}" ]] || die "the OSDs could not load the overlay libcls_rbd.so:"$'\n'"${bad}"
  fi

  if ((with_mgr)); then
    wait_until "${STEP_TIMEOUT}" "the mgr to become active" mgr_available
  fi

  if [[ -n "${pool}" ]]; then
    log "creating pool ${pool}"
    # Size 1 comes from "osd pool default size"; setting it again would
    # cost another osdmap epoch.
    local out
    out="$(ceph_ osd pool create "${pool}" 8 8 replicated 2>&1)" || die "could not create pool ${pool}: ${out}"
    wait_until "${STEP_TIMEOUT}" "the PGs of pool ${pool} to become active" pool_active "${pool}"
    timeout "${STEP_TIMEOUT}" rbd -c "${CONF}" pool init "${pool}" ||
      die "'rbd pool init ${pool}' failed or did not finish within ${STEP_TIMEOUT}s (client logs: ${LOG_DIR}/client.*.log)"
  fi

  check_expected_alive
  STARTING=0
  trap - EXIT INT TERM
  log "cluster up in $((SECONDS - t0))s: ${EXPECTED[*]}"
  echo "export CEPH_CONF=${CONF}" >&3
}

# ----------------------------------------------------- stop/status/etc. ---

parse_dir_only() {
  local dir="./build/cluster"
  while (($#)); do
    case "$1" in
      --dir) dir="${2?--dir needs a value}"; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
  done
  set_dir "${dir}"
}

cmd_stop() {
  parse_dir_only "$@"
  [[ -d "${RUN_DIR}" ]] || return 0
  stop_all
}

cmd_status() {
  parse_dir_only "$@"
  local name pid total=0 running=0
  while IFS= read -r name; do
    total=$((total + 1))
    if pid="$(read_pid "${name}")" && is_our_daemon "${pid}"; then
      running=$((running + 1))
      echo "${name}: running (pid ${pid})"
    else
      echo "${name}: not running (stale pid file, pid ${pid:-?})"
    fi
  done < <(recorded_daemons)
  if ((total == 0)); then
    echo "no daemons recorded in ${RUN_DIR}"
    return 3
  fi
  echo "${running}/${total} recorded daemons running in ${DIR}"
  ((running == total)) && return 0
  ((running == 0)) && return 3
  return 1
}

# Checks shared by the single-OSD commands: ID names an OSD of a cluster in
# DIR whose mon runs.  Sets DIR and friends; sends our stdout to stderr.
prepare_osd_command() {
  local cmd="$1" id="$2"
  shift 2
  is_uint "${id}" || die "usage: ${PROG} ${cmd} ID [--dir DIR]"
  parse_dir_only "$@"
  [[ -f "${CONF}" ]] || die "no cluster in ${DIR} (missing ${CONF})"
  [[ -d "${DIR}/osd.${id}" ]] || die "osd.${id} does not exist in ${DIR}"
  daemon_running mon.a || die "mon.a of ${DIR} is not running"
  exec 3>&1 1>&2
}

# osd.$1's up_from (-1: down), asked again while the mon is too busy to
# answer (several OSDs booting at once on a small machine).
query_up_from() {
  local id="$1" v deadline=$((SECONDS + STEP_TIMEOUT))
  until v="$(osd_up_from "${id}" 2>/dev/null)" && [[ -n "${v}" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
  echo "${v}"
}

# Starts osd.$1 and waits until the osdmap has it up with an up_from newer
# than $2 (its up_from before, -1 if it was down).
start_osd_wait_up() {
  local id="$1" old="$2"
  EXPECTED=(mon.a)
  start_osd "${id}"
  # up_from changes on every boot, so this cannot mistake the old instance
  # (not yet marked down) for the new one.
  local deadline=$((SECONDS + SLOW_TIMEOUT)) now
  while :; do
    check_expected_alive
    now="$(osd_up_from "${id}" 2>/dev/null || echo -1)"
    [[ -n "${now}" && "${now}" -gt "${old}" ]] && break
    ((SECONDS < deadline)) || fail_daemon "osd.${id}" "not marked up within ${SLOW_TIMEOUT}s"
    sleep 0.5
  done
  log "osd.${id} up again (pid $(read_pid "osd.${id}"), up_from ${now})"
}

cmd_restart_osd() {
  local id="${1-}"
  (($# == 0)) || shift
  prepare_osd_command restart-osd "${id}" "$@"
  if grep -q '^osd objectstore = memstore' "${CONF}"; then
    log "note: osd.${id} is memstore: its data survives only because it shuts down cleanly (a SIGKILL loses it)"
  fi
  local old
  old="$(query_up_from "${id}")" || die "could not find osd.${id} in the osdmap"
  stop_daemons "osd.${id}"
  start_osd_wait_up "${id}" "${old}"
  # Let peering finish so the caller's next I/O does not stall.
  local pool
  while IFS= read -r pool; do
    [[ -n "${pool}" ]] || continue
    wait_until "${STEP_TIMEOUT}" "the PGs of pool ${pool} to become active" pool_active "${pool}"
  done < <(ceph_ osd pool ls)
}

osd_is_down() {
  [[ "$(osd_up_from "$1")" == -1 ]]
}

cmd_stop_osd() {
  local id="${1-}"
  (($# == 0)) || shift
  prepare_osd_command stop-osd "${id}" "$@"
  daemon_running "osd.${id}" || die "osd.${id} of ${DIR} is not running"
  stop_daemons "osd.${id}"
  # A clean shutdown marks itself down first; the last OSD of the cluster
  # too, as only the mon has to agree.
  wait_until "${STEP_TIMEOUT}" "osd.${id} to be marked down" osd_is_down "${id}"
  log "osd.${id} stopped and down"
}

# SIGKILLs our daemon NAME (pid PID) and waits until it is gone.  Nothing
# of it is left to clean up but what it would have removed itself: its pid
# file and admin socket.
kill_daemon() {
  local name="$1" pid="$2"
  log "killing ${name} (pid ${pid}) with SIGKILL"
  kill -KILL "${pid}" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while is_our_daemon "${pid}"; do
    ((SECONDS < deadline)) || die "${name} (pid ${pid}) still runs ${STOP_TIMEOUT}s after SIGKILL"
    sleep 0.1
  done
  rm -f -- "$(pid_file "${name}")" "${RUN_DIR}/${name}.asok"
}

cmd_kill_osd() {
  local id="${1-}" name pid
  (($# == 0)) || shift
  prepare_osd_command kill-osd "${id}" "$@"
  name="osd.${id}"
  if ! pid="$(read_pid "${name}")" || ! is_our_daemon "${pid}"; then
    die "${name} of ${DIR} is not running"
  fi
  kill_daemon "${name}" "${pid}"
  log "${name} killed"
}

cmd_start_osd() {
  local id="${1-}"
  (($# == 0)) || shift
  prepare_osd_command start-osd "${id}" "$@"
  ! daemon_running "osd.${id}" || die "osd.${id} of ${DIR} is already running (pid $(read_pid "osd.${id}"))"
  local old
  old="$(query_up_from "${id}")" || die "could not find osd.${id} in the osdmap"
  start_osd_wait_up "${id}" "${old}"
}

cmd_restart_mgr() {
  local sig=TERM
  local -a rest=()
  while (($#)); do
    case "$1" in
      --kill) sig=KILL; shift ;;
      *) rest+=("$1"); shift ;;
    esac
  done
  parse_dir_only "${rest[@]+"${rest[@]}"}"
  [[ -f "${CONF}" ]] || die "no cluster in ${DIR} (missing ${CONF})"
  [[ -d "${DIR}/mgr.x" ]] || die "${DIR} has no mgr (start it with --mgr)"
  daemon_running mon.a || die "mon.a of ${DIR} is not running"
  exec 3>&1 1>&2
  local old pid
  old="$(mgr_active_gid 2>/dev/null || echo 0)"
  if pid="$(read_pid mgr.x)" && is_our_daemon "${pid}"; then
    if [[ "${sig}" == KILL ]]; then
      kill_daemon mgr.x "${pid}"
    else
      stop_daemons mgr.x
    fi
  else
    log "mgr.x of ${DIR} is not running; starting it"
  fi
  EXPECTED=(mon.a)
  start_mgr
  # A new instance of the same name replaces the old gid at its first beacon.
  wait_until "${STEP_TIMEOUT}" "a new active mgr (not gid ${old})" mgr_active_not "${old}"
  log "mgr.x active again (pid $(read_pid mgr.x), gid $(mgr_active_gid))"
}

main() {
  local cmd="${1-}"
  [[ -n "${cmd}" ]] || { usage >&2; exit 2; }
  shift
  case "${cmd}" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    restart-osd) cmd_restart_osd "$@" ;;
    stop-osd) cmd_stop_osd "$@" ;;
    kill-osd) cmd_kill_osd "$@" ;;
    start-osd) cmd_start_osd "$@" ;;
    restart-mgr) cmd_restart_mgr "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; die "unknown command: ${cmd}" ;;
  esac
}

main "$@"
