// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// What the cluster test suites share: connecting to the cluster named by
// CEPH_CONF, making their own rbd pools, and unique names.  A suite that
// cannot connect makes every test fail with NO_CLUSTER (never skip).

#ifndef CEPH_TEST_STANDALONE_COMMON_CLUSTER_H
#define CEPH_TEST_STANDALONE_COMMON_CLUSTER_H

#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include <cstdlib>
#include <string>

namespace ceph_test_standalone {

constexpr const char* NO_CLUSTER =
    "cannot reach the cluster named by CEPH_CONF (start one with src/vstart.sh start)";

// Connects `rados` as the default client, from CEPH_CONF and CEPH_ARGS.
inline int connect_from_env(librados::Rados& rados) {
  int r = rados.init(nullptr);
  if (r == 0) r = rados.conf_read_file(nullptr);
  if (r == 0) r = rados.conf_parse_env(nullptr);
  if (r < 0) {
    return r;
  }
  // An unreachable cluster fails the suite within a minute, not the
  // default five.
  std::string timeout;
  if (rados.conf_get("client_mount_timeout", timeout) == 0 && std::atof(timeout.c_str()) > 60) {
    rados.conf_set("client_mount_timeout", "60");
  }
  return rados.connect();
}

// Creates pool `name`, initialised for rbd, and opens it in `io`.
// *created says whether this call made the pool (so the caller must delete
// it), also when a later step fails; a pool that already existed is not
// ours to delete.
inline int create_rbd_pool(librados::Rados& rados, const std::string& name,
                           librados::IoCtx& io, bool* created) {
  int r = rados.pool_create(name.c_str());
  *created = r == 0;
  if (r == 0) r = rados.ioctx_create(name.c_str(), io);
  if (r == 0) {
    librbd::RBD rbd;
    r = rbd.pool_init(io, true);
  }
  return r;
}

// `base` followed by a number not used before in this process.
inline std::string unique(const std::string& base) {
  static int n = 0;
  return base + std::to_string(++n);
}

}  // namespace ceph_test_standalone

#endif  // CEPH_TEST_STANDALONE_COMMON_CLUSTER_H
