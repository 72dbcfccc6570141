// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd clone-standalone [image options] <source-image-spec> <dest-image-spec>
// The source is an image (its HEAD, no @snap); as with stock `rbd clone`,
// a child named without a pool goes to rbd_default_pool.

#include <rbd/librbd.hpp>

#include <cerrno>

#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
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
  if (args.has("--image-shared")) {
    // As stock: a shared image has no feature that assumes one writer.
    opts->set(RBD_IMAGE_OPTION_FEATURES_CLEAR,
              static_cast<uint64_t>(RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |
                                    RBD_FEATURE_FAST_DIFF | RBD_FEATURE_JOURNALING));
  }
  return 0;
}

int execute(const Args& args, Cluster& cluster) {
  ImageSpec parent, child;
  std::string why;
  if (parse_image_spec(args, 1, "", &parent, &why) < 0 ||
      parse_image_spec(args, 2, "dest", &child, &why) < 0) {
    return usage_error(why);
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
  librbd::ImageOptions opts;
  if (int status = image_options(args, &opts); status != 0) {
    return status;
  }
  librados::IoCtx p_io, c_io;
  int r = cluster.ioctx(parent.pool, parent.ns, &p_io);
  if (r < 0) {
    return error("error opening pool '" + parent.pool + "'", r);
  }
  r = cluster.ioctx(child.pool, child.ns, &c_io);
  if (r < 0) {
    return error("error opening pool '" + child.pool + "'", r);
  }
  r = librbd::standalone::clone(p_io, parent.image.c_str(), c_io, child.image.c_str(), opts);
  if (r < 0) {
    return error(librbd::standalone::last_error(), r);
  }
  return 0;
}

void get_arguments(po::options_description* positional, po::options_description* options) {
  at::add_image_spec_positional(positional, at::Modifier::SOURCE);
  at::add_image_spec_positional(positional, at::Modifier::DEST);
  at::add_image_spec_options(options, at::Modifier::SOURCE);
  at::add_image_spec_options(options, at::Modifier::DEST);
  at::add_create_image_options(options, false);
}

Shell::Action action({"clone-standalone"}, {},
                     "Clone an image's HEAD into a CoW child image (no snapshot).",
                     at::IMAGE_FEATURES_HELP, get_arguments, execute);

}  // namespace

}  // namespace rbd_standalone::action
