// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The parent link of a standalone clone, on the child's header.
//
// Stock parent_attach refuses snap_id = CEPH_NOSNAP.  This method writes
// the same v2 `parent` record stock writes, with snap_id = CEPH_NOSNAP and
// the HEAD overlap, and sets the clone-child op feature, so that the stock
// librbd reads through to the parent's HEAD and stock flatten / rm detach
// the child from the parent with child_detach(CEPH_NOSNAP).

#include <cerrno>

#include "cls/rbd/cls_rbd_overlay.h"
#include "cls/rbd/objclass_api.h"

namespace cls::rbd::standalone {

namespace {

int check_layering_header(cls_method_context_t hctx) {
  uint64_t features = 0;
  int r = omap::header_features(hctx, &features);
  if (r == -ENOEXEC || (r == 0 && (features & FEATURE_LAYERING) == 0)) {
    CLS_LOG(10, "standalone parent link: image does not support layering");
    return -ENOEXEC;
  }
  return r;
}

int decode_parent_payload(ceph::bufferlist* in, ParentImageSpec* spec,
                          uint64_t* overlap) {
  try {
    const std::string payload = omap::to_string(*in);
    Decoder d(payload);
    spec->decode(d);
    if (overlap != nullptr) {
      *overlap = d.u64();
    }
  } catch (const DecodeError& e) {
    CLS_LOG(5, "standalone parent payload: %s", e.what());
    return -EINVAL;
  }
  return 0;
}

}  // namespace

/**
 * Makes this image a standalone clone of another image's HEAD.
 * Input: ParentImageSpec parent (snap_id must be CEPH_NOSNAP), u64 overlap.
 * Output: none.
 * -ENOENT no header; -ENOEXEC no layering; -EINVAL bad payload, pool < 0,
 * invalid image id, snap_id other than NOSNAP or overlap 0; -EEXIST the
 * image already has a parent record.  The overlap is clamped to the size.
 */
int standalone_parent_attach(cls_method_context_t hctx, ceph::bufferlist* in,
                             ceph::bufferlist* out) {
  ParentImageSpec spec;
  uint64_t overlap = 0;
  int r = decode_parent_payload(in, &spec, &overlap);
  if (r < 0) {
    return r;
  }
  r = check_layering_header(hctx);
  if (r < 0) {
    return r;
  }
  if (spec.pool_id < 0 || !is_valid_image_id(spec.image_id) ||
      spec.snap_id != NOSNAP || overlap == 0) {
    CLS_LOG(5, "standalone_parent_attach: invalid parent pool=%lld id='%s' "
               "snap=%llu overlap=%llu",
            static_cast<long long>(spec.pool_id), spec.image_id.c_str(),
            static_cast<unsigned long long>(spec.snap_id),
            static_cast<unsigned long long>(overlap));
    return -EINVAL;
  }
  ParentRecord existing;
  r = omap::get_parent(hctx, &existing);
  if (r == 0) {
    return -EEXIST;
  } else if (r != -ENOENT) {
    return r;
  }
  // The v2 record below is what stock writes on Nautilus and later only.
  if (cls_get_required_osd_release(hctx) < omap::CEPH_RELEASE_NAUTILUS) {
    CLS_ERR("standalone clones need require_osd_release >= nautilus");
    return -EOPNOTSUPP;
  }
  uint64_t size = 0;
  r = omap::get_u64(hctx, "size", &size);
  if (r < 0) {
    return r;
  }

  ParentRecord parent;
  parent.pool_id = spec.pool_id;
  parent.pool_namespace = spec.pool_namespace;
  parent.image_id = spec.image_id;
  parent.snap_id = NOSNAP;
  parent.head_overlap = std::min(overlap, size);
  r = omap::set(hctx, "parent", encode_to_string(parent));
  if (r < 0) {
    return r;
  }
  return omap::update_op_features(hctx, OP_FEATURE_CLONE_CHILD, OP_FEATURE_CLONE_CHILD);
}

/**
 * Undoes standalone_parent_attach (rollback of a failed clone).
 * Input: ParentImageSpec parent that is expected to be attached.
 * Output: none.
 * -ENOENT no header or not attached to that parent; -ENOEXEC no layering;
 * -EINVAL bad payload; -EBUSY a snapshot still reads through the parent
 * (flatten the image instead).
 */
int standalone_parent_detach(cls_method_context_t hctx, ceph::bufferlist* in,
                             ceph::bufferlist* out) {
  ParentImageSpec spec;
  int r = decode_parent_payload(in, &spec, nullptr);
  if (r < 0) {
    return r;
  }
  r = check_layering_header(hctx);
  if (r < 0) {
    return r;
  }
  ParentRecord parent;
  r = omap::get_parent(hctx, &parent);
  if (r < 0) {
    return r;
  }
  if (!parent.is_standalone() || parent.pool_id != spec.pool_id ||
      parent.pool_namespace != spec.pool_namespace || parent.image_id != spec.image_id ||
      spec.snap_id != NOSNAP) {
    return -ENOENT;
  }
  bool snapshots_need_parent = false;
  r = omap::for_each_snapshot(hctx, [&](const SnapshotRecord& snap) {
    snapshots_need_parent |= snap.references_parent();
    return 0;
  });
  if (r < 0) {
    return r;
  }
  if (snapshots_need_parent) {
    return -EBUSY;
  }
  r = omap::remove(hctx, "parent");
  if (r < 0) {
    return r;
  }
  return omap::update_op_features(hctx, 0, OP_FEATURE_CLONE_CHILD);
}

}  // namespace cls::rbd::standalone
