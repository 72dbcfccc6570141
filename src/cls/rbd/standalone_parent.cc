// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The parent link of a standalone clone, on the child's header.
//
// Stock parent_attach refuses snap_id = CEPH_NOSNAP.  standalone_parent_attach
// writes the same v2 `parent` record stock writes, with snap_id = CEPH_NOSNAP
// and the HEAD overlap, and sets the clone-child op feature, so that the
// stock librbd reads through to the parent's HEAD and stock flatten / rm
// detach the child from the parent with child_detach(CEPH_NOSNAP).
//
// A link needs a link intent (LinkIntent), written by
// standalone_parent_prepare before the clone registers the child on the
// parent, and consumed by the link.  A client that finds a registration
// whose child is not linked can tell a clone in progress (intent) from a
// finished detach (none), and can revoke an expired intent
// (standalone_parent_abort) so that the link can no longer happen before it
// drops the registration.  standalone_link_state answers that question.

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

// ParentImageSpec, then an optional u64 (overlap, timeout, flag).
int decode_parent_payload(ceph::bufferlist* in, ParentImageSpec* spec,
                          uint64_t* extra) {
  try {
    const std::string payload = omap::to_string(*in);
    Decoder d(payload);
    spec->decode(d);
    if (extra != nullptr) {
      *extra = d.u64();
    }
  } catch (const DecodeError& e) {
    CLS_LOG(5, "standalone parent payload: %s", e.what());
    return -EINVAL;
  }
  return 0;
}

bool valid_standalone_parent(const ParentImageSpec& spec) {
  return spec.pool_id >= 0 && is_valid_image_id(spec.image_id) && spec.snap_id == NOSNAP;
}

bool same_parent(const ParentRecord& record, const ParentImageSpec& spec) {
  return record.is_standalone() && record.pool_id == spec.pool_id &&
         record.pool_namespace == spec.pool_namespace && record.image_id == spec.image_id &&
         spec.snap_id == NOSNAP;
}

// The link intent; -ENOENT when there is none.
int get_intent(cls_method_context_t hctx, LinkIntent* intent) {
  std::string raw;
  int r = omap::get(hctx, LINK_INTENT_KEY, &raw);
  if (r < 0) {
    return r;
  }
  try {
    *intent = decode_from_string<LinkIntent>(raw);
  } catch (const DecodeError&) {
    CLS_ERR("cannot decode %s", LINK_INTENT_KEY);
    return -EIO;
  }
  return 0;
}

// -ELOOP if linking this image to `spec` would close a loop the OSD can
// see: the image itself, or one of its own HEAD children.  (The OSD cannot
// tell its pool, so an equal id in another pool is refused too; ids are
// unique per cluster in practice.)  Longer loops are refused by the client.
int check_no_loop(cls_method_context_t hctx, const ParentImageSpec& spec) {
  std::string own_id;
  int r = omap::own_image_id(hctx, &own_id);
  if (r < 0) {
    return r;
  }
  if (spec.image_id == own_id) {
    CLS_LOG(5, "standalone parent link: an image cannot be its own parent");
    return -ELOOP;
  }
  std::string entry;
  r = omap::get(hctx, head_child_key({spec.pool_id, spec.pool_namespace, spec.image_id}),
                &entry);
  if (r == 0) {
    CLS_LOG(5, "standalone parent link: the parent is a HEAD child of this image");
    return -ELOOP;
  }
  return r == -ENOENT ? 0 : r;
}

// The common start of prepare and attach: the payload (a spec and a u64),
// a layering header without a parent record, no loop, and the link intent
// (*intent_r: 0 or -ENOENT).
int read_link_request(cls_method_context_t hctx, ceph::bufferlist* in, ParentImageSpec* spec,
                      uint64_t* extra, LinkIntent* intent, int* intent_r) {
  int r = decode_parent_payload(in, spec, extra);
  if (r < 0) {
    return r;
  }
  r = check_layering_header(hctx);
  if (r < 0) {
    return r;
  }
  ParentRecord existing;
  r = omap::get_parent(hctx, &existing);
  if (r == 0) {
    return -EEXIST;
  } else if (r != -ENOENT) {
    return r;
  }
  r = check_no_loop(hctx, *spec);
  if (r < 0) {
    return r;
  }
  *intent_r = get_intent(hctx, intent);
  return *intent_r == -ENOENT ? 0 : *intent_r;
}

// The largest prepare timeout: a day.
constexpr uint64_t MAX_INTENT_SECONDS = 86400;

}  // namespace

/**
 * Lets this image be linked to `parent` within `timeout` seconds (the
 * intent can be revoked after that).  Input: ParentImageSpec parent, u64
 * timeout seconds (1..86400).  Output: none.
 * -ENOENT no header; -ENOEXEC no layering; -EINVAL bad payload or spec;
 * -EEXIST the image has a parent record, or an intent for another parent;
 * -ELOOP the parent is this image or one of its HEAD children.
 * Preparing again for the same parent renews the intent.
 */
int standalone_parent_prepare(cls_method_context_t hctx, ceph::bufferlist* in,
                              ceph::bufferlist* out) {
  ParentImageSpec spec;
  uint64_t timeout = 0;
  LinkIntent intent;
  int intent_r = 0;
  int r = read_link_request(hctx, in, &spec, &timeout, &intent, &intent_r);
  if (r < 0) {
    return r;
  }
  if (!valid_standalone_parent(spec) || timeout == 0 || timeout > MAX_INTENT_SECONDS) {
    return -EINVAL;
  }
  if (intent_r == 0 && !(intent.parent == spec)) {
    return -EEXIST;
  }
  intent.parent = spec;
  intent.expires = omap::now();
  intent.expires.sec += static_cast<uint32_t>(timeout);
  return omap::set(hctx, LINK_INTENT_KEY, encode_to_string(intent));
}

/**
 * Makes this image a standalone clone of another image's HEAD, consuming
 * the link intent standalone_parent_prepare wrote.
 * Input: ParentImageSpec parent (snap_id must be CEPH_NOSNAP), u64 overlap.
 * Output: none.
 * -ENOENT no header; -ENOEXEC no layering; -EINVAL bad payload, pool < 0,
 * invalid image id, snap_id other than NOSNAP or overlap 0; -EEXIST the
 * image already has a parent record; -ELOOP the parent is this image or
 * one of its HEAD children; -ESTALE no intent for this parent
 * (never prepared, or revoked by a prune).  The overlap is clamped to the
 * size.
 */
int standalone_parent_attach(cls_method_context_t hctx, ceph::bufferlist* in,
                             ceph::bufferlist* out) {
  ParentImageSpec spec;
  uint64_t overlap = 0;
  LinkIntent intent;
  int intent_r = 0;
  int r = read_link_request(hctx, in, &spec, &overlap, &intent, &intent_r);
  if (r < 0) {
    return r;
  }
  if (!valid_standalone_parent(spec) || overlap == 0) {
    CLS_LOG(5, "standalone_parent_attach: invalid parent pool=%lld id='%s' "
               "snap=%llu overlap=%llu",
            static_cast<long long>(spec.pool_id), spec.image_id.c_str(),
            static_cast<unsigned long long>(spec.snap_id),
            static_cast<unsigned long long>(overlap));
    return -EINVAL;
  }
  if (intent_r == -ENOENT || !(intent.parent == spec)) {
    CLS_LOG(5, "standalone_parent_attach: no link intent for this parent");
    return -ESTALE;
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
  r = omap::remove(hctx, LINK_INTENT_KEY);
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
  if (!same_parent(parent, spec)) {
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

/**
 * Revokes the link intent for `parent`, so that the link can no longer
 * happen.  Input: ParentImageSpec parent, u64 flags (1: only if expired).
 * Output: none.  -ENOENT no intent for that parent; -EBUSY not expired yet
 * (with flag 1): a clone may still be running.
 */
int standalone_parent_abort(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out) {
  ParentImageSpec spec;
  uint64_t flags = 0;
  int r = decode_parent_payload(in, &spec, &flags);
  if (r < 0) {
    return r;
  }
  if (flags > 1) {
    return -EINVAL;
  }
  r = check_layering_header(hctx);
  if (r < 0) {
    return r;
  }
  LinkIntent intent;
  r = get_intent(hctx, &intent);
  if (r < 0) {
    return r;
  }
  if (!(intent.parent == spec)) {
    return -ENOENT;
  }
  if (flags == 1 && omap::now() < intent.expires) {
    return -EBUSY;
  }
  return omap::remove(hctx, LINK_INTENT_KEY);
}

/**
 * Whether this image reads through `parent`: the answer a client needs
 * before it drops the image's registration on the parent.
 * Input: ParentImageSpec parent.  Output: u8 LinkState.
 */
int standalone_link_state(cls_method_context_t hctx, ceph::bufferlist* in,
                          ceph::bufferlist* out) {
  ParentImageSpec spec;
  int r = decode_parent_payload(in, &spec, nullptr);
  if (r < 0) {
    return r;
  }
  uint64_t features = 0;
  r = omap::header_features(hctx, &features);
  if (r < 0) {
    return r;
  }
  LinkState state = LINK_NONE;
  ParentRecord parent;
  r = omap::get_parent(hctx, &parent);
  if (r < 0 && r != -ENOENT) {
    return r;
  }
  if (r == 0 && same_parent(parent, spec)) {
    if (parent.head_overlap) {
      state = LINK_HEAD;
    } else {
      r = omap::for_each_snapshot(hctx, [&](const SnapshotRecord& snap) {
        if (snap.references_parent()) {
          state = LINK_SNAPSHOTS;
        }
        return 0;
      });
      if (r < 0) {
        return r;
      }
    }
  }
  if (state == LINK_NONE) {
    LinkIntent intent;
    r = get_intent(hctx, &intent);
    if (r < 0 && r != -ENOENT) {
      return r;
    }
    if (r == 0 && intent.parent == spec) {
      state = omap::now() < intent.expires ? LINK_PREPARED : LINK_PREPARED_EXPIRED;
    }
  }
  Encoder e;
  e.u8(state);
  out->append(omap::to_bufferlist(e.bytes()));
  return 0;
}

}  // namespace cls::rbd::standalone
