#!/usr/bin/env bash
# Install everything needed to build and test the cls_rbd overlay on Debian
# bookworm, whose Ceph packages (16.2.x, Pacific) the overlay plugs into.
# Idempotent: when everything is already installed it only checks and exits.
set -euo pipefail

# dpkg-dev, file, binutils: the Debian package (cpack -G DEB runs
# dpkg-shlibdeps, file and strip; the package test uses readelf and nm).
PACKAGES=(
  ceph-mon ceph-osd ceph-mgr ceph-common
  librbd-dev librados-dev libradospp-dev rados-objclass-dev
  python3-rbd python3-rados cython3 python3-dev python3-pytest python3-matplotlib
  libgtest-dev libgmock-dev googletest
  libfmt-dev libboost-dev libboost-program-options-dev
  cmake g++ make pkg-config
  dpkg-dev file binutils
  xxd jq uuid-runtime procps
  qemu-utils qemu-block-extra fio
)
# The overlay is built against, and loaded by, this Ceph release only.
REQUIRED_CEPH_SERIES="16.2."

die() { echo "install-deps.sh: ERROR: $*" >&2; exit 1; }
log() { echo "install-deps.sh: $*" >&2; }

# apt-get and dpkg need root; re-exec through sudo when we are not.
if [[ ${EUID} -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -- "${BASH:-bash}" "$0" "$@"
  fi
  die "must be run as root (and sudo is not available to become root)"
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script targets Debian bookworm"

# True when dpkg says the package is fully installed.
is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "${pkg}" || missing+=("${pkg}")
done

action="nothing to install"
if ((${#missing[@]} > 0)); then
  log "missing packages: ${missing[*]}"
  # A fresh machine's package lists may be empty (no ceph-osd candidate) and
  # an old list gives 404s, so refresh them whenever anything is to be
  # installed; when everything is present we skip this and stay fast.
  log "running apt-get update"
  apt-get update
  log "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  action="installed ${#missing[@]} package(s)"
fi

# Fail loudly if any package is still not installed.
still_missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "${pkg}" || still_missing+=("${pkg}")
done
((${#still_missing[@]} == 0)) || die "packages still not installed: ${still_missing[*]}"

ceph_version="$(dpkg-query -W -f='${Version}' ceph-osd)"
if [[ "${ceph_version}" != "${REQUIRED_CEPH_SERIES}"* ]]; then
  die "the overlay targets Ceph Pacific ${REQUIRED_CEPH_SERIES}x, but ceph-osd ${ceph_version} is installed"
fi

echo "install-deps.sh: OK: ${action}; all ${#PACKAGES[@]} packages present; ceph-osd ${ceph_version} (Pacific)"
