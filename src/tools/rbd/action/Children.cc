// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd children [--all] [--descendants] [--prune] [--format F] IMAGE
// Children of an image: its standalone (HEAD) children and its snapshots'
// children, each with its parent type.  Stale registrations (the child is
// gone or no longer reads from this parent) are always shown, marked;
// --prune drops them.  IMAGE@SNAP is the stock command.

#include <iostream>

#include "rbd/standalone.hpp"
#include "tools/rbd/Utils.h"
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

void print_json(const std::vector<ChildInfo>& children) {
  std::cout << "[";
  for (size_t i = 0; i < children.size(); ++i) {
    const auto& c = children[i];
    std::cout << (i ? "," : "") << "{\"pool\":\"" << json_escape(c.pool_name)
              << "\",\"pool_namespace\":\"" << json_escape(c.pool_namespace)
              << "\",\"image\":\"" << json_escape(c.image_name) << "\",\"id\":\""
              << json_escape(c.image_id) << "\",\"parent_type\":\""
              << (c.parent_type == RBD_PARENT_TYPE_STANDALONE ? "standalone" : "snapshot")
              << "\"";
    if (c.parent_type == RBD_PARENT_TYPE_SNAPSHOT) {
      std::cout << ",\"parent_snapshot\":\"" << json_escape(c.parent_snap_name) << "\"";
    }
    std::cout << ",\"parent_image\":\"" << json_escape(c.parent_image_name)
              << "\",\"depth\":" << c.depth << ",\"state\":\"" << state_name(c.state)
              << "\",\"trash\":" << (c.state == RBD_CHILD_STATE_TRASH ? "true" : "false") << "}";
  }
  std::cout << "]\n";
}

void print_xml(const std::vector<ChildInfo>& children) {
  std::cout << "<children>";
  for (const auto& c : children) {
    std::cout << "<child><pool>" << xml_escape(c.pool_name) << "</pool><pool_namespace>"
              << xml_escape(c.pool_namespace) << "</pool_namespace><image>"
              << xml_escape(c.image_name) << "</image><id>" << xml_escape(c.image_id)
              << "</id><parent_type>"
              << (c.parent_type == RBD_PARENT_TYPE_STANDALONE ? "standalone" : "snapshot")
              << "</parent_type><parent_snapshot>" << xml_escape(c.parent_snap_name)
              << "</parent_snapshot><depth>" << c.depth << "</depth><state>"
              << state_name(c.state) << "</state></child>";
  }
  std::cout << "</children>\n";
}

}  // namespace

int children(const Args& args, Cluster& cluster) {
  ImageSpec spec;
  std::string why;
  if (parse_image_spec(args, 1, "", &spec, &why) < 0) {
    return error(why);
  }
  if (spec.has_snap && !args.has("--prune")) {
    exec_stock(args.argv);  // one snapshot's children: stock answers
  }
  librados::IoCtx io;
  int r = cluster.ioctx(spec.pool, spec.ns, &io);
  if (r < 0) {
    return error("error opening pool " + spec.pool, r);
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
    if (c.state != RBD_CHILD_STATE_TRASH || args.has("--all") || args.has("-a")) {
      shown.push_back(c);
    }
  }
  std::string format = args.get("--format", "plain");
  if (format == "json") {
    print_json(shown);
  } else if (format == "xml") {
    print_xml(shown);
  } else if (format == "plain") {
    print_plain(shown);
  } else {
    return error("invalid argument: --format " + format + " (plain, json or xml)");
  }
  return 0;
}

}  // namespace rbd_standalone::action
