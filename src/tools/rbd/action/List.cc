// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd ls -l [--format F] [POOL[/NAMESPACE]]: stock's long listing with the
// parent's type: a TYPE column (plain), parent.type (json/xml).  A
// standalone child's parent prints as pool/image@ (no snapshot).

#include <rbd/librbd.hpp>

#include <iostream>
#include <list>

#include "rbd/standalone.hpp"
#include "tools/rbd/Utils.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace {

struct Row {
  std::string name, id, snap;
  uint64_t snap_id = 0;
  uint64_t size = 0;
  bool has_parent = false;
  librbd::standalone::ParentInfo parent;
  int format = 2;
  std::string protect;  // snapshots: "yes"/""
  std::string lock;     // "excl"/"shr"/""
};

std::string parent_spec(const Row& r) {
  const auto& p = r.parent;
  return p.pool_name + "/" + (p.pool_namespace.empty() ? "" : p.pool_namespace + "/") +
         p.image_name + "@" + p.snap_name;
}

std::string parent_type(const Row& r) {
  return r.parent.parent_type == RBD_PARENT_TYPE_STANDALONE ? "standalone" : "snapshot";
}

void fill_parent(librbd::Image& image, Row* row) {
  row->has_parent = librbd::standalone::get_parent(image, &row->parent) == 0;
}

}  // namespace

int list_long(const Args& args, Cluster& cluster) {
  std::string pool = args.get("--pool", args.get("-p", "rbd"));
  std::string ns = args.get("--namespace");
  if (args.positional.size() > 1) {
    const std::string& p = args.positional[1];
    size_t slash = p.find('/');
    pool = p.substr(0, slash);
    if (slash != std::string::npos) {
      ns = p.substr(slash + 1);
    }
  }
  librados::IoCtx io;
  int r = cluster.ioctx(pool, ns, &io);
  if (r < 0) {
    return error("error opening pool " + pool, r);
  }
  librbd::RBD rbd;
  std::vector<librbd::image_spec_t> images;
  r = rbd.list2(io, &images);
  if (r < 0) {
    return error("error listing images", r);
  }
  std::vector<Row> rows;
  for (const auto& spec : images) {
    librbd::Image image;
    if (rbd.open_by_id_read_only(io, image, spec.id.c_str(), nullptr) < 0) {
      continue;  // removed meanwhile, as stock skips it
    }
    Row row;
    row.name = spec.name;
    row.id = spec.id;
    librbd::image_info_t st;
    image.stat(st, sizeof(st));
    row.size = st.size;
    uint8_t old = 0;
    image.old_format(&old);
    row.format = old ? 1 : 2;
    fill_parent(image, &row);
    bool exclusive = false;
    std::string tag;
    std::list<librbd::locker_t> lockers;
    if (image.list_lockers(&lockers, &exclusive, &tag) == 0 && !lockers.empty()) {
      row.lock = exclusive ? "excl" : "shr";
    }
    std::vector<librbd::snap_info_t> snaps;
    image.snap_list(snaps);
    rows.push_back(row);
    for (const auto& s : snaps) {
      Row srow;
      srow.name = spec.name;
      srow.id = spec.id;
      srow.snap = s.name;
      srow.snap_id = s.id;
      srow.size = s.size;
      srow.format = row.format;
      bool is_protected = false;
      image.snap_is_protected(s.name.c_str(), &is_protected);
      srow.protect = is_protected ? "yes" : "";
      if (image.snap_set(s.name.c_str()) == 0) {
        fill_parent(image, &srow);
      }
      rows.push_back(srow);
    }
  }

  std::string format = args.get("--format", "plain");
  if (format == "plain") {
    std::vector<std::vector<std::string>> table;
    for (const auto& r : rows) {
      table.push_back({r.snap.empty() ? r.name : r.name + "@" + r.snap, format_bytes(r.size),
                       r.has_parent ? parent_spec(r) : "", std::to_string(r.format),
                       r.protect, r.lock, r.has_parent ? parent_type(r) : ""});
    }
    if (!table.empty()) {
      // As stock: SIZE and FMT right-aligned.
      std::cout << render_table({"NAME", "SIZE", "PARENT", "FMT", "PROT", "LOCK", "TYPE"},
                                table, {false, true, false, true, false, false, false});
    }
    return 0;
  }
  bool json = format == "json";
  if (!json && format != "xml") {
    return error("invalid argument: --format " + format + " (plain, json or xml)");
  }
  std::cout << (json ? "[" : "<images>");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    auto field = [&](const std::string& k, const std::string& v, bool quote = true) {
      if (json) {
        std::cout << ",\"" << k << "\":" << (quote ? "\"" + json_escape(v) + "\"" : v);
      } else {
        std::cout << "<" << k << ">" << xml_escape(v) << "</" << k << ">";
      }
    };
    std::cout << (json ? (i ? ",{" : "{") : (r.snap.empty() ? "<image>" : "<snapshot>"));
    if (json) {
      std::cout << "\"image\":\"" << json_escape(r.name) << "\"";
    } else {
      std::cout << "<image>" << xml_escape(r.name) << "</image>";
    }
    field("id", r.id);
    if (!r.snap.empty()) {
      field("snapshot", r.snap);
      field("snapshot_id", std::to_string(r.snap_id), false);
    }
    field("size", std::to_string(r.size), false);
    if (r.has_parent) {
      std::cout << (json ? ",\"parent\":{" : "<parent>");
      std::string inner;
      if (json) {
        std::cout << "\"pool\":\"" << json_escape(r.parent.pool_name)
                  << "\",\"pool_namespace\":\"" << json_escape(r.parent.pool_namespace)
                  << "\",\"image\":\"" << json_escape(r.parent.image_name)
                  << "\",\"snapshot\":\"" << json_escape(r.parent.snap_name)
                  << "\",\"type\":\"" << parent_type(r) << "\"}";
      } else {
        std::cout << "<pool>" << xml_escape(r.parent.pool_name) << "</pool><pool_namespace>"
                  << xml_escape(r.parent.pool_namespace) << "</pool_namespace><image>"
                  << xml_escape(r.parent.image_name) << "</image><snapshot>"
                  << xml_escape(r.parent.snap_name) << "</snapshot><type>" << parent_type(r)
                  << "</type></parent>";
      }
    }
    field("format", std::to_string(r.format), false);
    if (!r.snap.empty()) {
      field("protected", r.protect == "yes" ? "true" : "false");
    }
    if (!r.lock.empty()) {
      field("lock_type", r.lock == "excl" ? "exclusive" : "shared");
    }
    std::cout << (json ? "}" : (r.snap.empty() ? "</image>" : "</snapshot>"));
  }
  std::cout << (json ? "]" : "</images>") << "\n";
  return 0;
}

}  // namespace rbd_standalone::action
