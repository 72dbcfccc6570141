// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd rm IMAGE: refuses a parent with standalone children, with the count;
// otherwise the stock removal (which detaches a standalone child from its
// parent).

#include "rbd/standalone.hpp"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

int remove(const Args& args, Cluster& cluster) {
  ImageSpec spec;
  std::string why;
  if (parse_image_spec(args, 1, "", &spec, &why) < 0 || spec.has_snap) {
    exec_stock(args.argv);  // stock reports usage errors
  }
  librados::IoCtx io;
  int r = cluster.ioctx(spec.pool, spec.ns, &io);
  if (r == 0) {
    r = librbd::standalone::pre_remove(io, spec.image);
  }
  if (r == -EBUSY) {
    return error(librbd::standalone::last_error(), r);
  }
  exec_stock(args.argv);  // including "no such image": stock says it
}

}  // namespace rbd_standalone::action
