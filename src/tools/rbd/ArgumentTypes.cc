// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Option names and help texts are stock rbd 16.2's, so that scripts and
// users see the same interface; the texts were checked against `rbd help`.

#include "tools/rbd/ArgumentTypes.h"

#include <cstdlib>
#include <map>

#include "tools/rbd/Utils.h"

namespace rbd_standalone::at {

namespace {

std::string prefixed(Modifier m, const std::string& source_name, const std::string& dest_name) {
  return m == Modifier::DEST ? dest_name : source_name;
}

std::string described(Modifier m, const std::string& what) {
  switch (m) {
    case Modifier::SOURCE: return "source " + what;
    case Modifier::DEST: return "destination " + what;
    default: return what;
  }
}

const char* IMAGE_SPEC_EXAMPLE = "\n(example: [<pool-name>/[<namespace>/]]<image-name>)";

bool is_number(const std::string& v) {
  return !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
}

bool is_bytes(const std::string& v) {
  uint64_t bytes = 0;
  return parse_bytes(v, &bytes) == 0;
}

bool in_range(const std::string& v, uint64_t lo, uint64_t hi) {
  return is_number(v) && v.size() < 19 && strtoull(v.c_str(), nullptr, 10) >= lo &&
         strtoull(v.c_str(), nullptr, 10) <= hi;
}

}  // namespace

const char* IMAGE_FEATURES_HELP =
    "Image Features:\n"
    "  (*) supports enabling/disabling on existing images\n"
    "  (-) supports disabling-only on existing images\n"
    "  (+) enabled by default for new images if features not specified\n";

void add_pool_option(po::options_description* opts, Modifier m) {
  std::string name = prefixed(m, "pool,p", "dest-pool");
  opts->add_options()(name.c_str(), po::value<std::string>(),
                      described(m, "pool name").c_str());
}

void add_namespace_option(po::options_description* opts, Modifier m) {
  std::string name = prefixed(m, "namespace", "dest-namespace");
  opts->add_options()(name.c_str(), po::value<std::string>(),
                      described(m, "namespace name").c_str());
}

void add_image_option(po::options_description* opts, Modifier m) {
  std::string name = prefixed(m, "image", "dest");
  opts->add_options()(name.c_str(), po::value<std::string>(),
                      described(m, "image name").c_str());
}

void add_snap_option(po::options_description* opts, Modifier m) {
  std::string name = prefixed(m, "snap", "dest-snap");
  opts->add_options()(name.c_str(), po::value<std::string>(),
                      described(m, "snapshot name").c_str());
}

void add_image_id_option(po::options_description* opts) {
  opts->add_options()("image-id", po::value<std::string>(), "image id");
}

void add_snap_id_option(po::options_description* opts) {
  opts->add_options()("snap-id", po::value<std::string>(), "snapshot id");
}

void add_image_spec_options(po::options_description* opts, Modifier m, bool snap) {
  add_pool_option(opts, m);
  add_namespace_option(opts, m);
  add_image_option(opts, m);
  if (snap) {
    add_snap_option(opts, m);
  }
}

void add_format_options(po::options_description* opts) {
  opts->add_options()("format", po::value<std::string>(),
                      "output format (plain, json, or xml) [default: plain]")(
      "pretty-format", po::bool_switch(), "pretty formatting (json and xml)");
}

void add_no_progress_option(po::options_description* opts) {
  opts->add_options()("no-progress", po::bool_switch(), "disable progress output");
}

void add_create_image_options(po::options_description* opts, bool journal) {
  opts->add_options()("order", po::value<std::string>(),
                      "object order [12 <= order <= 25] (deprecated: use --object-size)")(
      "object-size", po::value<std::string>(),
      "object size in B/K/M [4K <= object size <= 32M]")(
      "image-feature", po::value<std::vector<std::string>>()->composing(),
      "image features\n[layering(+), exclusive-lock(+*), object-map(+*), "
      "deep-flatten(+-), journaling(*)]")("image-shared", po::bool_switch(), "shared image")(
      "stripe-unit", po::value<std::string>(), "stripe unit in B/K/M")(
      "stripe-count", po::value<std::string>(), "stripe count")(
      "data-pool", po::value<std::string>(), "data pool");
  if (journal) {
    opts->add_options()("mirror-image-mode", po::value<std::string>(),
                        "mirror image mode [journal or snapshot]")(
        "journal-splay-width", po::value<std::string>(), "number of active journal objects")(
        "journal-object-size", po::value<std::string>(),
        "size of journal objects [4K <= size <= 64M]")(
        "journal-pool", po::value<std::string>(), "pool for journal objects");
  }
}

void add_image_spec_positional(po::options_description* pos, Modifier m) {
  std::string name = m == Modifier::SOURCE ? "source-image-spec"
                     : m == Modifier::DEST ? "dest-image-spec"
                                           : "image-spec";
  pos->add_options()(name.c_str(),
                     (described(m, "image specification") + IMAGE_SPEC_EXAMPLE).c_str());
}

void add_image_or_snap_spec_positional(po::options_description* pos, Modifier m) {
  std::string name = m == Modifier::SOURCE ? "source-image-or-snap-spec" : "image-or-snap-spec";
  pos->add_options()(name.c_str(),
                     (described(m, "image or snapshot specification") +
                      "\n(example: [<pool-name>/[<namespace>/]]<image-name>[@<snap-name>])")
                         .c_str());
}

void add_pool_spec_positional(po::options_description* pos) {
  pos->add_options()("pool-spec",
                     "pool specification\n(example: <pool-name>[/<namespace>]");
}

void add_global_options(po::options_description* opts) {
  opts->add_options()("conf,c", po::value<std::string>(), "path to cluster configuration")(
      "cluster", po::value<std::string>(), "cluster name")(
      "id", po::value<std::string>(), "client id (without 'client.' prefix)")(
      "user", po::value<std::string>(), "client id (without 'client.' prefix) (deprecated)")(
      "name,n", po::value<std::string>(), "client name")(
      "mon_host,m", po::value<std::string>(), "monitor host")(
      "secret", po::value<std::string>(), "path to secret key (deprecated)")(
      "keyfile,K", po::value<std::string>(), "path to secret key")(
      "keyring,k", po::value<std::string>(), "path to keyring");
}

bool valid_value(const std::string& name, const std::string& value) {
  static const std::map<std::string, bool (*)(const std::string&)> checks{
      {"order", [](const std::string& v) { return in_range(v, 12, 25); }},
      {"object-size", is_bytes},
      {"stripe-unit", is_bytes},
      {"stripe-count", [](const std::string& v) { return in_range(v, 1, UINT32_MAX); }},
      {"journal-object-size", is_bytes},
      {"journal-splay-width", is_number},
      {"snap-id", is_number},
      {"format",
       [](const std::string& v) { return v == "plain" || v == "json" || v == "xml"; }},
      {"image-feature",
       [](const std::string& v) {
         uint64_t features = 0;
         std::string bad;
         return parse_features({v}, &features, &bad) == 0;
       }},
      {"mirror-image-mode",
       [](const std::string& v) { return v == "journal" || v == "snapshot"; }},
  };
  auto it = checks.find(name);
  return it == checks.end() || it->second(value);
}

}  // namespace rbd_standalone::at
