// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Stock `rbd deep cp` and `rbd migration prepare` re-create a source's
// parent link from a parent *snapshot*; given a standalone child (parent =
// HEAD) the stock librbd aborts on an assertion.  Refuse those cases with a
// clear error instead; `deep cp --flatten` copies the data and works.

#include <cerrno>

#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

int copy_guard(const Args& args, Cluster& cluster) {
  bool migration = args.positional[0] == "migration";
  ImageSpec source;
  std::string why;
  if (args.positional.size() >= 3 && parse_image_spec(args, 2, "", &source, &why) == 0 &&
      (migration || !args.has("--flatten")) &&
      parent_type_of(cluster, source) == "standalone") {
    return error(source.str() + " is a standalone clone: " +
                     (migration ? std::string("'rbd migration' cannot carry a standalone parent "
                                              "link; flatten the image first")
                                : std::string("'rbd deep cp' cannot re-create a standalone "
                                              "parent link; add --flatten")),
                 -EINVAL);
  }
  exec_stock(args.argv);
}

}  // namespace rbd_standalone::action
