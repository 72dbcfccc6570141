// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Stock methods that test "the parent exists" (pool >= 0, image id set,
// snap_id != CEPH_NOSNAP) and so mistreat a standalone child, whose parent
// snap_id is CEPH_NOSNAP.  Each runs the stock method first, then, only for
// a standalone child, applies what stock would have done for a snapshot
// parent.  Reads in a class call do not see the call's own writes, so the
// corrections are computed from the state before the stock method ran.
//
// The other exists() sites need nothing: parent_attach / set_parent keep
// refusing CEPH_NOSNAP (standalone_parent_attach is the way in);
// parent_get's fallback scan and parent_overlap_get's legacy branch only
// concern pre-Nautilus records, which never hold a standalone parent.
//
// get_features also lives here: the write guard of parents fenced by older
// overlays.

#include <cerrno>

#include "cls/rbd/cls_rbd_overlay.h"
#include "cls/rbd/objclass_api.h"
#include "cls/rbd/stock_class.h"

namespace cls::rbd::standalone {

namespace {

// The HEAD parent record if this image is a standalone child, else nullopt.
// Errors other than a missing key are returned through *r.
std::optional<ParentRecord> standalone_parent(cls_method_context_t hctx, int* r) {
  ParentRecord parent;
  *r = omap::get_parent(hctx, &parent);
  if (*r == -ENOENT) {
    *r = 0;
  }
  if (*r < 0 || !parent.is_standalone()) {
    return std::nullopt;
  }
  return parent;
}

}  // namespace

/**
 * Stock set_size, plus: shrinking a standalone child trims its HEAD overlap,
 * so a later grow reads zeros, not the parent, in the regrown range.
 */
int set_size(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  uint64_t orig_size = 0;
  uint64_t new_size = 0;
  bool have_sizes = peek_snap_id(in, &new_size) &&
                    omap::get_u64(hctx, "size", &orig_size) == 0;
  int r = StockClass::call("set_size", hctx, in, out);
  if (r < 0 || !have_sizes || new_size >= orig_size) {
    return r;
  }
  auto parent = standalone_parent(hctx, &r);
  if (r < 0 || !parent || parent->head_overlap.value_or(0) <= new_size) {
    return r;
  }
  parent->head_overlap = new_size;
  return omap::set(hctx, "parent", encode_to_string(*parent));
}

/**
 * Stock snapshot_add, plus: a snapshot of a standalone child records the
 * HEAD overlap as its parent_overlap, as stock does for snapshot parents,
 * so the snapshot keeps reading the inherited data.  Stock wrote the record
 * without it; the record is rewritten whole from the same inputs.
 */
int snapshot_add(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  int r = StockClass::call("snapshot_add", hctx, in, out);
  if (r < 0) {
    return r;
  }
  auto parent = standalone_parent(hctx, &r);
  if (r < 0 || !parent || !parent->head_overlap) {
    return r;
  }

  SnapshotRecord snap;
  try {
    const std::string payload = omap::to_string(*in);
    Decoder d(payload);
    snap.name = d.str();
    snap.id = d.u64();
    if (!d.at_end()) {
      snap.snapshot_namespace.decode(d);
    }
  } catch (const DecodeError&) {
    return -EINVAL;  // unreachable: stock decoded the same payload
  }
  r = omap::get_u64(hctx, "size", &snap.image_size);
  if (r < 0) {
    return r;
  }
  r = omap::get_u64(hctx, "flags", &snap.flags);
  if (r < 0 && r != -ENOENT) {
    return r;
  }
  snap.timestamp = omap::now();
  snap.parent_overlap = parent->head_overlap;
  CLS_LOG(20, "snapshot_add: standalone child snap %llu keeps parent overlap %llu",
          static_cast<unsigned long long>(snap.id),
          static_cast<unsigned long long>(*snap.parent_overlap));
  return omap::set(hctx, snapshot_key(snap.id), encode_to_string(snap));
}

/**
 * Stock snapshot_remove, plus, for a standalone child: the clone-child op
 * feature stays while HEAD still reads through the parent, and the parent
 * record goes once neither HEAD nor any snapshot needs it.
 */
int snapshot_remove(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  uint64_t snap_id = 0;
  bool have_id = peek_snap_id(in, &snap_id);
  int r = 0;
  auto parent = standalone_parent(hctx, &r);
  uint64_t op_features = 0;
  int op_r = omap::get_u64(hctx, "op_features", &op_features);

  r = StockClass::call("snapshot_remove", hctx, in, out);
  if (r < 0 || !have_id || !parent) {
    return r;
  }
  if (op_r < 0 && op_r != -ENOENT) {
    return op_r;
  }

  bool snaps_need_parent = false;
  bool has_trash_snaps = false;
  r = omap::for_each_snapshot(hctx, [&](const SnapshotRecord& snap) {
    if (snap.id != snap_id) {  // still listed: reads predate the removal
      snaps_need_parent |= snap.references_parent();
      has_trash_snaps |= snap.snapshot_namespace.type == SNAP_NS_TRASH;
    }
    return 0;
  });
  if (r < 0) {
    return r;
  }
  bool head_child = parent->head_overlap.has_value();
  if (!head_child && !snaps_need_parent) {
    r = omap::remove(hctx, "parent");
    if (r < 0) {
      return r;
    }
  }
  uint64_t wanted = op_features;
  if (!head_child && !snaps_need_parent) {
    wanted &= ~OP_FEATURE_CLONE_CHILD;
  }
  if (!has_trash_snaps) {
    wanted &= ~OP_FEATURE_SNAP_TRASH;
  }
  return omap::update_op_features(hctx, wanted, ~0ULL, &op_features);
}

/**
 * Legacy get_parent (pre-Mimic clients), plus: a snapshot of a standalone
 * child answers with the HEAD spec and the snapshot's overlap, where stock
 * returns -EINVAL because the spec is not a snapshot parent.
 * Output: i64 pool, string image id, u64 snap id, u64 overlap.
 */
int get_parent(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  uint64_t snap_id = 0;
  if (!peek_snap_id(in, &snap_id) || snap_id == NOSNAP) {
    return StockClass::call("get_parent", hctx, in, out);
  }
  int r = 0;
  auto parent = standalone_parent(hctx, &r);
  SnapshotRecord snap;
  if (r < 0 || !parent || omap::get_snapshot(hctx, snap_id, &snap) < 0 ||
      !snap.parent_overlap || snap.legacy_parent.pool_id != -1) {
    return StockClass::call("get_parent", hctx, in, out);
  }
  if (!parent->pool_namespace.empty()) {
    return -EXDEV;  // as stock: the legacy reply cannot carry a namespace
  }
  Encoder e;
  e.i64(parent->pool_id);
  e.str(parent->image_id);
  e.u64(parent->snap_id);
  e.u64(*snap.parent_overlap);
  out->append(omap::to_bufferlist(e.bytes()));
  return 0;
}

/**
 * Stock get_features, plus a guard for parents fenced by overlay v1/v2 and
 * not converted yet (marker without the stored non-primary feature): a
 * read-write open is told it needs an incompatible feature no client has,
 * so every client refuses to open it for writing (ENOSYS).  A converted
 * fence needs nothing here: non-primary makes every open read-only.
 * Input: u64 snap_id (ignored), optional bool read_only.
 * Output: u64 features, u64 incompatible.
 */
int get_features(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  int r = StockClass::call("get_features", hctx, in, out);
  if (r < 0) {
    return r;
  }
  bool read_only = false;
  uint64_t features = 0;
  uint64_t incompatible = 0;
  try {
    const std::string payload = omap::to_string(*in);
    Decoder d(payload);
    d.u64();
    read_only = !d.at_end() && d.boolean();
    const std::string reply = omap::to_string(*out);
    Decoder o(reply);
    features = o.u64();
    incompatible = o.u64();
  } catch (const DecodeError&) {
    return -EINVAL;  // unreachable: stock accepted the payload
  }
  // The marker lives in op_features, which exist only with `operations`.
  if (read_only || (features & FEATURE_OPERATIONS) == 0) {
    return 0;
  }
  uint64_t op_features = 0;
  r = omap::get_u64(hctx, "op_features", &op_features);
  if (r < 0) {
    return r == -ENOENT ? 0 : r;
  }
  if ((op_features & OP_FEATURE_STANDALONE_PARENT) == 0 ||
      (features & FEATURE_NON_PRIMARY) != 0) {
    return 0;
  }
  Encoder e;
  e.u64(features);
  e.u64(incompatible | INCOMPAT_STANDALONE_PARENT_READ_ONLY);
  out->clear();
  out->append(omap::to_bufferlist(e.bytes()));
  return 0;
}

}  // namespace cls::rbd::standalone
