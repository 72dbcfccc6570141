// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd config pool|image set|get|rm|list for the standalone-clone options
// (stock rbd refuses keys it does not know); any other key is stock's.
//   rbd config pool set POOL KEY VALUE      rbd config image set IMAGE KEY VALUE
//   rbd config pool get POOL KEY            rbd config pool rm POOL KEY
//   rbd config pool list POOL               (stock's list, then these options)
// Stock `config image list|get` open the image read-write, which the overlay
// refuses while it has standalone children: for such a parent the same
// output is made here from a read-only open.

#include <rbd/librbd.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "librbd/Utils.h"
#include "librbd/api/Config.h"
#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
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
      return usage_error(why);
    }
    int r = cluster.ioctx(spec.pool, spec.ns, io);
    if (r < 0) {
      return error("error opening pool '" + spec.pool + "'", r);
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
  return r < 0 ? error("error opening pool '" + pool + "'", r) : 0;
}

// Opens the image of `config image ...` read-only if it is a parent with
// standalone children; false otherwise (stock then does the command, and
// reports a bad spec or a missing image itself).
bool open_standalone_parent(const Args& args, Cluster& cluster, size_t positionals,
                            librbd::Image* image) {
  ImageSpec spec;
  std::string why;
  librados::IoCtx io;
  uint64_t children = 0;
  std::string format = args.get("--format", "plain");
  // Only what list_as_stock/get_as_stock reproduce byte for byte; anything
  // else (other formats, --pretty-format, extra arguments) is stock's to
  // answer or refuse.
  if (args.positional[1] != "image" || args.positional.size() > positionals ||
      (format != "plain" && format != "json" && format != "xml") ||
      args.has("--pretty-format") ||
      parse_image_spec(args, 3, "", &spec, &why) < 0 || spec.has_snap ||
      cluster.ioctx(spec.pool, spec.ns, &io) < 0 ||
      librbd::standalone::count_children(io, spec.image, &children) < 0 || children == 0) {
    return false;
  }
  librbd::RBD rbd;
  return rbd.open_read_only(io, *image, spec.image.c_str(), nullptr) == 0;
}

// What stock `rbd config image list` prints, from the read-only `image`.
int list_as_stock(librbd::Image& image, const std::string& format, std::string* out) {
  std::vector<librbd::config_option_t> options;
  int r = image.config_list(&options);
  if (r < 0) {
    return error("failed to list config", r);
  }
  auto source = [](const librbd::config_option_t& o) {
    return std::string(o.source == RBD_CONFIG_SOURCE_IMAGE  ? "image"
                       : o.source == RBD_CONFIG_SOURCE_POOL ? "pool"
                                                            : "config");
  };
  if (format == "json" || format == "xml") {
    bool xml = format == "xml";
    *out = xml ? "<config>" : "[";
    for (size_t i = 0; i < options.size(); ++i) {
      const auto& o = options[i];
      *out += xml ? "<option><name>" + xml_escape(o.name) + "</name><value>" +
                        xml_escape(o.value) + "</value><source>" + source(o) +
                        "</source></option>"
                  : std::string(i ? "," : "") + "{\"name\":\"" + json_escape(o.name) +
                        "\",\"value\":\"" + json_escape(o.value) + "\",\"source\":\"" +
                        source(o) + "\"}";
    }
    *out += xml ? "</config>\n" : "]\n";
    return 0;
  }
  // Stock's table: every cell padded to its column's width, columns two
  // spaces apart.
  std::vector<std::vector<std::string>> rows{{"Name", "Value", "Source"}};
  for (const auto& o : options) {
    rows.push_back({o.name, o.value, source(o)});
  }
  size_t widths[3] = {0, 0, 0};
  for (const auto& row : rows) {
    for (size_t c = 0; c < 3; ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  *out = "There are " + std::to_string(options.size()) + " values:\n";
  for (const auto& row : rows) {
    for (size_t c = 0; c < 3; ++c) {
      *out += row[c] + std::string(widths[c] - row[c].size(), ' ') + (c < 2 ? "  " : "\n");
    }
  }
  return 0;
}

// Stock `rbd config image get` of a stock key, from the read-only `image`.
// The key checks are stock's: an rbd_ option this client knows.
int get_as_stock(librados::Rados& rados, librbd::Image& image, const std::string& key) {
  std::string value;
  if (key.rfind("rbd_", 0) != 0) {
    error("not rbd option: " + key);  // stock's words, exit status EINVAL
    return EINVAL;
  }
  if (rados.conf_get(key.c_str(), value) < 0) {
    error("invalid config key: " + key);
    return EINVAL;
  }
  int r = image.metadata_get("conf_" + key, &value);
  if (r == -ENOENT) {
    error(key + " is not set");
    return ENOENT;
  } else if (r < 0) {
    return error("failed to get " + key, r);
  }
  std::cout << value << std::endl;
  return 0;
}

int list(const Args& args, Cluster& cluster) {
  std::string out;
  librbd::Image parent;
  int status = open_standalone_parent(args, cluster, 4, &parent)
                   ? list_as_stock(parent, args.get("--format", "plain"), &out)
                   : run_stock(args.argv, &out);
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

int execute(const Args& args, Cluster& cluster) {
  // positional: config, pool|image, set|get|rm|remove|list, target, [key, [value]]
  const std::string& cmd = args.positional[2];
  if (cmd == "list" || cmd == "ls") {
    return list(args, cluster);
  }
  if (args.positional.size() < 5 || !api::is_option(args.positional[4])) {
    librbd::Image parent;
    if (cmd == "get" && args.positional.size() == 5 &&
        open_standalone_parent(args, cluster, 5, &parent)) {
      return get_as_stock(cluster.rados(), parent, args.positional[4]);
    }
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
      error(key + " is not set");  // stock's words and exit status for an unset key
      return ENOENT;
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

// Stock's arguments of `config pool|image <command>`.
Shell::GetArguments arguments_of(bool image, size_t words, bool list) {
  return [=](po::options_description* positional, po::options_description* options) {
    if (image) {
      at::add_image_spec_positional(positional, at::Modifier::NONE);
      at::add_image_spec_options(options, at::Modifier::NONE);
    } else {
      positional->add_options()("pool-name", "pool name");
    }
    if (words > 1) {
      positional->add_options()("key", "config key");
    }
    if (words > 2) {
      positional->add_options()("value", "config value");
    }
    if (list) {
      at::add_format_options(options);
    }
  };
}

// One of `config pool|image get|set|remove|list` (a prvalue: it registers
// itself where it is stored).
Shell::Action config_action(const std::string& level, const std::string& verb,
                            const std::string& alias, const std::string& description,
                            size_t words) {
  return Shell::Action({"config", level, verb},
                       alias.empty() ? std::vector<std::string>{}
                                     : std::vector<std::string>{"config", level, alias},
                       description, "", arguments_of(level == "image", words, verb == "list"),
                       execute);
}

// The standalone-clone keys are served here, every other key by stock rbd
// (except where a standalone parent needs a read-only open).
Shell::Action actions[] = {
    config_action("pool", "get", "", "Get a pool-level configuration override.", 2),
    config_action("pool", "set", "", "Set a pool-level configuration override.", 3),
    config_action("pool", "remove", "rm", "Remove a pool-level configuration override.", 2),
    config_action("pool", "list", "ls", "List pool-level configuration overrides.", 1),
    config_action("image", "get", "", "Get an image-level configuration override.", 2),
    config_action("image", "set", "", "Set an image-level configuration override.", 3),
    config_action("image", "remove", "rm", "Remove an image-level configuration override.", 2),
    config_action("image", "list", "ls", "List image-level configuration overrides.", 1),
};

}  // namespace

}  // namespace rbd_standalone::action
