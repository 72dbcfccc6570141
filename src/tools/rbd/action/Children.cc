// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd children [--all] [--descendants] [--prune] [--format F [--pretty-format]] IMAGE
// Children of an image: its standalone (HEAD) children and its snapshots'
// children, each with its parent type.  Stale registrations (the child is
// gone or no longer reads from this parent) are always shown, marked;
// --prune drops them.  IMAGE@SNAP is the stock command.

#include <cerrno>
#include <iostream>

#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
#include "tools/rbd/Formatter.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace {

using librbd::standalone::ChildInfo;

std::string state_name(rbd_child_state_t s) {
  switch (s) {
  case RBD_CHILD_STATE_TRASH: return "trash";
  case RBD_CHILD_STATE_MISSING: return "missing";
  case RBD_CHILD_STATE_NOT_LINKED: return "not_linked";
  case RBD_CHILD_STATE_IN_PROGRESS: return "in_progress";
  case RBD_CHILD_STATE_DETACHING: return "detaching";
  case RBD_CHILD_STATE_UNVERIFIED: return "unverified";
  default: return "ok";
  }
}

std::string spec_of(const ChildInfo& c) {
  return c.pool_name + "/" + (c.pool_namespace.empty() ? "" : c.pool_namespace + "/") +
         (c.image_name.empty() ? c.image_id : c.image_name);
}

void print_plain(const std::vector<ChildInfo>& children) {
  for (const auto& c : children) {
    std::cout << spec_of(c);
    if (c.state == RBD_CHILD_STATE_TRASH) {
      std::cout << " (trash " << c.image_id << ")";
    } else if (c.state == RBD_CHILD_STATE_MISSING) {
      std::cout << " (stale: image " << c.image_id << " is gone)";
    } else if (c.state == RBD_CHILD_STATE_NOT_LINKED) {
      std::cout << " (stale: no longer a child of " << c.parent_image_name << ")";
    } else if (c.state == RBD_CHILD_STATE_IN_PROGRESS) {
      std::cout << " (clone in progress)";
    } else if (c.state == RBD_CHILD_STATE_DETACHING) {
      std::cout << " (detach pending: still reads through " << c.parent_image_name
                << "; run the flatten or rm of the child again)";
    } else if (c.state == RBD_CHILD_STATE_UNVERIFIED) {
      std::cout << " (unverified: its header cannot be read here)";
    }
    std::cout << "\n";
  }
}

void print_formatted(const std::vector<ChildInfo>& children, Formatter* f) {
  f->open_array("children");
  for (const auto& c : children) {
    f->open_object("child");
    f->dump_string("pool", c.pool_name);
    f->dump_string("pool_namespace", c.pool_namespace);
    f->dump_string("image", c.image_name);
    f->dump_string("id", c.image_id);
    f->dump_string("parent_type",
                   c.parent_type == RBD_PARENT_TYPE_STANDALONE ? "standalone" : "snapshot");
    if (c.parent_type == RBD_PARENT_TYPE_SNAPSHOT) {
      f->dump_string("parent_snapshot", c.parent_snap_name);
    }
    f->dump_string("parent_image", c.parent_image_name);
    f->dump_unsigned("depth", c.depth);
    f->dump_string("state", state_name(c.state));
    f->dump_bool("trash", c.state == RBD_CHILD_STATE_TRASH);
    f->close();
  }
  f->close();
}

int execute(const Args& args, Cluster& cluster) {
  ImageSpec spec;
  std::string why;
  if (parse_image_spec(args, 1, "", &spec, &why) < 0) {
    return usage_error(why);
  }
  librados::IoCtx io;
  int r = cluster.ioctx(spec.pool, spec.ns, &io);
  if (r < 0) {
    return error("error opening pool '" + spec.pool + "'", r);
  }
  if (args.has("--prune")) {
    size_t pruned = 0;
    r = librbd::standalone::prune_children(io, spec.image, &pruned);
    if (r < 0) {
      return error(librbd::standalone::last_error(), r);
    }
    std::cerr << "pruned " << pruned << " stale registration(s)" << std::endl;
  }
  int flags = RBD_LIST_CHILDREN_SNAPSHOTS;
  if (args.has("--descendants")) {
    flags |= RBD_LIST_CHILDREN_DESCENDANTS;
  }
  std::vector<ChildInfo> list;
  r = librbd::standalone::list_children(io, spec.image, flags, &list);
  if (r < 0) {
    return error(librbd::standalone::last_error(), r);
  }
  std::vector<ChildInfo> shown;
  for (const auto& c : list) {
    if (c.state != RBD_CHILD_STATE_TRASH || args.has("--all")) {
      shown.push_back(c);
    }
  }
  auto f = Formatter::create(args.get("--format", "plain"), args.has("--pretty-format"));
  if (f) {
    print_formatted(shown, f.get());
    f->flush(std::cout);
  } else {
    print_plain(shown);
  }
  return 0;
}

void get_arguments(po::options_description* positional, po::options_description* options) {
  at::add_image_or_snap_spec_positional(positional, at::Modifier::NONE);
  at::add_image_spec_options(options, at::Modifier::NONE, true);
  at::add_snap_id_option(options);
  options->add_options()("all,a", po::bool_switch(), "list all children (include trash)")(
      "descendants", po::bool_switch(), "include all descendants")(
      "prune", po::bool_switch(),
      "drop stale standalone registrations (child gone or no longer linked)");
  at::add_format_options(options);
}

// A snapshot's children (without --prune) are stock's answer.
bool serves(const Args& args) {
  if (args.has("--snap") || args.has("--snap-id")) {
    return args.has("--prune");
  }
  size_t at = args.positional.size() > 1 ? args.positional[1].find('@') : std::string::npos;
  return at == std::string::npos || args.has("--prune");
}

Shell::Action action({"children"}, {}, "Display children of an image or its snapshot.", "",
                     get_arguments, execute, serves);

}  // namespace

}  // namespace rbd_standalone::action
