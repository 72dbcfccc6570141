// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd config pool|image set|get|rm|list for the standalone-clone options
// (stock rbd refuses keys it does not know); any other key is stock's.
//   rbd config pool set POOL KEY VALUE      rbd config image set IMAGE KEY VALUE
//   rbd config pool get POOL KEY            rbd config pool rm POOL KEY
//   rbd config pool list POOL               (stock's list, then these options)

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "librbd/Utils.h"
#include "librbd/api/Config.h"
#include "tools/rbd/Utils.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace api = librbd::standalone::api;

namespace {

// The ioctx and (for image level) image id a config command addresses.
int target(const Args& args, Cluster& cluster, librados::IoCtx* io, std::string* image_id) {
  bool image_level = args.positional[1] == "image";
  if (args.positional.size() < 4) {
    return error("usage: rbd config pool|image <command> <pool|image-spec> [key [value]]");
  }
  if (image_level) {
    ImageSpec spec;
    std::string why;
    if (parse_image_spec(args, 3, "", &spec, &why) < 0) {
      return error(why);
    }
    int r = cluster.ioctx(spec.pool, spec.ns, io);
    if (r < 0) {
      return error("error opening pool " + spec.pool, r);
    }
    r = librbd::standalone::util::image_id_by_name(*io, spec.image, image_id);
    return r < 0 ? error("error opening image " + spec.image, r) : 0;
  }
  std::string pool = args.positional[3];
  std::string ns;
  if (size_t slash = pool.find('/'); slash != std::string::npos) {
    ns = pool.substr(slash + 1);
    pool = pool.substr(0, slash);
  }
  int r = cluster.ioctx(pool, ns, io);
  return r < 0 ? error("error opening pool " + pool, r) : 0;
}

int list(const Args& args, Cluster& cluster) {
  std::string out;
  int status = run_stock(args.argv, &out);
  if (status != 0) {
    std::cout << out;
    return status;
  }
  librados::IoCtx io;
  std::string image_id;
  if (int s = target(args, cluster, &io, &image_id); s != 0) {
    return s;
  }
  std::string format = args.get("--format", "plain");
  // Plain: line the added rows up with stock's table (its header line,
  // "Name  Value  Source", gives the columns; every column is padded to its
  // width).  Image level prints "There are N values:" first.
  size_t value_col = 0, source_col = 0, source_width = 0;
  bool in_table = false;
  for (size_t at = 0; format == "plain" && at < out.size();) {
    size_t eol = std::min(out.find('\n', at), out.size());
    std::string line = out.substr(at, eol - at);
    at = eol + 1;
    if (!in_table) {
      size_t v = line.find("Value"), s = line.find("Source");
      if (line.rfind("Name", 0) == 0 && v != std::string::npos && s != std::string::npos &&
          v < s) {
        in_table = true;
        value_col = v;
        source_col = s;
        source_width = line.size() - s;
      }
    } else if (line.size() > source_col) {
      source_width = std::max(source_width, line.size() - source_col);
    }
  }
  auto pad = [](std::string cell, size_t width) {
    return cell.size() + 2 <= width ? cell + std::string(width - cell.size(), ' ')
                                    : cell + "  ";
  };
  std::string extra;
  for (const auto& opt : api::options()) {
    api::Value v;
    if (api::get(io, image_id, opt.name, &v) < 0) {
      return error(librbd::standalone::util::last_error());
    }
    if (format == "json") {
      extra += ",{\"name\":\"" + std::string(opt.name) + "\",\"value\":\"" + v.value +
               "\",\"source\":\"" + api::to_string(v.source) + "\"}";
    } else if (format == "xml") {
      extra += "<option><name>" + std::string(opt.name) + "</name><value>" + v.value +
               "</value><source>" + api::to_string(v.source) + "</source></option>";
    } else if (source_col != 0) {
      std::string source = api::to_string(v.source);
      if (source.size() < source_width) {
        source += std::string(source_width - source.size(), ' ');
      }
      extra += pad(opt.name, value_col) + pad(v.value, source_col - value_col) + source + "\n";
    } else {
      extra += std::string(opt.name) + "  " + v.value + "  " + api::to_string(v.source) + "\n";
    }
  }
  if (format == "json") {
    size_t close = out.rfind(']');
    out.insert(close, out.find('{') == std::string::npos ? extra.substr(1) : extra);
  } else if (format == "xml") {
    size_t close = out.rfind("</");
    out.insert(close, extra);
  } else {
    out += extra;
    // Keep stock's "There are N values:" true (image level).
    const std::string lead = "There are ";
    if (out.rfind(lead, 0) == 0) {
      char* end = nullptr;
      unsigned long n = strtoul(out.c_str() + lead.size(), &end, 10);
      if (end != out.c_str() + lead.size()) {
        out.replace(0, end - out.c_str(),
                    lead + std::to_string(n + api::options().size()));
      }
    }
  }
  std::cout << out;
  return 0;
}

}  // namespace

int config(const Args& args, Cluster& cluster) {
  // positional: config, pool|image, set|get|rm|remove|list, target, [key, [value]]
  const std::string& cmd = args.positional[2];
  if (cmd == "list" || cmd == "ls") {
    return list(args, cluster);
  }
  if (args.positional.size() < 5 || !api::is_option(args.positional[4])) {
    exec_stock(args.argv);
  }
  const std::string& key = args.positional[4];
  librados::IoCtx io;
  std::string image_id;
  if (int s = target(args, cluster, &io, &image_id); s != 0) {
    return s;
  }
  int r = 0;
  if (cmd == "set") {
    if (args.positional.size() != 6) {
      return error("usage: rbd config " + args.positional[1] + " set <target> <key> <value>");
    }
    r = api::set(io, image_id, key, args.positional[5]);
  } else if (cmd == "get") {
    api::Value v;
    r = api::get(io, image_id, key, &v);
    if (r == 0 && v.source != (image_id.empty() ? api::Source::POOL : api::Source::IMAGE)) {
      return error(key + " is not set", -ENOENT);  // as stock get of an unset key
    }
    if (r == 0) {
      std::cout << v.value << std::endl;
    }
  } else if (cmd == "rm" || cmd == "remove") {
    r = api::remove(io, image_id, key);
  } else {
    exec_stock(args.argv);
  }
  if (r < 0) {
    const std::string& msg = librbd::standalone::util::last_error();
    return error(msg.empty() ? "config " + cmd + " " + key + " failed" : msg, r);
  }
  return 0;
}

}  // namespace rbd_standalone::action
