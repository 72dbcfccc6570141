// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Standalone (parentless) clones for RBD: C++ API.  See standalone.h.

#ifndef CEPH_RBD_STANDALONE_HPP
#define CEPH_RBD_STANDALONE_HPP

#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include <cerrno>
#include <string>
#include <vector>

#include "rbd/standalone.h"

namespace librbd::standalone {

struct ChildInfo {
  int64_t pool_id = -1;
  std::string pool_name;
  std::string pool_namespace;
  std::string image_id;
  std::string image_name;
  rbd_parent_type_t parent_type = RBD_PARENT_TYPE_STANDALONE;
  uint64_t parent_snap_id = 0;
  std::string parent_snap_name;
  std::string parent_image_name;
  int depth = 1;
  rbd_child_state_t state = RBD_CHILD_STATE_OK;
  uint64_t state_since = 0;  // see rbd_standalone_child_t
};

struct ParentInfo {
  rbd_parent_type_t parent_type = RBD_PARENT_TYPE_SNAPSHOT;
  int64_t pool_id = -1;
  std::string pool_name;
  std::string pool_namespace;
  std::string image_name;
  std::string image_id;
  uint64_t snap_id = 0;
  std::string snap_name;
  uint64_t overlap = 0;
};

CEPH_RBD_STANDALONE_API
int clone(librados::IoCtx& p_ioctx, const char* p_name, librados::IoCtx& c_ioctx,
          const char* c_name, ImageOptions& c_opts);
CEPH_RBD_STANDALONE_API
int list_children(librados::IoCtx& ioctx, const std::string& name, int flags,
                  std::vector<ChildInfo>* children);
CEPH_RBD_STANDALONE_API
int prune_children(librados::IoCtx& ioctx, const std::string& name, size_t* pruned);
CEPH_RBD_STANDALONE_API
int count_children(librados::IoCtx& ioctx, const std::string& name, uint64_t* count);
CEPH_RBD_STANDALONE_API
int get_parent(Image& image, ParentInfo* info);
CEPH_RBD_STANDALONE_API
int object_states(librados::IoCtx& ioctx, const std::string& name,
                  std::vector<uint8_t>* states);
CEPH_RBD_STANDALONE_API
const std::string& last_error();
// -EBUSY "image has N standalone child(ren) - not removing" if `name` may
// not be removed; remove() runs it, then the stock removal, then
// complete_detach for a standalone child.
CEPH_RBD_STANDALONE_API
int pre_remove(librados::IoCtx& ioctx, const std::string& name);
CEPH_RBD_STANDALONE_API
int remove(librados::IoCtx& ioctx, const std::string& name);
CEPH_RBD_STANDALONE_API
int overlay_version(librados::IoCtx& ioctx, const std::string& name, uint32_t* version);

// A standalone child's link to its parent, remembered before a stock
// flatten or removal of the child so that the detach it asks for can be
// completed right after (the parent stays fenced until a client has seen
// that the child no longer reads through it).
struct StandaloneLink {
  int64_t parent_pool_id = -1;
  std::string parent_namespace;
  std::string parent_id;
  int64_t child_pool_id = -1;
  std::string child_namespace;
  std::string child_id;
};
// -ENOENT when `name` has no standalone parent (nor the link intent of a
// clone that died before linking it).
CEPH_RBD_STANDALONE_API
int find_standalone_link(librados::IoCtx& ioctx, const std::string& name, StandaloneLink* link);
// Drops the child's registration on the parent if the child no longer
// reads through it (lowering the fence with the last one); 0 without
// doing anything while it still does.
CEPH_RBD_STANDALONE_API
int complete_detach(librados::IoCtx& any, const StandaloneLink& link);
// Flattens `name` (any clone) without trusting its object map, which a
// killed copy-up can leave wrong (librbd/image/FlattenRequest.h), then
// complete_detach.
CEPH_RBD_STANDALONE_API
int flatten(librados::IoCtx& ioctx, const std::string& name);

// Whether one OSD runs the cls_rbd overlay; see rbd_standalone_osd_overlay_t.
struct OsdOverlay {
  int osd = -1;
  bool up = false;
  int status = -ENOENT;
  uint32_t version = 0;
  std::string ceph_version;
  std::string probe_pool;
};
CEPH_RBD_STANDALONE_API
CEPH_RBD_STANDALONE_API
int overlay_status(librados::Rados& rados, std::vector<OsdOverlay>* osds);

}  // namespace librbd::standalone

#endif  // CEPH_RBD_STANDALONE_HPP
