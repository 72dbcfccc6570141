// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The standalone-clone options.  Stock librbd refuses config keys it does
// not know (`rbd config pool set` and metadata "conf_*" give EINVAL) and
// librados drops unknown ceph.conf keys, so this library resolves its own
// options, with librbd's precedence:
//   image metadata conf_<opt>  >  pool metadata conf_<opt>  >
//   ceph.conf [client.<id>] > [client] > [global]  >  default.
// Pool and image values are stored exactly where librbd stores its own
// (metadata_* keys of the pool's rbd_info object / the image header).

#ifndef LIBRBD_STANDALONE_API_CONFIG_H
#define LIBRBD_STANDALONE_API_CONFIG_H

#include <rados/librados.hpp>

#include <map>
#include <string>
#include <vector>

namespace librbd::standalone::api {

struct OptionDefinition {
  const char* name;
  bool default_value;
  const char* description;
};

// rbd_standalone_clone_enabled (default true: deploying the overlay is the
// opt-in), rbd_standalone_clone_require_object_map (default true).
const std::vector<OptionDefinition>& options();
bool is_option(const std::string& name);

// Accepts true/false/1/0/yes/no/on/off; -EINVAL otherwise.
int parse_bool(const std::string& value, bool* out);

enum class Source { DEFAULT, CONFIG_FILE, POOL, IMAGE };
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

// Pool level (image_id empty) or image level settings.
int set(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name,
        const std::string& value);
int remove(librados::IoCtx& ioctx, const std::string& image_id, const std::string& name);

// The config file the client reads: -c/--conf if the caller set one,
// else $CEPH_CONF, else Ceph's default search list.
void set_config_file(const std::string& path);
// The client's name, for its [client.<id>] section (librados cannot tell
// it); default "client.admin", librados' own default.
void set_client_name(const std::string& name);

}  // namespace librbd::standalone::api

#endif  // LIBRBD_STANDALONE_API_CONFIG_H
