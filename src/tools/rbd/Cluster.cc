// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "tools/rbd/Cluster.h"

#include <cerrno>

#include "tools/rbd/Shell.h"

namespace rbd_standalone {

namespace {

// Takes "--opt VALUE" / "--opt=VALUE" (any of `names`) out of `arguments`;
// the last one given wins.
std::string take_option(std::vector<std::string>* arguments,
                        std::initializer_list<const char*> names) {
  std::string value;
  for (size_t i = 0; i < arguments->size();) {
    const std::string& word = (*arguments)[i];
    if (word == "--") {
      break;
    }
    bool taken = false;
    for (const char* name : names) {
      std::string n(name);
      if (word == n && i + 1 < arguments->size()) {
        value = (*arguments)[i + 1];
        arguments->erase(arguments->begin() + i, arguments->begin() + i + 2);
        taken = true;
      } else if (word.rfind(n + "=", 0) == 0 && n.rfind("--", 0) == 0) {
        value = word.substr(n.size() + 1);
        arguments->erase(arguments->begin() + i);
        taken = true;
      }
      if (taken) {
        break;
      }
    }
    if (!taken) {
      ++i;
    }
  }
  return value;
}

}  // namespace

int Cluster::init(std::vector<std::string>* arguments) {
  std::string conf = take_option(arguments, {"--conf", "-c"});
  std::string cluster = take_option(arguments, {"--cluster"});
  std::string id = take_option(arguments, {"--id", "--user", "-i"});
  std::string name = take_option(arguments, {"--name", "-n"});
  if (name.empty()) {
    name = "client." + (id.empty() ? std::string("admin") : id);
  }
  int r = m_rados.init2(name.c_str(), cluster.empty() ? "ceph" : cluster.c_str(), 0);
  if (r < 0) {
    return r;
  }
  r = m_rados.conf_read_file(conf.empty() ? nullptr : conf.c_str());
  if (r < 0 && !conf.empty()) {
    return r;
  }
  m_rados.conf_parse_env(nullptr);
  // Every Ceph option (--mon_host/-m, --keyring/-k, --keyfile/-K,
  // --rbd_default_pool, --debug_rbd ...) configures the handle, as
  // global_init does for stock rbd; the rest belongs to the command.
  std::vector<const char*> argv{"rbd"};
  for (const auto& a : *arguments) {
    argv.push_back(a.c_str());
  }
  std::vector<const char*> rest(argv.size(), nullptr);
  r = m_rados.conf_parse_argv_remainder(argv.size(), argv.data(), rest.data());
  if (r < 0) {
    return r;
  }
  std::vector<std::string> left;
  for (size_t i = 1; i < rest.size() && rest[i] != nullptr; ++i) {
    left.emplace_back(rest[i]);
  }
  *arguments = left;
  // As stock rbd: a command-line tool flushes when it is done, so its
  // images need not start in writethrough mode.
  m_rados.conf_set("rbd_cache_writethrough_until_flush", "false");
  return 0;
}

int Cluster::connect() { return m_rados.connect(); }

int Cluster::ioctx(const std::string& pool, const std::string& ns, librados::IoCtx* io) {
  int r = m_rados.ioctx_create(pool.c_str(), *io);
  if (r < 0) {
    return r;
  }
  io->set_namespace(ns);
  return 0;
}

std::string Cluster::default_pool() {
  std::string pool;
  if (m_rados.conf_get("rbd_default_pool", pool) < 0 || pool.empty()) {
    pool = "rbd";
  }
  return pool;
}

std::string ImageSpec::str() const {
  return pool + "/" + (ns.empty() ? "" : ns + "/") + image + (has_snap ? "@" + snap : "");
}

int parse_image_spec(const Args& args, size_t index, const std::string& prefix,
                     ImageSpec* spec, std::string* error) {
  std::string text = index < args.positional.size() ? args.positional[index] : "";
  spec->pool = args.get("--" + prefix + (prefix.empty() ? "pool" : "-pool"));
  spec->ns = args.get("--" + prefix + (prefix.empty() ? "namespace" : "-namespace"));
  spec->image = args.get(prefix.empty() ? "--image" : "--" + prefix);
  if (prefix.empty() && args.has("--snap")) {
    spec->snap = args.get("--snap");
    spec->has_snap = true;
  }
  if (!text.empty()) {
    size_t at = text.find('@');
    if (at != std::string::npos) {
      spec->snap = text.substr(at + 1);
      spec->has_snap = true;
      text = text.substr(0, at);
    }
    size_t first = text.find('/');
    size_t last = text.rfind('/');
    if (first == std::string::npos) {
      spec->image = text;
    } else {
      spec->pool = text.substr(0, first);
      spec->ns = first == last ? "" : text.substr(first + 1, last - first - 1);
      spec->image = text.substr(last + 1);
    }
  }
  if (spec->pool.empty()) {
    spec->pool = args.default_pool;
  }
  if (spec->image.empty()) {
    *error = prefix.empty() ? "image name was not specified"
                            : "destination image name was not specified";
    return -EINVAL;
  }
  return 0;
}

}  // namespace rbd_standalone
