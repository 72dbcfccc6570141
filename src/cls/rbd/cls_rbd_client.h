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
                             std::vector<HeadChildEntry>* children, bool* more);
// Registers a HEAD child, raising the fence if it is not up.
int standalone_child_attach(librados::IoCtx& ioctx, const std::string& oid,
                            const ChildImageSpec& child);
int standalone_child_remove(librados::IoCtx& ioctx, const std::string& oid,
                            const ChildImageSpec& child);

struct FenceStatus {
  bool marker = false;
  bool non_primary = false;
  uint8_t lock = 0;  // 0 free, 1 the fence's, 2 another client's
  std::string lock_owner;
  bool has_children = false;
  std::string raised_for;  // overlay v3 with (2,1) status; else ""
  bool complete() const { return marker && non_primary && lock == 1; }
};
int standalone_fence_status(librados::IoCtx& ioctx, const std::string& oid,
                            FenceStatus* status);
int standalone_fence_repair(librados::IoCtx& ioctx, const std::string& oid);
// The number of HEAD children (-EOPNOTSUPP from an overlay older than v2).
int standalone_children_count(librados::IoCtx& ioctx, const std::string& oid,
                              uint64_t* count);

int standalone_parent_attach(librados::IoCtx& ioctx, const std::string& oid,
                             const ParentImageSpec& parent, uint64_t overlap);
int standalone_parent_detach(librados::IoCtx& ioctx, const std::string& oid,
                             const ParentImageSpec& parent);
int standalone_parent_prepare(librados::IoCtx& ioctx, const std::string& oid,
                              const ParentImageSpec& parent, uint64_t timeout_seconds);
int standalone_parent_abort(librados::IoCtx& ioctx, const std::string& oid,
                            const ParentImageSpec& parent, bool only_if_expired);
int standalone_link_state(librados::IoCtx& ioctx, const std::string& oid,
                          const ParentImageSpec& parent, LinkState* state);

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
