#!/usr/bin/env bash
# The project's rbd against stock rbd 16.2, side by side on the same
# (overlay) cluster: help pages, `rbd help`, bash completion, errors and
# exit codes of every command the project serves, --pretty-format,
# rbd_default_pool, --image-shared, and the words on a parent's refusals.
# Needs CEPH_CONF (a cluster with the overlay) and PROJECT_RBD.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=common.sh
source "${here}/common.sh"
PASSED=0

: "${CEPH_CONF:?CEPH_CONF must name the conf of the overlay cluster}"
P="${PROJECT_RBD:?PROJECT_RBD must name the rbd of this project}"
S=/usr/bin/rbd
export CEPH_CONF
tmp="$(mktemp -d)"
pool="cli-$$"
pool2="cli2-$$"
cleanup() {
  ceph osd pool rm "${pool}" "${pool}" --yes-i-really-really-mean-it >/dev/null 2>&1 || true
  ceph osd pool rm "${pool2}" "${pool2}" --yes-i-really-really-mean-it >/dev/null 2>&1 || true
  rm -rf "${tmp}"
}
trap cleanup EXIT
for p in "${pool}" "${pool2}"; do
  ceph osd pool create "${p}" 8 >/dev/null 2>&1
  ceph osd pool application enable "${p}" rbd >/dev/null 2>&1
  rbd pool init "${p}"
done

# Runs `rbd ARGS` with both tools; their stdout+stderr and exit codes must
# be the same (log lines with timestamps and pids are dropped).
same() {
  local so sp rs rp
  set +e
  so="$("${S}" "$@" 2>&1)"; rs=$?
  sp="$("${P}" "$@" 2>&1)"; rp=$?
  set -e
  so="$(grep -v '^20[0-9][0-9]-' <<<"${so}" || true)"
  sp="$(grep -v '^20[0-9][0-9]-' <<<"${sp}" || true)"
  [[ "${rs}" == "${rp}" ]] ||
    fail "rbd $*: exit ${rp}, stock ${rs}"$'\n'"  ours: ${sp}"$'\n'"  stock: ${so}"
  [[ "${so}" == "${sp}" ]] ||
    fail "rbd $*: output differs from stock"$'\n'"$(diff <(echo "${so}") <(echo "${sp}") | head -20)"
  pass "rbd $* (exit ${rs}) as stock"
}

# --- help pages of the stock commands the project serves ---------------
for cmd in "info" "list" "ls" "remove" "rm" "flatten" "deep copy" "deep cp" \
           "migration prepare" "config pool get" "config pool set" "config pool remove" \
           "config pool rm" "config pool list" "config pool ls" "config image get" \
           "config image set" "config image remove" "config image rm" \
           "config image list" "config image ls"; do
  # shellcheck disable=SC2086
  same help ${cmd}
done
# children: stock's page plus --prune, nothing else.
diff <("${S}" help children) <("${P}" help children) >"${tmp}/children.diff" && 
  fail "rbd help children does not mention --prune"
expect_eq "rbd help children differs from stock only by --prune" \
  "3c3
<                     [--all] [--descendants] [--format <format>] 
---
>                     [--all] [--descendants] [--prune] [--format <format>] 
21a22,23
>   --prune               drop stale standalone registrations (child gone or no
>                         longer linked)" "$(cat "${tmp}/children.diff")"

# The project's own commands have stock-style pages.
for cmd in "clone-standalone" "object-map view" "overlay status"; do
  # shellcheck disable=SC2086
  page="$("${P}" help ${cmd})"
  expect_contains "rbd help ${cmd}: usage line" "${page}" "usage: rbd ${cmd} "
  [[ "${cmd}" == "overlay status" ]] ||
    expect_contains "rbd help ${cmd}: positional arguments" "${page}" $'\nPositional arguments\n'
  expect_contains "rbd help ${cmd}: optional arguments" "${page}" $'\nOptional arguments\n'
done
page="$("${P}" help clone-standalone)"
for opt in --image-feature --image-shared --object-size --stripe-unit --stripe-count \
           --data-pool --dest-pool --dest-namespace "<source-image-spec>" "<dest-image-spec>"; do
  expect_contains "rbd help clone-standalone lists ${opt}" "${page}" "${opt}"
done
page="$("${P}" --help)"
expect_contains "rbd --help is the merged command list" "${page}" "    clone-standalone  "

# `rbd help`: stock's list with exactly the project's commands added, in order.
"${S}" help >"${tmp}/help.stock"
"${P}" help >"${tmp}/help.ours"
diff "${tmp}/help.stock" "${tmp}/help.ours" | grep '^>' | sed 's/^> //' >"${tmp}/help.added" || true
expect_eq "rbd help adds exactly the project's commands" \
  "    clone-standalone                  Clone an image's HEAD into a CoW child
                                      image (no snapshot).
    object-map view                   Show each object's state: exists,
                                      exists_parent, copied_up.
    overlay status                    Show which OSDs run the standalone-clone
                                      cls_rbd overlay." "$(cat "${tmp}/help.added")"
diff "${tmp}/help.stock" "${tmp}/help.ours" | grep -q '^<' &&
  fail "rbd help dropped lines of stock's"
pass "rbd help keeps every line of stock's"
grep -n 'clone-standalone\|^    clone ' "${tmp}/help.ours" | head -2 >"${tmp}/order"
[[ "$(head -1 "${tmp}/order")" == *"    clone "* ]] || fail "clone-standalone is not listed after clone"
pass "rbd help lists clone-standalone in order"

# --- bash completion ---------------------------------------------------
stock_list="$("${S}" bash-completion)"
our_list="$("${P}" bash-completion)"
expect_eq "rbd bash-completion: stock's list plus the project's commands" \
  "${stock_list}clone-standalone|object-map view|overlay status|" "${our_list}"
opts="$("${P}" bash-completion clone-standalone)"
for o in "|--image-feature arg|" "|--image-shared|" "|--dest-pool arg|" "|-p arg|" "|--conf path|"; do
  expect_contains "completion of clone-standalone offers ${o}" "${opts}" "${o}"
done
expect_contains "completion of children offers --prune" "$("${P}" bash-completion children)" "|--prune|"
same bash-completion clone
same bash-completion info
# The stock completion script, driven with our tool, completes the command.
completed="$(bash -c "source /usr/share/bash-completion/completions/rbd
  rbd() { \"${P}\" \"\$@\"; }
  COMP_WORDS=(rbd clone-st); COMP_CWORD=1; _rbd; echo \"\${COMPREPLY[*]}\"")"
expect_eq "bash completion completes 'rbd clone-st'" "clone-standalone" "${completed}"

# The completion the package installs for rbd-standalone.
bindir="${tmp}/bin"
mkdir -p "${bindir}"
ln -s "$(readlink -f "${P}")" "${bindir}/rbd-standalone"
complete_words() {
  PATH="${bindir}:${PATH}" bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _rbd_standalone
    echo "${COMPREPLY[*]}"' _ "${here}/../../../src/tools/rbd/bash_completion/rbd-standalone" "$@"
}
expect_eq "completion: rbd-standalone clone-st" "clone-standalone" \
  "$(complete_words rbd-standalone clone-st)"
expect_eq "completion: a stock command" "snap" "$(complete_words rbd-standalone sna)"
expect_eq "completion: second word" "view" "$(complete_words rbd-standalone object-map v)"
expect_eq "completion: options after option values" "--image-feature" \
  "$(complete_words rbd-standalone --pool rbd clone-standalone --image-f)"
expect_eq "completion: children options" "--pretty-format --prune" \
  "$(complete_words rbd-standalone children --pr)"

# --- errors and exit codes ---------------------------------------------
rbd create "${pool}/img" --size 8M
for args in "info --bogus-opt ${pool}/img" "info" "info a b c" "info ${pool}/nosuch" \
            "ls -l --bogus" "ls -l nosuchpool" "ls -l --format yaml ${pool}" \
            "children --bogus ${pool}/img" "children" "children ${pool}/nosuch" \
            "children ${pool}/img extra" "children --format yaml ${pool}/img" \
            "rm --bogus ${pool}/x" "rm" "rm ${pool}/nosuch" "flatten" "flatten ${pool}/nosuch" \
            "config pool get" "config pool get ${pool}" \
            "config pool get ${pool} rbd_cache" "config image get ${pool}/img" \
            "config image list ${pool}/nosuch" "deep cp" "deep cp ${pool}/img" \
            "migration prepare" "no-such-command" "object-map check" \
            "info --format json --pretty-format ${pool}/img"; do
  # shellcheck disable=SC2086
  same ${args}
done
# ls -l: stock's table with a TYPE column added.
"${S}" ls -l "${pool}" >"${tmp}/ls.stock"
"${P}" ls -l "${pool}" >"${tmp}/ls.ours"
/usr/bin/python3 - "${tmp}/ls.stock" "${tmp}/ls.ours" <<'EOF' || fail "ls -l differs from stock's table beyond the TYPE column"
import sys
stock, ours = (open(p).read().splitlines() for p in sys.argv[1:])
cut = ours[0].index('  TYPE')
sys.exit(0 if [l.rstrip() for l in stock] == [l[:cut].rstrip() for l in ours] else 1)
EOF
pass "ls -l is stock's table plus TYPE"

# Stock's exit codes for the project's own commands.
expect_status() {  # DESC WANT-STATUS WANT-STDERR ARGS...
  local desc="$1" want="$2" words="$3" out rc
  shift 3
  set +e
  out="$("${P}" "$@" 2>&1)"; rc=$?
  set -e
  [[ "${rc}" == "${want}" && "${out}" == *"${words}"* ]] ||
    fail "${desc}: want exit ${want} and '${words}', got ${rc}: ${out}"
  pass "${desc}"
}
expect_status "unknown option" 1 "rbd: unrecognised option '--bogus-opt'" \
  clone-standalone --bogus-opt "${pool}/img" "${pool}/c0"
"${S}" ls "${pool}" | grep -qx c0 && fail "an unknown option still cloned"
expect_status "missing child" 22 "rbd: destination image name was not specified" \
  clone-standalone "${pool}/img"
expect_status "missing parent" 22 "rbd: image name was not specified" clone-standalone
expect_status "too many arguments" 1 "rbd: too many arguments" \
  clone-standalone "${pool}/img" "${pool}/c0" extra
expect_status "option without value" 1 "rbd: the required argument for option '--order' is missing" \
  clone-standalone "${pool}/img" "${pool}/c0" --order
expect_status "invalid value" 1 "rbd: the argument for option '--order' is invalid" \
  clone-standalone --order x "${pool}/img" "${pool}/c0"
expect_status "invalid feature" 1 "rbd: the argument for option '--image-feature' is invalid" \
  clone-standalone --image-feature bogus "${pool}/img" "${pool}/c0"
expect_status "snapshot as parent" 22 "standalone clones are made from an image's HEAD" \
  clone-standalone "${pool}/img@s" "${pool}/c0"
expect_status "object-map view of a missing image" 2 "" object-map view "${pool}/nosuch"
# (stock's progress and log lines interleave at random here: exit code only)
expect_status "flatten of an image without parent, as stock" 22 "Image flatten: 0% complete...failed." \
  flatten "${pool}/img"

# --- spec forms and the default pool ------------------------------------
"${P}" clone-standalone --pool "${pool}" --image img --dest-pool "${pool}" --dest c1
"${S}" info "${pool}/c1" | grep -q "parent: ${pool}/img@" || fail "--pool/--image/--dest-pool/--dest"
pass "stock's --pool/--image/--dest-pool/--dest form"
"${P}" --rbd_default_pool="${pool2}" clone-standalone "${pool}/img" c2
"${S}" ls "${pool2}" | grep -qx c2 || fail "an unqualified child did not go to rbd_default_pool"
pass "an unqualified child goes to rbd_default_pool (--rbd_default_pool)"
"${P}" --rbd_default_pool="${pool}" children img | grep -q "${pool2}/c2" ||
  fail "an unqualified image spec does not use rbd_default_pool"
pass "an unqualified spec of children uses rbd_default_pool"
"${P}" -c "${CEPH_CONF}" --id admin info "${pool}/c1" | grep -q "parent_type: standalone" ||
  fail "global options -c/--id"
pass "global -c and --id options"

# --image-shared drops exclusive-lock/object-map (so it needs the object map
# requirement off, and says so when it is on).
expect_status "--image-shared with the object map required" 22 "leave it out" \
  clone-standalone --image-shared "${pool}/img" "${pool}/c3"
"${P}" config pool set "${pool}" rbd_standalone_clone_require_object_map false
"${P}" clone-standalone --image-shared "${pool}/img" "${pool}/c3"
features="$("${S}" info "${pool}/c3" --format json | jq -r '.features | join(",")')"
[[ "${features}" != *exclusive-lock* && "${features}" != *object-map* ]] ||
  fail "--image-shared child has ${features}"
pass "--image-shared: the child has no exclusive-lock/object-map (${features})"

# --- --pretty-format ------------------------------------------------------
for args in "children ${pool}/img" "object-map view ${pool}/c1" "ls -l ${pool}" \
            "overlay status" "info ${pool}/c1"; do
  # shellcheck disable=SC2086
  compact="$("${P}" ${args} --format json | jq -cS .)"
  # shellcheck disable=SC2086
  pretty_out="$("${P}" ${args} --format json --pretty-format)"
  [[ "$(jq -cS . <<<"${pretty_out}")" == "${compact}" ]] ||
    fail "${args}: pretty JSON differs from compact"
  [[ "$(wc -l <<<"${pretty_out}")" -gt 1 && "${pretty_out}" == *$'\n    '* ]] ||
    fail "${args}: --pretty-format is not indented: ${pretty_out}"
  # shellcheck disable=SC2086
  "${P}" ${args} --format xml --pretty-format >"${tmp}/pretty.xml"
  # shellcheck disable=SC2086
  "${P}" ${args} --format xml >"${tmp}/compact.xml"
  /usr/bin/python3 - "${tmp}/pretty.xml" "${tmp}/compact.xml" <<'EOF' ||
import sys, xml.etree.ElementTree as ET
def norm(e):
    return (e.tag, (e.text or '').strip(), [norm(c) for c in e])
pretty, compact = (ET.parse(p).getroot() for p in sys.argv[1:])
lines = open(sys.argv[1]).read().splitlines()
sys.exit(0 if norm(pretty) == norm(compact) and len(lines) > 1 else 1)
EOF
    fail "${args}: pretty XML differs from compact"
  pass "${args}: --pretty-format (json, xml) is the same document, indented"
done
# The added <type> of info sits with <parent>'s other elements.
"${P}" info "${pool}/c1" --format xml --pretty-format | grep -q '^  <type>standalone</type>$' ||
  fail "info --format xml --pretty-format: <type> not indented as <parent>'s elements"
pass "info --format xml --pretty-format indents <type> like its siblings"
"${S}" info "${pool}/img" --format xml --pretty-format >"${tmp}/stock.xml"
"${P}" info "${pool}/img" --format xml --pretty-format >"${tmp}/ours.xml"
cmp -s "${tmp}/stock.xml" "${tmp}/ours.xml" || fail "info of a plain image differs from stock"
pass "info --format xml --pretty-format of an image without parent is stock's, byte for byte"

# --- the words on a parent's refusals -------------------------------------
for args in "snap create ${pool}/img@s1" "resize --size 16M ${pool}/img" \
            "rename ${pool}/img ${pool}/img2" "feature disable ${pool}/img fast-diff" \
            "image-meta set ${pool}/img k v"; do
  set +e
  # shellcheck disable=SC2086
  out="$("${P}" ${args} 2>&1)"; rc=$?
  set -e
  [[ ${rc} == 30 ]] || fail "rbd ${args} on a parent: exit ${rc}, want 30 (EROFS): ${out}"
  [[ "${out}" == *"rbd: ${pool}/img is the parent of "*" standalone clone(s): it stays read-only"* ]] ||
    fail "rbd ${args} on a parent does not explain: ${out}"
  pass "rbd ${args} on a parent: EROFS and why"
done
set +e
out="$("${P}" rm "${pool}/img" 2>&1)"; rc=$?
set -e
[[ ${rc} == 16 && "${out}" == *"standalone child(ren) - not removing"* ]] ||
  fail "rbd rm of a parent: ${rc} ${out}"
pass "rbd rm of a parent: EBUSY and why"

echo "${PASSED} passed, 0 failed"
