// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Client side of the standalone-clone overlay's methods (librados).  Each
// call runs one class method on one header object and returns its errno
// (negative) or 0.

#ifndef CLS_RBD_STANDALONE_CLIENT_H
#define CLS_RBD_STANDALONE_CLIENT_H

#include <rados/librados.hpp>

#include <set>
#include <string>
#include <vector>

#include "cls/rbd/cls_rbd_types.h"

namespace cls::rbd::standalone::client {

struct OverlayInfo {
  uint32_t version = 0;
  std::string ceph_version;
  uint64_t parent_op_feature = 0;
  uint64_t parent_incompat_feature = 0;
};

// -EOPNOTSUPP when the OSD serving `oid` does not run the overlay.
int overlay_info(librados::IoCtx& ioctx, const std::string& oid, OverlayInfo* info);

int child_attach(librados::IoCtx& ioctx, const std::string& oid, uint64_t snap_id,
                 const ChildImageSpec& child);
int child_detach(librados::IoCtx& ioctx, const std::string& oid, uint64_t snap_id,
                 const ChildImageSpec& child);
int children_list(librados::IoCtx& ioctx, const std::string& oid, uint64_t snap_id,
                  std::set<ChildImageSpec>* children);
// One page of HEAD children after `start_after` (pool -1: from the start).
int standalone_children_list(librados::IoCtx& ioctx, const std::string& oid,
                             const ChildImageSpec& start_after, uint64_t max,
                             std::vector<ChildImageSpec>* children, bool* more);
// The number of HEAD children (-EOPNOTSUPP from an overlay older than v2).
int standalone_children_count(librados::IoCtx& ioctx, const std::string& oid,
                              uint64_t* count);

int standalone_parent_attach(librados::IoCtx& ioctx, const std::string& oid,
                             const ParentImageSpec& parent, uint64_t overlap);
int standalone_parent_detach(librados::IoCtx& ioctx, const std::string& oid,
                             const ParentImageSpec& parent);

int get_features(librados::IoCtx& ioctx, const std::string& oid, bool read_only,
                 uint64_t* features, uint64_t* incompatible);

// Runs any `rbd` class method with raw payloads.
int exec(librados::IoCtx& ioctx, const std::string& oid, const char* method,
         const std::string& in, std::string* out);
// Runs a stock method whose reply is one encoded string (get_id,
// dir_get_name, metadata_get, ...); -EBADMSG if it is not.
int exec_string(librados::IoCtx& ioctx, const std::string& oid, const char* method,
                const std::string& in, std::string* value);

}  // namespace cls::rbd::standalone::client

#endif  // CLS_RBD_STANDALONE_CLIENT_H
