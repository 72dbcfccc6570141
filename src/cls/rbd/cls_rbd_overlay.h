// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The standalone-clone overlay of cls_rbd: method entry points and the
// overlay's identity.  Each method's payloads are documented where it is
// defined; stock-named methods keep stock payloads byte for byte.

#ifndef CLS_RBD_STANDALONE_OVERLAY_H
#define CLS_RBD_STANDALONE_OVERLAY_H

#include <rados/objclass.h>

#include <cstdint>
#include <string>

namespace cls::rbd::standalone {

// Bumped whenever a method or payload of the overlay changes.
constexpr uint32_t OVERLAY_VERSION = 4;
// The Ceph release line the overlay is written for.
constexpr const char* TARGET_CEPH_VERSION_PREFIX = "16.2.";

// The u64 snap id at the start of a stock payload, if there is one.
bool peek_snap_id(ceph::bufferlist* in, uint64_t* snap_id);

// Whether a stock-named method's call is for the overlay: snap id
// CEPH_NOSNAP on a standalone parent (registry entries or the fence's
// marker).  Every other call, on any object, goes to the stock method and
// gets stock's answer.
bool nosnap_call_is_ours(cls_method_context_t hctx, ceph::bufferlist* in);

// standalone_children.cc: HEAD children of a parent and its fence.
int child_attach(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);
int child_detach(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);
int children_list(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);
int standalone_children_list(cls_method_context_t hctx, ceph::bufferlist* in,
                             ceph::bufferlist* out);
int standalone_children_count(cls_method_context_t hctx, ceph::bufferlist* in,
                              ceph::bufferlist* out);
int standalone_child_attach(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out);
int standalone_child_remove(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out);
int standalone_fence_status(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out);
int standalone_fence_repair(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out);

// standalone_parent.cc: the parent link on a child's header.
int standalone_parent_attach(cls_method_context_t hctx, ceph::bufferlist* in,
                             ceph::bufferlist* out);
int standalone_parent_detach(cls_method_context_t hctx, ceph::bufferlist* in,
                             ceph::bufferlist* out);
int standalone_parent_prepare(cls_method_context_t hctx, ceph::bufferlist* in,
                              ceph::bufferlist* out);
int standalone_parent_abort(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out);
int standalone_link_state(cls_method_context_t hctx, ceph::bufferlist* in,
                          ceph::bufferlist* out);

// nosnap_parent.cc: stock methods whose "parent exists" tests must also
// count a standalone (CEPH_NOSNAP) parent, and the parent's write guard.
int set_size(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);
int snapshot_add(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);
int snapshot_remove(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);
int get_parent(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);
int get_features(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out);

// cls_rbd_overlay.cc: lets clients detect the overlay.
int standalone_overlay_info(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out);

}  // namespace cls::rbd::standalone

#endif  // CLS_RBD_STANDALONE_OVERLAY_H
