// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The project's rbd: dispatches the commands standalone clones add or
// extend to tools/rbd/action/, and runs every other command (and every
// form of a command it does not extend) as the stock /usr/bin/rbd.

#include <iostream>

#include "tools/rbd/Shell.h"
#include "tools/rbd/action/Actions.h"

using namespace rbd_standalone;

namespace {

const char* HELP =
    "rbd clone-standalone [--image-feature F]... [--order N | --object-size S]\n"
    "                     [--stripe-unit S --stripe-count N] [--data-pool P]\n"
    "                     PARENT CHILD\n"
    "    Clone the HEAD of image PARENT (no snapshot) into a new image CHILD.\n"
    "    The parent stays read-only while it has standalone children.\n"
    "rbd children [--all] [--descendants] [--prune] [--format F] IMAGE\n"
    "    Standalone and snapshot children of IMAGE; --prune drops stale entries.\n"
    "rbd object-map view [--format F] IMAGE\n"
    "    Per-object states of a clone: exists, exists_parent, copied_up.\n"
    "rbd config pool|image set|get|rm|list ... rbd_standalone_clone_enabled |\n"
    "    rbd_standalone_clone_require_object_map\n"
    "info, ls -l and rm also report / respect standalone parents.  Every other\n"
    "command is the stock rbd's (rbd help).\n";

// Which handler, if any, serves these command words.
Action pick(const Args& a) {
  const auto& p = a.positional;
  auto is = [&](size_t i, const char* w) { return p.size() > i && p[i] == w; };
  if (is(0, "clone-standalone")) return action::clone_standalone;
  if (is(0, "children")) return action::children;
  if (is(0, "info")) return action::info;
  if ((is(0, "ls") || is(0, "list")) && (a.has("-l") || a.has("--long"))) {
    return action::list_long;
  }
  if (is(0, "rm") || is(0, "remove")) return action::remove;
  if (is(0, "flatten")) return action::flatten;
  if (is(0, "config") && (is(1, "pool") || is(1, "image")) && p.size() > 2) {
    return action::config;
  }
  if (is(0, "object-map") && is(1, "view")) return action::object_map_view;
  if ((is(0, "deep") && (is(1, "cp") || is(1, "copy"))) ||
      (is(0, "migration") && is(1, "prepare"))) {
    return action::copy_guard;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  if (args.positional.size() >= 1 && args.positional[0] == "clone-standalone" &&
      (args.has("--help") || args.has("-h"))) {
    std::cout << HELP;
    return 0;
  }
  if (args.positional.size() >= 2 && args.positional[0] == "help" &&
      args.positional[1] == "clone-standalone") {
    std::cout << HELP;
    return 0;
  }
  Action action = pick(args);
  if (!action || args.has("--help") || args.has("-h")) {
    exec_stock(args.argv);
  }
  Cluster cluster;
  int r = cluster.connect(args);
  if (r < 0) {
    return error("couldn't connect to the cluster", r);
  }
  return action(args, cluster);
}
