// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Small helpers of the standalone-clone client library: image name/id
// lookups through stock cls_rbd methods, ioctx plumbing, and the
// per-thread error message that the C API, CLI and Python report.

#ifndef LIBRBD_STANDALONE_UTILS_H
#define LIBRBD_STANDALONE_UTILS_H

#include <rados/librados.hpp>

#include <string>

namespace librbd::standalone::util {

std::string header_oid(const std::string& image_id);

// rbd_id.<name> -> id (stock `get_id`); -ENOENT if no such image.
int image_id_by_name(librados::IoCtx& ioctx, const std::string& name, std::string* id);
// rbd_directory id -> name (stock `dir_get_name`); -ENOENT if not listed.
int image_name_by_id(librados::IoCtx& ioctx, const std::string& id, std::string* name);
// The trash entry's original name; -ENOENT if the id is not in the trash.
int trash_name_by_id(librados::IoCtx& ioctx, const std::string& id, std::string* name);

// An ioctx on (pool id, namespace) of the same cluster as `any`.
int ioctx_for(librados::IoCtx& any, int64_t pool_id, const std::string& ns,
              librados::IoCtx* out);
std::string pool_name(librados::IoCtx& any, int64_t pool_id);

// "pool/[ns/]image" as the rbd CLI prints specs.
std::string image_spec(const std::string& pool, const std::string& ns,
                       const std::string& image);

// Sends the header-update notification librbd sends after changing a
// header, so clients that have the image open refresh (best effort).
void notify_header(librados::IoCtx& ioctx, const std::string& oid);

// The message for the last error of this thread's call into the library.
void set_error(const std::string& message);
const std::string& last_error();
// Sets the message and returns r, for `return fail(-EINVAL, "...")`.
int fail(int r, const std::string& message);

}  // namespace librbd::standalone::util

#endif  // LIBRBD_STANDALONE_UTILS_H
