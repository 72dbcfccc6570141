// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd clone-standalone [--image-feature F]... [--order N | --object-size S]
//                      [--stripe-unit S --stripe-count N] [--data-pool P]
//                      PARENT CHILD
// PARENT is an image spec without @snap; CHILD defaults to PARENT's pool.

#include <rbd/librbd.hpp>

#include <cerrno>

#include "rbd/standalone.hpp"
#include "tools/rbd/Utils.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace {

int image_options(const Args& args, librbd::ImageOptions* opts) {
  if (args.has("--image-feature")) {
    uint64_t features = 0;
    std::string bad;
    if (parse_features(args.options.at("--image-feature"), &features, &bad) < 0) {
      return error("invalid argument: " + bad + " (image features: layering, striping, "
                   "exclusive-lock, object-map, fast-diff, deep-flatten, journaling)");
    }
    opts->set(RBD_IMAGE_OPTION_FEATURES, features);
  }
  if (args.has("--order") || args.has("--object-size")) {
    uint64_t order = 0;
    if (args.has("--order")) {
      order = strtoull(args.get("--order").c_str(), nullptr, 10);
    } else {
      uint64_t size = 0;
      if (parse_bytes(args.get("--object-size"), &size) < 0 || size == 0 ||
          (size & (size - 1)) != 0) {
        return error("invalid argument: --object-size must be a power of two");
      }
      while ((1ULL << order) < size) ++order;
    }
    if (order < 12 || order > 25) {
      return error("invalid argument: order must be in [12, 25]");
    }
    opts->set(RBD_IMAGE_OPTION_ORDER, order);
  }
  if (args.has("--stripe-unit") != args.has("--stripe-count")) {
    return error("invalid argument: --stripe-unit and --stripe-count go together");
  }
  if (args.has("--stripe-unit")) {
    uint64_t unit = 0;
    if (parse_bytes(args.get("--stripe-unit"), &unit) < 0 || unit == 0) {
      return error("invalid argument: --stripe-unit " + args.get("--stripe-unit"));
    }
    opts->set(RBD_IMAGE_OPTION_STRIPE_UNIT, unit);
    opts->set(RBD_IMAGE_OPTION_STRIPE_COUNT,
              static_cast<uint64_t>(strtoull(args.get("--stripe-count").c_str(), nullptr, 10)));
  }
  if (args.has("--data-pool")) {
    opts->set(RBD_IMAGE_OPTION_DATA_POOL, args.get("--data-pool"));
  }
  return 0;
}

}  // namespace

int clone_standalone(const Args& args, Cluster& cluster) {
  if (args.positional.size() != 3) {
    return error("usage: rbd clone-standalone [options] PARENT CHILD "
                 "(PARENT is an image, not a snapshot)");
  }
  ImageSpec parent, child;
  std::string why;
  if (parse_image_spec(args, 1, "", &parent, &why) < 0 ||
      parse_image_spec(args, 2, "dest", &child, &why) < 0) {
    return error(why);
  }
  if (parent.has_snap) {
    return error("standalone clones are made from an image's HEAD, not a snapshot: '" +
                     parent.str() + "' names snapshot '" + parent.snap +
                     "' (drop '@" + parent.snap + "', or use 'rbd clone' for a snapshot clone)",
                 -EINVAL);
  }
  if (child.has_snap) {
    return error("the child cannot be a snapshot: " + child.str(), -EINVAL);
  }
  if (args.positional[2].find('/') == std::string::npos && !args.has("--dest-pool")) {
    child.pool = parent.pool;
    child.ns = parent.ns;
  }
  librbd::ImageOptions opts;
  if (int status = image_options(args, &opts); status != 0) {
    return status;
  }
  librados::IoCtx p_io, c_io;
  int r = cluster.ioctx(parent.pool, parent.ns, &p_io);
  if (r < 0) {
    return error("error opening pool " + parent.pool, r);
  }
  r = cluster.ioctx(child.pool, child.ns, &c_io);
  if (r < 0) {
    return error("error opening pool " + child.pool, r);
  }
  r = librbd::standalone::clone(p_io, parent.image.c_str(), c_io, child.image.c_str(), opts);
  if (r < 0) {
    return error(librbd::standalone::last_error(), r);
  }
  return 0;
}

}  // namespace rbd_standalone::action
