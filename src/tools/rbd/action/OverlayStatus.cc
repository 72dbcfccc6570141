// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd overlay status [--format F [--pretty-format]]: for every OSD, whether
// it runs the cls_rbd standalone-clone overlay and which version — what a
// rolling deploy (or rollback) checks after each OSD restart.  Clones need
// the overlay on the OSDs that serve the parent's and the child's headers;
// every OSD needs it for any image to be cloned safely.

#include <cerrno>
#include <cstring>
#include <iostream>

#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
#include "tools/rbd/Formatter.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace {

using librbd::standalone::OsdOverlay;

std::string overlay_state(const OsdOverlay& o) {
  switch (o.status) {
    case 0: return "running";
    case -EOPNOTSUPP: return "absent";
    case -ENOENT: return "unknown";
    default: return "error";
  }
}

std::string overlay_cell(const OsdOverlay& o) {
  switch (o.status) {
    case 0: return "v" + std::to_string(o.version);
    case -EOPNOTSUPP: return "none (stock cls_rbd)";
    case -ENOENT: return o.up ? "unknown (primary of no object)" : "-";
    default: return std::string("probe failed: ") + strerror(-o.status);
  }
}

int execute(const Args& args, Cluster& cluster) {
  std::vector<OsdOverlay> osds;
  int r = librbd::standalone::overlay_status(cluster.rados(), &osds);
  if (r < 0) {
    return error(librbd::standalone::last_error(), r);
  }
  auto f = Formatter::create(args.get("--format", "plain"), args.has("--pretty-format"));
  if (f) {
    f->open_array("osds");
    for (const auto& o : osds) {
      f->open_object("osd");
      f->dump_unsigned("osd", o.osd);
      f->dump_bool("up", o.up);
      f->dump_string("overlay", overlay_state(o));
      if (o.status == 0) {
        f->dump_unsigned("version", o.version);
        f->dump_string("ceph_version", o.ceph_version);
      }
      f->close();
    }
    f->close();
    f->flush(std::cout);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  size_t running = 0, up = 0;
  for (const auto& o : osds) {
    rows.push_back({std::to_string(o.osd), o.up ? "up" : "down", overlay_cell(o),
                    o.status == 0 ? o.ceph_version : ""});
    up += o.up ? 1 : 0;
    running += o.status == 0 ? 1 : 0;
  }
  std::cout << render_table({"OSD", "STATUS", "OVERLAY", "BUILT FOR"}, rows);
  std::cout << running << " of " << up << " up OSD(s) run the overlay" << std::endl;
  return 0;
}

void get_arguments(po::options_description* positional, po::options_description* options) {
  at::add_format_options(options);
}

Shell::Action action({"overlay", "status"}, {},
                     "Show which OSDs run the standalone-clone cls_rbd overlay.", "",
                     get_arguments, execute);

}  // namespace

}  // namespace rbd_standalone::action
