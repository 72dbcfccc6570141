#!/usr/bin/env bash
# Runs a command against a cluster of its own (memstore, the overlay in the
# class dir), started here and stopped on exit, with a 5 s watch timeout
# (stock: 30 s) so that the watches of killed or paused clients expire
# quickly.  The command sees CEPH_CONF.  VSTART_OPTS: more start options
# (e.g. "--auth cephx").
#
#   with_cluster.sh VSTART CLASS_DIR MON_PORT COMMAND [ARGS...]
set -euo pipefail

vstart="$1"
class_dir="$2"
port="$3"
shift 3
dir="$(mktemp -d /tmp/wu-cluster.XXXXXX)"

stop_cluster() { "${vstart}" stop --dir "${dir}/c" >/dev/null 2>&1 || true; }
trap 'stop_cluster; rm -rf "${dir}"' EXIT

eval "$("${vstart}" start --dir "${dir}/c" --mon-port "${port}" --class-dir "${class_dir}" ${VSTART_OPTS:-} \
          --memstore-bytes 2147483648)"
ceph config set osd osd_client_watch_timeout 5 >/dev/null
ceph config set mon mon_allow_pool_delete true >/dev/null
"$@"
