// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd ls -l [--format F] [POOL[/NAMESPACE]]: stock's long listing with the
// parent's type: a TYPE column (plain), parent.type (json/xml).  A
// standalone child's parent prints as pool/image@ (no snapshot).

#include <rbd/librbd.hpp>

#include <iostream>
#include <list>

#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
#include "tools/rbd/Formatter.h"
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

void dump_row(const Row& r, Formatter* f) {
  f->open_object(r.snap.empty() ? "image" : "snapshot");
  f->dump_string("image", r.name);
  f->dump_string("id", r.id);
  if (!r.snap.empty()) {
    f->dump_string("snapshot", r.snap);
    f->dump_unsigned("snapshot_id", r.snap_id);
  }
  f->dump_unsigned("size", r.size);
  if (r.has_parent) {
    f->open_object("parent");
    f->dump_string("pool", r.parent.pool_name);
    f->dump_string("pool_namespace", r.parent.pool_namespace);
    f->dump_string("image", r.parent.image_name);
    f->dump_string("snapshot", r.parent.snap_name);
    f->dump_string("type", parent_type(r));
    f->close();
  }
  f->dump_unsigned("format", r.format);
  if (!r.snap.empty()) {
    f->dump_string("protected", r.protect == "yes" ? "true" : "false");
  }
  if (!r.lock.empty()) {
    f->dump_string("lock_type", r.lock == "excl" ? "exclusive" : "shared");
  }
  f->close();
}

int execute(const Args& args, Cluster& cluster) {
  std::string pool = args.get("--pool", args.default_pool);
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
    error("error opening pool '" + pool + "'", r);
    return error("listing images failed", r);  // stock says both
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
  auto f = Formatter::create(format, args.has("--pretty-format"));
  f->open_array("images");
  for (const Row& r : rows) {
    dump_row(r, f.get());
  }
  f->close();
  f->flush(std::cout);
  return 0;
}

void get_arguments(po::options_description* positional, po::options_description* options) {
  at::add_pool_spec_positional(positional);
  options->add_options()("long,l", po::bool_switch(), "long listing format");
  at::add_pool_option(options, at::Modifier::NONE);
  at::add_namespace_option(options, at::Modifier::NONE);
  at::add_format_options(options);
}

// The short listing is stock's.
bool serves(const Args& args) { return args.has("--long"); }

Shell::Action action({"list"}, {"ls"}, "List rbd images.", "", get_arguments, execute, serves);

}  // namespace

}  // namespace rbd_standalone::action
