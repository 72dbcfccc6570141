// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd info: the stock output, unchanged, plus the parent's type where the
// image has a parent: a "parent_type:" line after "overlap:" (plain), a
// "type" member of "parent" (json), a <type> element of <parent> (xml).

#include <rbd/librbd.hpp>

#include <iostream>

#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
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

// Adds "type" as the last member of the top-level "parent" object.  The
// JSON is scanned (strings skipped), so names with braces or quotes, and
// --pretty-format, keep it valid.
std::string add_json(std::string out, const std::string& type) {
  int depth = 0;
  bool in_string = false, escaped = false;
  size_t key_start = std::string::npos;  // '"' of the last top-level string
  size_t parent_open = std::string::npos;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
        if (depth == 1 && parent_open == std::string::npos &&
            out.compare(key_start, i + 1 - key_start, "\"parent\"") == 0) {
          size_t colon = out.find_first_not_of(" \t\r\n", i + 1);
          size_t brace = colon == std::string::npos
                             ? colon
                             : out.find_first_not_of(" \t\r\n", colon + 1);
          if (colon != std::string::npos && out[colon] == ':' &&
              brace != std::string::npos && out[brace] == '{') {
            parent_open = brace;
          }
        }
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      key_start = i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
      if (c == '}' && depth == 1 && parent_open != std::string::npos && i > parent_open) {
        size_t end = out.find_last_not_of(" \t\r\n", i - 1) + 1;  // after the last value
        bool empty = end == parent_open + 1;
        if (out.find('\n', parent_open) < i) {  // --pretty-format: one member a line
          size_t bol = out.rfind('\n', i - 1) + 1;
          std::string indent = out.substr(bol, out.find_first_not_of(" \t", bol) - bol);
          return out.insert(end, std::string(empty ? "" : ",") + "\n" + indent + "    \"type\": \"" +
                                     type + "\"");
        }
        return out.insert(end, std::string(empty ? "" : ",") + "\"type\":\"" + type + "\"");
      }
    }
  }
  return out;
}

// Adds <type> as the last element of <parent>, indented one deeper than
// </parent> when --pretty-format put that on a line of its own.
std::string add_xml(std::string out, const std::string& type) {
  size_t at = out.find("</parent>");
  if (at == std::string::npos) {
    return out;
  }
  size_t bol = out.rfind('\n', at);
  if (bol != std::string::npos && out.find_first_not_of(' ', bol + 1) == at) {
    std::string indent(at - bol, ' ');
    return out.insert(bol + 1, indent + "<type>" + type + "</type>\n");
  }
  return out.insert(at, "<type>" + type + "</type>");
}

int execute(const Args& args, Cluster& cluster) {
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

void get_arguments(po::options_description* positional, po::options_description* options) {
  at::add_image_or_snap_spec_positional(positional, at::Modifier::NONE);
  at::add_image_spec_options(options, at::Modifier::NONE, true);
  at::add_image_id_option(options);
  at::add_format_options(options);
}

Shell::Action action({"info"}, {}, "Show information about image size, striping, etc.", "",
                     get_arguments, execute);

}  // namespace

}  // namespace rbd_standalone::action
