// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd rm IMAGE and rbd flatten IMAGE.  rm refuses a parent with standalone
// children, with the count; flatten does not trust the child's object map
// (librbd/image/FlattenRequest.h).  Both run the stock command, which, for a
// standalone child, asks the parent to detach it (child_detach); once the
// child no longer reads through the parent, the detach is completed here,
// so that the parent's fence lifts with its last child.

#include <iostream>

#include "librbd/Utils.h"
#include "librbd/image/FlattenRequest.h"
#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace {

// Runs the stock command, then completes the detach of `spec` if it was a
// standalone child and the command succeeded.
int stock_then_complete_detach(const Args& args, librados::IoCtx& io, const ImageSpec& spec) {
  librbd::standalone::StandaloneLink link;
  bool linked = librbd::standalone::find_standalone_link(io, spec.image, &link) == 0;
  int status = run_stock(args.argv, nullptr);
  if (status == 0 && linked && librbd::standalone::complete_detach(io, link) < 0) {
    std::cerr << "rbd: warning: " << librbd::standalone::last_error() << std::endl;
  }
  return status;
}

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
  if (r < 0) {
    exec_stock(args.argv);  // including "no such image": stock says it
  }
  return stock_then_complete_detach(args, io, spec);
}

// The stock command does the flatten (its output and progress are stock's),
// inside the request that keeps it from trusting the object map.
int flatten(const Args& args, Cluster& cluster) {
  ImageSpec spec;
  std::string why;
  librados::IoCtx io;
  if (parse_image_spec(args, 1, "", &spec, &why) < 0 || spec.has_snap ||
      cluster.ioctx(spec.pool, spec.ns, &io) < 0) {
    exec_stock(args.argv);  // stock reports the error
  }
  std::string id;
  if (librbd::standalone::util::image_id_by_name(io, spec.image, &id) < 0) {
    exec_stock(args.argv);  // no such image (or no access): stock says so
  }
  librbd::standalone::StandaloneLink link;
  bool linked = librbd::standalone::find_standalone_link(io, spec.image, &link) == 0;
  int status = -1;
  int r = librbd::standalone::image::FlattenRequest(io, spec.image, [&] {
            status = run_stock(args.argv, nullptr);
            return status == 0 ? 0 : -EIO;
          }).send();
  if (status > 0) {
    return status;  // stock's flatten failed and said why
  }
  if (r < 0) {
    return error(librbd::standalone::last_error(), r);
  }
  if (linked && librbd::standalone::complete_detach(io, link) < 0) {
    std::cerr << "rbd: warning: " << librbd::standalone::last_error() << std::endl;
  }
  return 0;
}

void get_arguments(po::options_description* positional, po::options_description* options) {
  at::add_image_spec_positional(positional, at::Modifier::NONE);
  at::add_image_spec_options(options, at::Modifier::NONE);
  at::add_no_progress_option(options);
}

Shell::Action remove_action({"remove"}, {"rm"}, "Delete an image.", "", get_arguments, remove);
Shell::Action flatten_action({"flatten"}, {},
                             "Fill clone with parent data (make it independent).", "",
                             get_arguments, flatten);

}  // namespace

}  // namespace rbd_standalone::action
