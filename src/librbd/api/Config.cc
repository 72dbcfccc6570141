// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/api/Config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

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
      {"rbd_standalone_clone_enabled", OptionDefinition::BOOL, "true",
       "allow creating standalone (parentless) clones"},
      {"rbd_standalone_clone_require_object_map", OptionDefinition::BOOL, "true",
       "refuse standalone clones whose child lacks the object-map feature"},
      {"rbd_standalone_clone_auto_flatten_threshold", OptionDefinition::FRACTION, "0",
       "the ceph-mgr module flattens a child once this fraction of its parent's "
       "objects is copied up (0: never)"},
  };
  return defs;
}

namespace {

const OptionDefinition* find_option(const std::string& name) {
  for (const auto& o : options()) {
    if (name == o.name) {
      return &o;
    }
  }
  return nullptr;
}

// "0.5" or "50%" -> "0.5"; false unless within [0, 1].
bool normalize_fraction(const std::string& value, std::string* out) {
  std::string v = value;
  double scale = 1;
  if (!v.empty() && v.back() == '%') {
    v.pop_back();
    scale = 100;
  }
  char* end = nullptr;
  double f = v.empty() ? -1 : strtod(v.c_str(), &end) / scale;
  if (end == nullptr || *end != '\0' || !(f >= 0 && f <= 1)) {
    return false;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%g", f);
  *out = buf;
  return true;
}

}  // namespace

bool is_option(const std::string& name) { return find_option(name) != nullptr; }

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
  case Source::POOL: return "pool";
  case Source::IMAGE: return "image";
  default: return "default";
  }
}

int get(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
        Value* value) {
  const OptionDefinition* def = find_option(name);
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
  value->value = def->default_value;
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
  const OptionDefinition* def = find_option(name);
  if (def == nullptr) {
    return util::fail(-EINVAL, "unknown standalone-clone option: " + name);
  }
  std::string stored;
  bool b = false;
  if (def->type == OptionDefinition::BOOL) {
    if (parse_bool(value, &b) < 0) {
      return util::fail(-EINVAL, "invalid value '" + value + "' for " + name +
                                     ": use true or false");
    }
    stored = b ? "true" : "false";
  } else if (!normalize_fraction(value, &stored)) {
    return util::fail(-EINVAL, "invalid value '" + value + "' for " + name +
                                   ": use a fraction from 0 to 1, or a percentage (50%)");
  }
  // metadata_set input: map<string, bufferlist>.
  Encoder e;
  e.u32(1);
  e.str(CONF_PREFIX + name);
  e.str(stored);
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
