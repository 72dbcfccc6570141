// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The standalone-clone options.  Stock librbd refuses config keys it does
// not know (`rbd config pool set` and metadata "conf_*" give EINVAL), so
// this library resolves its own options, with librbd's precedence:
//   image metadata conf_<opt>  >  pool metadata conf_<opt>  >  default.
// Pool and image values are stored exactly where librbd stores its own
// (metadata_* keys of the pool's rbd_info object / the image header), so
// every client sees the same value.  ceph.conf is not a level: librados
// drops keys it does not know, and a handle cannot tell which file it
// read, so a file the library read itself could differ from the one the
// application's handle was built with.

#ifndef LIBRBD_STANDALONE_API_CONFIG_H
#define LIBRBD_STANDALONE_API_CONFIG_H

#include <rados/librados.hpp>

#include <map>
#include <string>
#include <vector>

namespace librbd::standalone::api {

struct OptionDefinition {
  enum Type { BOOL, FRACTION };  // FRACTION: 0..1, or N% when set
  const char* name;
  Type type;
  const char* default_value;
  const char* description;
};

// rbd_standalone_clone_enabled (default true: deploying the overlay is the
// opt-in), rbd_standalone_clone_require_object_map (default true), and
// rbd_standalone_clone_auto_flatten_threshold (default 0, off), which the
// ceph-mgr module acts on.
const std::vector<OptionDefinition>& options();
bool is_option(const std::string& name);

// Accepts true/false/1/0/yes/no/on/off; -EINVAL otherwise.
int parse_bool(const std::string& value, bool* out);

enum class Source { DEFAULT, POOL, IMAGE };
const char* to_string(Source source);

struct Value {
  std::string value;
  Source source = Source::DEFAULT;
};

// The effective value for a pool (and, when image_id is not empty, an image).
int get(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
        Value* value);
int get_bool(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
             bool* value);

// Pool level (image_id empty) or image level settings; values are checked
// and stored normalised ("true"/"false", a fraction as "0.5").
int set(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
        const std::string& value);
int remove(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name);

}  // namespace librbd::standalone::api

#endif  // LIBRBD_STANDALONE_API_CONFIG_H
