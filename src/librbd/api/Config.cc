// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/api/Config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "cls/rbd/cls_rbd_client.h"
#include "cls/rbd/cls_rbd_types.h"
#include "librbd/Utils.h"

namespace librbd::standalone::api {

using cls::rbd::standalone::Decoder;
using cls::rbd::standalone::DecodeError;
using cls::rbd::standalone::Encoder;
namespace cl = cls::rbd::standalone::client;

namespace {

constexpr const char* POOL_METADATA_OID = "rbd_info";
constexpr const char* CONF_PREFIX = "conf_";
std::string g_config_file;
std::string g_client_name = "client.admin";

// Ceph treats ' ', '-' and '_' in option names alike.
std::string normalize(std::string key) {
  std::replace(key.begin(), key.end(), ' ', '_');
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string config_file_path() {
  if (!g_config_file.empty()) {
    return g_config_file;
  }
  const char* env = getenv("CEPH_CONF");
  if (env != nullptr && *env != '\0') {
    return env;
  }
  const char* home = getenv("HOME");
  for (std::string p : {std::string("/etc/ceph/ceph.conf"),
                        home ? std::string(home) + "/.ceph/ceph.conf" : std::string(),
                        std::string("ceph.conf")}) {
    if (!p.empty() && access(p.c_str(), R_OK) == 0) {
      return p;
    }
  }
  return {};
}

// The value of `name` from the client's ceph.conf, most specific section
// first.
bool from_config_file(const std::string& name, std::string* value) {
  std::ifstream f(config_file_path());
  if (!f) {
    return false;
  }
  std::map<std::string, std::string> by_section;  // section -> value
  std::string section, line;
  while (std::getline(f, line)) {
    line = trim(line.substr(0, line.find_first_of("#;")));
    if (line.empty()) {
      continue;
    }
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (eq != std::string::npos && normalize(trim(line.substr(0, eq))) == name) {
      by_section[section] = trim(line.substr(eq + 1));
    }
  }
  for (const std::string& s : {g_client_name, std::string("client"), std::string("global")}) {
    auto it = by_section.find(s);
    if (it != by_section.end()) {
      *value = it->second;
      return true;
    }
  }
  return false;
}

int metadata_get(librados::IoCtx& ioctx, const std::string& oid, const std::string& key,
                 std::string* value) {
  Encoder e;
  e.str(key);
  return cl::exec_string(ioctx, oid, "metadata_get", e.bytes(), value);
}

std::string metadata_oid(const std::string& image_id) {
  return image_id.empty() ? POOL_METADATA_OID : util::header_oid(image_id);
}

// Where a metadata object lives: an image's header in the image's
// namespace; the pool's rbd_info always in the default namespace, where
// the stock librbd keeps (and reads, for images of every namespace) pool
// settings.
librados::IoCtx metadata_ioctx(librados::IoCtx& ioctx, const std::string& image_id) {
  librados::IoCtx io;
  io.dup(ioctx);
  if (image_id.empty()) {
    io.set_namespace("");
  }
  return io;
}

}  // namespace

const std::vector<OptionDefinition>& options() {
  static const std::vector<OptionDefinition> defs{
      {"rbd_standalone_clone_enabled", true,
       "allow creating standalone (parentless) clones"},
      {"rbd_standalone_clone_require_object_map", true,
       "refuse standalone clones whose child lacks the object-map feature"},
  };
  return defs;
}

bool is_option(const std::string& name) {
  for (const auto& o : options()) {
    if (name == o.name) {
      return true;
    }
  }
  return false;
}

int parse_bool(const std::string& value, bool* out) {
  std::string v = value;
  std::transform(v.begin(), v.end(), v.begin(), ::tolower);
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "no" || v == "off") {
    *out = false;
  } else {
    return -EINVAL;
  }
  return 0;
}

const char* to_string(Source source) {
  switch (source) {
  case Source::CONFIG_FILE: return "config";
  case Source::POOL: return "pool";
  case Source::IMAGE: return "image";
  default: return "default";
  }
}

void set_config_file(const std::string& path) { g_config_file = path; }
void set_client_name(const std::string& name) { g_client_name = name; }

int get(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
        Value* value) {
  const OptionDefinition* def = nullptr;
  for (const auto& o : options()) {
    if (name == o.name) {
      def = &o;
    }
  }
  if (def == nullptr) {
    return util::fail(-EINVAL, "unknown standalone-clone option: " + name);
  }
  std::string key = CONF_PREFIX + name;
  if (!image_id.empty()) {
    int r = metadata_get(ioctx, util::header_oid(image_id), key, &value->value);
    if (r == 0) {
      value->source = Source::IMAGE;
      return 0;
    } else if (r != -ENOENT) {
      return r;
    }
  }
  librados::IoCtx pool_ioctx = metadata_ioctx(ioctx, "");
  int r = metadata_get(pool_ioctx, POOL_METADATA_OID, key, &value->value);
  if (r == 0) {
    value->source = Source::POOL;
    return 0;
  } else if (r != -ENOENT) {
    return r;
  }
  if (from_config_file(name, &value->value)) {
    value->source = Source::CONFIG_FILE;
    return 0;
  }
  value->value = def->default_value ? "true" : "false";
  value->source = Source::DEFAULT;
  return 0;
}

int get_bool(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
             bool* out) {
  Value v;
  int r = get(ioctx, image_id, name, &v);
  if (r < 0) {
    return r;
  }
  if (parse_bool(v.value, out) < 0) {
    return util::fail(-EINVAL, "invalid value '" + v.value + "' for " + name + " (" +
                                   to_string(v.source) + " setting): use true or false");
  }
  return 0;
}

int set(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
        const std::string& value) {
  bool b = false;
  if (!is_option(name)) {
    return util::fail(-EINVAL, "unknown standalone-clone option: " + name);
  }
  if (parse_bool(value, &b) < 0) {
    return util::fail(-EINVAL, "invalid value '" + value + "' for " + name +
                                   ": use true or false");
  }
  // metadata_set input: map<string, bufferlist>.
  Encoder e;
  e.u32(1);
  e.str(CONF_PREFIX + name);
  e.str(b ? "true" : "false");
  librados::IoCtx io = metadata_ioctx(ioctx, image_id);
  return cl::exec(io, metadata_oid(image_id), "metadata_set", e.bytes(), nullptr);
}

int remove(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name) {
  if (!is_option(name)) {
    return util::fail(-EINVAL, "unknown standalone-clone option: " + name);
  }
  Encoder e;
  e.str(CONF_PREFIX + name);
  librados::IoCtx io = metadata_ioctx(ioctx, image_id);
  return cl::exec(io, metadata_oid(image_id), "metadata_remove", e.bytes(), nullptr);
}

}  // namespace librbd::standalone::api
