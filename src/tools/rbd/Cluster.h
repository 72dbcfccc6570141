// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The cluster a command talks to, configured as stock rbd configures it
// (-c/--conf, --cluster, --id/--name, then $CEPH_CONF, then every Ceph
// option given on the command line), and the image specs it addresses.

#ifndef RBD_STANDALONE_CLUSTER_H
#define RBD_STANDALONE_CLUSTER_H

#include <rados/librados.hpp>

#include <string>
#include <vector>

namespace rbd_standalone {

struct Args;

class Cluster {
public:
  // Builds the handle and takes the Ceph options out of `arguments` (as
  // global_init does for stock rbd); what is left is the command's own.
  int init(std::vector<std::string>* arguments);
  int connect();
  int ioctx(const std::string& pool, const std::string& ns, librados::IoCtx* io);
  librados::Rados& rados() { return m_rados; }
  // rbd_default_pool of this client's configuration.
  std::string default_pool();

private:
  librados::Rados m_rados;
};

// "pool/[namespace/]image[@snap]", with --pool/--namespace/--image/--snap
// (or --dest-pool/--dest-namespace/--dest) as fallbacks and the client's
// rbd_default_pool last, as the stock CLI resolves specs.
struct ImageSpec {
  std::string pool;
  std::string ns;
  std::string image;
  std::string snap;
  bool has_snap = false;
  std::string str() const;  // pool/[ns/]image[@snap]
};
// `index` counts in args.positional; prefix "" or "dest".  -EINVAL with
// stock's message in *error when no image is named.
int parse_image_spec(const Args& args, size_t index, const std::string& prefix,
                     ImageSpec* spec, std::string* error);

}  // namespace rbd_standalone

#endif  // RBD_STANDALONE_CLUSTER_H
