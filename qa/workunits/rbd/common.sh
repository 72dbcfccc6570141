#!/usr/bin/env bash
# Reporting helpers shared by the rbd workunits: every check either passes
# (one "ok N - ..." line) or fails the whole run at once, saying what was
# expected and what was seen.  Sourced.  expect_ok leaves the command's
# output in LAST_OUT.
# shellcheck shell=bash

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  PASSED=$((PASSED + 1))
  echo "ok ${PASSED} - $*"
}

expect_eq() {  # DESC EXPECTED GOT
  local desc="$1" expected="$2" got="$3"
  if [[ "${expected}" != "${got}" ]]; then
    fail "${desc}:"$'\n'"  expected: [${expected}]"$'\n'"  got:      [${got}]"
  fi
  pass "${desc}"
}

expect_contains() {  # DESC HAYSTACK NEEDLE
  local desc="$1" hay="$2" needle="$3"
  if [[ "${hay}" != *"${needle}"* ]]; then
    fail "${desc}:"$'\n'"  expected output containing: [${needle}]"$'\n'"  got: [${hay}]"
  fi
  pass "${desc}"
}

expect_not_contains() {  # DESC HAYSTACK NEEDLE
  local desc="$1" hay="$2" needle="$3"
  if [[ "${hay}" == *"${needle}"* ]]; then
    fail "${desc}:"$'\n'"  expected output without: [${needle}]"$'\n'"  got: [${hay}]"
  fi
  pass "${desc}"
}

# expect_ok DESC CMD...: CMD must exit 0.  CMD may be one of the functions
# below (rbd, pyrbd, ...), which bound their own run time.
expect_ok() {
  local desc="$1" rc=0
  shift
  LAST_OUT="$("$@" 2>&1)" || rc=$?
  if ((rc != 0)); then
    fail "${desc}:"$'\n'"  expected success of [$*]"$'\n'"  got exit ${rc}: ${LAST_OUT}"
  fi
  pass "${desc}"
}

# expect_fail_with DESC TEXT CMD...: CMD must exit non-zero (not by the
# timeout) and its output must contain TEXT.
expect_fail_with() {
  local desc="$1" text="$2" out rc=0
  shift 2
  out="$("$@" 2>&1)" || rc=$?
  if ((rc == 0)); then
    fail "${desc}: expected [$*] to fail with [${text}], it succeeded: ${out}"
  fi
  if ((rc == 124)); then
    fail "${desc}: [$*] timed out after ${CMD_TIMEOUT}s"
  fi
  if [[ "${out}" != *"${text}"* ]]; then
    fail "${desc}: expected [$*] to fail with [${text}], got exit ${rc}: ${out}"
  fi
  pass "${desc}"
}

expect_same_file() {  # DESC EXPECTED_FILE GOT_FILE
  local desc="$1" a="$2" b="$3" diff
  if ! cmp -s -- "${a}" "${b}"; then
    diff="$(cmp -- "${a}" "${b}" 2>&1 || true)"
    fail "${desc}: contents differ from expected: ${diff}"
  fi
  pass "${desc}"
}

expect_match() {  # DESC STRING ERE
  local desc="$1" got="$2" re="$3"
  if ! [[ "${got}" =~ ${re} ]]; then
    fail "${desc}:"$'\n'"  expected a match of: /${re}/"$'\n'"  got: [${got}]"
  fi
  pass "${desc}"
}

# expect_exit DESC RC TEXT CMD...: CMD exits with RC (any non-zero if RC is
# "nonzero") and its output contains TEXT.
expect_exit() {
  local desc="$1" want="$2" text="$3" out rc=0
  shift 3
  out="$("$@" 2>&1)" || rc=$?
  if ((rc == 124)); then
    fail "${desc}: [$*] timed out after ${CMD_TIMEOUT}s"
  fi
  if [[ "${want}" == nonzero ]]; then
    ((rc != 0)) || fail "${desc}:"$'\n'"  expected [$*] to fail, it succeeded: ${out}"
  elif ((rc != want)); then
    fail "${desc}:"$'\n'"  expected exit ${want} of [$*]"$'\n'"  got exit ${rc}: ${out}"
  fi
  if [[ "${out}" != *"${text}"* ]]; then
    fail "${desc}:"$'\n'"  expected [$*] output containing: [${text}]"$'\n'"  got (exit ${rc}): ${out}"
  fi
  pass "${desc}"
}

expect_different_file() {  # DESC FILE_A FILE_B
  local desc="$1" a="$2" b="$3"
  if cmp -s -- "${a}" "${b}"; then
    fail "${desc}: expected different contents, both are identical"
  fi
  pass "${desc}"
}

# The cluster of $1 answers `ceph -s` (a bounded wait); $2 names it.
check_reachable() {  # CONF WHAT
  local out
  out="$(CEPH_CONF="$1" timeout 60 /usr/bin/ceph --connect-timeout 20 -s 2>&1)" ||
    fail "cannot reach the $2 cluster of ${1} (ceph -s): ${out}"
}

# CEPH_CONF names a reachable cluster whose OSDs load the overlay: a test
# that needs it fails (never skips) without it.
require_cluster() {
  [[ -n "${CEPH_CONF:-}" ]] ||
    fail "CEPH_CONF is not set: start a cluster with the overlay (src/vstart.sh start --class-dir ...) and export CEPH_CONF"
  [[ -r "${CEPH_CONF}" ]] || fail "CEPH_CONF=${CEPH_CONF} is not readable"
  export CEPH_CONF
  check_reachable "${CEPH_CONF}" "overlay"
}

# ------------------------------------------------ shared setup/cleanup ---
# The workunits set CMD_TIMEOUT, PASSED, FINISHED and TMP, and define
# their own rbd() (stock or project CLI).

ceph_() { timeout "${CMD_TIMEOUT}" "${CEPH:-/usr/bin/ceph}" --connect-timeout 30 "$@"; }

# Exports SPEC to a fresh file FILE (rbd export refuses to overwrite).
export_to() {  # SPEC FILE
  local out
  rm -f -- "$2"
  out="$(rbd export --no-progress "$1" "$2" 2>&1)" || fail "rbd export $1 failed: ${out}"
}

# jq, the python3 with rados/rbd, and each named executable are there.
# Waits until IMAGE has no watchers: stock clients whose write to a fenced
# parent was refused (rbd bench, qemu-io, fio) exit without closing the
# image, and their watch lingers until the watch timeout (30 s).
wait_no_watchers() {  # IMAGE
  local i
  for i in $(seq 1 90); do
    if [[ "$(/usr/bin/rbd status --format json "$1" | jq '.watchers | length')" == 0 ]]; then
      return 0
    fi
    sleep 1
  done
  fail "$1 still has watchers after 90 s"
}

require_tools() {  # EXECUTABLE...
  local x
  for x in "$@"; do
    [[ -x "${x}" ]] || fail "${x} is missing"
  done
  command -v jq >/dev/null || fail "jq is required"
  "${PY}" -c 'import rados, rbd' 2>/dev/null || fail "${PY} lacks the rados/rbd modules"
}

# Removes POOL from the cluster of CEPH_CONF, retrying while it is busy;
# only warns, as it runs during cleanup.
remove_pool() {  # POOL [WHERE]
  local _
  for _ in 1 2 3; do
    ceph_ osd pool rm "$1" "$1" --yes-i-really-really-mean-it >/dev/null 2>&1 && return 0
    sleep 2
  done
  echo "WARNING: could not remove pool $1${2:+ on the $2 cluster}" >&2
}

# The end of every cleanup trap: removes TMP and, when the run stopped
# early, says so and exits non-zero.
finish_cleanup() {  # RC
  local rc="$1"
  [[ -n "${TMP}" ]] && rm -rf -- "${TMP}"
  if ((!FINISHED)); then
    echo "${PASSED} passed, 1 failed"
    ((rc == 0)) && rc=1
  fi
  exit "${rc}"
}
