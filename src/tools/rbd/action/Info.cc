// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd info: the stock output, unchanged, plus the parent's type where the
// image has a parent: a "parent_type:" line after "overlap:" (plain), a
// "type" member of "parent" (json), a <type> element of <parent> (xml).

#include <rbd/librbd.hpp>

#include <iostream>

#include "rbd/standalone.hpp"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

std::string parent_type_of(Cluster& cluster, const ImageSpec& spec) {
  librados::IoCtx io;
  librbd::RBD rbd;
  librbd::Image image;
  if (cluster.ioctx(spec.pool, spec.ns, &io) < 0 ||
      rbd.open_read_only(io, image, spec.image.c_str(),
                         spec.has_snap ? spec.snap.c_str() : nullptr) < 0) {
    return "";
  }
  librbd::standalone::ParentInfo parent;
  if (librbd::standalone::get_parent(image, &parent) < 0) {
    return "";
  }
  return parent.parent_type == RBD_PARENT_TYPE_STANDALONE ? "standalone" : "snapshot";
}

namespace {

std::string add_plain(std::string out, const std::string& type) {
  size_t at = out.find("\toverlap: ");
  if (at == std::string::npos) {
    at = out.find("\tparent: ");
  }
  if (at == std::string::npos) {
    return out;
  }
  size_t eol = out.find('\n', at);
  return out.insert(eol == std::string::npos ? out.size() : eol + 1,
                    "\tparent_type: " + type + "\n");
}

std::string add_json(std::string out, const std::string& type) {
  size_t at = out.find("\"parent\"");
  size_t close = at == std::string::npos ? at : out.find('}', at);
  if (close == std::string::npos) {
    return out;
  }
  return out.insert(close, ",\"type\":\"" + type + "\"");
}

std::string add_xml(std::string out, const std::string& type) {
  size_t at = out.find("</parent>");
  return at == std::string::npos ? out : out.insert(at, "<type>" + type + "</type>");
}

}  // namespace

int info(const Args& args, Cluster& cluster) {
  std::string out;
  int status = run_stock(args.argv, &out);
  if (status != 0) {
    std::cout << out;
    return status;
  }
  ImageSpec spec;
  std::string why;
  std::string type;
  if (parse_image_spec(args, 1, "", &spec, &why) == 0) {
    type = parent_type_of(cluster, spec);
  }
  if (!type.empty()) {
    std::string format = args.get("--format", "plain");
    out = format == "json" ? add_json(out, type)
          : format == "xml" ? add_xml(out, type)
                            : add_plain(out, type);
  }
  std::cout << out;
  return 0;
}

}  // namespace rbd_standalone::action
