// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// HEAD (standalone) children of a parent image, kept in the parent's header,
// and the parent's fence (parent_fence.h), raised with the first entry and
// lowered with the last.
//
// Registry: one omap key per child (head_child_key()), value HeadChildEntry,
// so an attach or detach touches one key.
//
// Who may change it (cephx `profile rbd-read-only` grants class calls named
// child_attach and child_detach on every header, for stock clone v2):
//   standalone_child_attach   registers a child, raising the fence if needed:
//                             needs write access to the parent's pool
//   child_attach(NOSNAP)      registers a child on an already fenced parent
//                             only (elsewhere it is stock's: -ENOENT, no
//                             snapshot CEPH_NOSNAP): a read-only tenant may
//                             clone a fenced parent, as it may clone a
//                             snapshot, but cannot fence an image
//   child_detach(NOSNAP)      only marks the entry DETACHING: the OSD cannot
//                             see the child's header, so nothing is lifted
//   standalone_child_remove   drops an entry after the caller checked that
//                             the child no longer reads through the parent;
//                             lowers the fence with the last one: needs
//                             write access
// Other snap ids go to the stock methods untouched.

#include <cerrno>

#include "cls/rbd/cls_rbd_overlay.h"
#include "cls/rbd/objclass_api.h"
#include "cls/rbd/parent_fence.h"
#include "cls/rbd/stock_class.h"

namespace cls::rbd::standalone {

namespace {

// Upper bound on one page of standalone_children_list.
constexpr uint64_t MAX_CHILDREN_PER_PAGE = 4096;

int check_child_spec(const ChildImageSpec& child) {
  if (child.pool_id < 0 || !is_valid_image_id(child.image_id)) {
    CLS_LOG(5, "invalid child spec: pool %lld id '%s'",
            static_cast<long long>(child.pool_id), child.image_id.c_str());
    return -EINVAL;
  }
  return 0;
}

// A registry key that head_child_key() did not write (raw omap edits) is
// listed as the spec {pool -1, "", key without the prefix}, state
// MALFORMED, so that paging goes on past it and standalone_child_remove can
// drop it.
bool is_raw_key_spec(const ChildImageSpec& child) {
  return child.pool_id == -1 && child.pool_namespace.empty() && !child.image_id.empty();
}

// Decodes the payload: (u64 snap_id, ChildImageSpec) for the stock-named
// methods, a ChildImageSpec alone for standalone_child_*.  With
// `allow_raw_key`, the spec may name a malformed key (is_raw_key_spec).
int decode_child_payload(ceph::bufferlist* in, bool with_snap_id, ChildImageSpec* child,
                         bool allow_raw_key = false) {
  try {
    const std::string payload = omap::to_string(*in);
    Decoder d(payload);
    if (with_snap_id) {
      d.u64();
    }
    child->decode(d);
  } catch (const DecodeError& e) {
    CLS_LOG(5, "standalone child payload: %s", e.what());
    return -EINVAL;
  }
  if (allow_raw_key && is_raw_key_spec(*child)) {
    // Only a key that no child spec names; a well-formed one must be named
    // by its spec.
    ChildImageSpec canonical;
    return parse_head_child_key(HEAD_CHILD_KEY_PREFIX + child->image_id, &canonical) ? -EINVAL
                                                                                     : 0;
  }
  return check_child_spec(*child);
}

std::string registry_key(const ChildImageSpec& child) {
  return is_raw_key_spec(child) ? HEAD_CHILD_KEY_PREFIX + child.image_id
                                : head_child_key(child);
}

int check_header(cls_method_context_t hctx) {
  uint64_t features = 0;
  return omap::header_features(hctx, &features);
}

// Up to `max` registry entries after the key `after`; *last_key is the last
// key read.  Each entry names the child its key names, whatever the value
// holds, so paging by entries is paging by keys; an entry whose value does
// not match its key is reported MALFORMED.
int list_entries(cls_method_context_t hctx, const std::string& after, uint64_t max,
                 std::vector<HeadChildEntry>* out, std::string* last_key, bool* more) {
  std::map<std::string, std::string> vals;
  int r = omap::list(hctx, HEAD_CHILD_KEY_PREFIX, after, max, &vals, more);
  if (r < 0) {
    return r;
  }
  for (const auto& [key, value] : vals) {
    *last_key = key;
    HeadChildEntry entry{{}, HeadChildEntry::MALFORMED, {}};
    if (!parse_head_child_key(key, &entry.child)) {
      CLS_ERR("malformed HEAD child key %s", key.c_str());
      entry.child = {-1, "", key.substr(std::string(HEAD_CHILD_KEY_PREFIX).size())};
      out->push_back(entry);
      continue;
    }
    try {
      auto stored = decode_from_string<HeadChildEntry>(value);
      if (stored.child == entry.child && stored.state <= HeadChildEntry::DETACHING) {
        entry = stored;
      }
    } catch (const DecodeError&) {
    }
    if (entry.state == HeadChildEntry::MALFORMED) {
      CLS_ERR("malformed HEAD child entry %s", key.c_str());
    }
    out->push_back(entry);
  }
  return 0;
}

// The fence and whether there is a registry entry (*n: 0 or 1), for the
// methods that take no input.
int read_fence(cls_method_context_t hctx, ceph::bufferlist* in, fence::Status* status,
               uint64_t* n) {
  if (in->length() != 0) {
    return -EINVAL;
  }
  int r = fence::read_status(hctx, status);
  return r < 0 ? r : omap::count(hctx, HEAD_CHILD_KEY_PREFIX, n, 1);
}

struct Request {
  ChildImageSpec child;
  std::string key;
  std::optional<HeadChildEntry> entry;  // the child's entry, if registered
};

// The common start of every registry change: a format 2 header, a valid
// child spec, and the child's current entry.
int read_request(cls_method_context_t hctx, ceph::bufferlist* in, bool with_snap_id,
                 Request* req, bool allow_raw_key = false) {
  int r = check_header(hctx);
  if (r < 0) {
    return r;
  }
  r = decode_child_payload(in, with_snap_id, &req->child, allow_raw_key);
  if (r < 0) {
    return r;
  }
  req->key = registry_key(req->child);
  std::string existing;
  r = omap::get(hctx, req->key, &existing);
  if (r == -ENOENT) {
    return 0;
  } else if (r < 0) {
    return r;
  }
  try {
    req->entry = decode_from_string<HeadChildEntry>(existing);
  } catch (const DecodeError&) {
    // Registered, whatever the value says (raw edits): it can still be
    // marked or removed, which rewrites or drops it.
    req->entry = HeadChildEntry{req->child, HeadChildEntry::ATTACHED, {}};
  }
  return 0;
}

// -ELOOP if `child` is this image or its parent: registering it would close
// a loop (the id alone is compared for the image itself: the OSD cannot
// tell its own pool).
int check_not_ancestor(cls_method_context_t hctx, const ChildImageSpec& child) {
  std::string own_id;
  int r = omap::own_image_id(hctx, &own_id);
  if (r < 0) {
    return r;
  }
  if (child.image_id == own_id) {
    CLS_LOG(5, "attach: an image cannot be its own child");
    return -ELOOP;
  }
  ParentRecord parent;
  r = omap::get_parent(hctx, &parent);
  if (r == 0 && parent.pool_id == child.pool_id &&
      parent.pool_namespace == child.pool_namespace && parent.image_id == child.image_id) {
    CLS_LOG(5, "attach: the child is this image's parent");
    return -ELOOP;
  }
  return r == -ENOENT ? 0 : r;
}

int write_entry(cls_method_context_t hctx, const Request& req, uint8_t state) {
  HeadChildEntry entry{req.child, state, omap::now()};
  return omap::set(hctx, req.key, encode_to_string(entry));
}

int attach(cls_method_context_t hctx, ceph::bufferlist* in, bool stock_payload) {
  Request req;
  int r = read_request(hctx, in, stock_payload, &req);
  if (r < 0) {
    return r;
  }
  if (req.entry) {
    return -EEXIST;
  }
  r = check_not_ancestor(hctx, req.child);
  if (r < 0) {
    return r;
  }
  fence::Status status;
  r = fence::read_status(hctx, &status);
  if (r < 0) {
    return r;
  }
  if (stock_payload && !status.marker) {
    // child_attach is granted to read-only tenants: it must not fence.
    CLS_LOG(5, "child_attach(NOSNAP) on an image that is not fenced: use "
               "standalone_child_attach");
    return -EPERM;
  }
  if (!status.complete()) {
    r = fence::raise(hctx, status, !status.marker, req.key);
    if (r < 0) {
      return r;
    }
  }
  CLS_LOG(20, "attach HEAD child pool=%lld ns=%s id=%s",
          static_cast<long long>(req.child.pool_id), req.child.pool_namespace.c_str(),
          req.child.image_id.c_str());
  return write_entry(hctx, req, HeadChildEntry::ATTACHED);
}

}  // namespace

bool nosnap_call_is_ours(cls_method_context_t hctx, ceph::bufferlist* in) {
  uint64_t snap_id = 0;
  if (!peek_snap_id(in, &snap_id) || snap_id != NOSNAP) {
    return false;
  }
  uint64_t n = 0;
  if (omap::count(hctx, HEAD_CHILD_KEY_PREFIX, &n, 1) == 0 && n > 0) {
    return true;
  }
  uint64_t op_features = 0;
  return omap::get_u64(hctx, "op_features", &op_features) == 0 &&
         (op_features & OP_FEATURE_STANDALONE_PARENT) != 0;
}

bool peek_snap_id(ceph::bufferlist* in, uint64_t* snap_id) {
  if (in->length() < 8) {
    return false;
  }
  std::string head(8, '\0');
  in->begin().copy(8, head.data());
  *snap_id = Decoder(head).u64();
  return true;
}

/**
 * Registers a HEAD child and raises the parent's fence if it is not up.
 * Input: ChildImageSpec child.  Output: none (the OSD drops the output of
 * write methods: read standalone_fence_status first to know whether this
 * call will raise the fence).
 * -EEXIST registered; -ELOOP the child is this image or its parent;
 * -EINVAL bad payload or spec, or the image has no
 * exclusive-lock feature; -EBUSY its exclusive lock is held (a writer);
 * -EROFS a non-primary (mirrored) image; -ENOENT no header; -ENOEXEC not a
 * format 2 header.
 */
int standalone_child_attach(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out) {
  return attach(hctx, in, false);
}

/**
 * Input: u64 snap_id, ChildImageSpec child.  Output: none.
 * NOSNAP on a standalone parent (nosnap_call_is_ours): registers a HEAD
 * child on a parent that is already fenced (-EPERM for registry entries
 * without the fence's marker); errors as standalone_child_attach.  Any
 * other call: stock's.
 */
int child_attach(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  if (!nosnap_call_is_ours(hctx, in)) {
    return StockClass::call("child_attach", hctx, in, out);
  }
  return attach(hctx, in, true);
}

/**
 * Input: u64 snap_id, ChildImageSpec child.  Output: none.
 * NOSNAP: marks the child's entry DETACHING (idempotent); the entry and the
 * fence stay until standalone_child_remove.  -ENOENT if not registered.
 */
int child_detach(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  if (!nosnap_call_is_ours(hctx, in)) {
    return StockClass::call("child_detach", hctx, in, out);
  }
  Request req;
  int r = read_request(hctx, in, true, &req);
  if (r < 0) {
    return r;
  }
  if (!req.entry) {
    return -ENOENT;
  }
  if (req.entry->state == HeadChildEntry::DETACHING) {
    return 0;
  }
  CLS_LOG(20, "detach requested for HEAD child pool=%lld ns=%s id=%s",
          static_cast<long long>(req.child.pool_id), req.child.pool_namespace.c_str(),
          req.child.image_id.c_str());
  return write_entry(hctx, req, HeadChildEntry::DETACHING);
}

/**
 * Drops a HEAD child's entry; with the last one, lowers the fence.  The
 * caller must have checked that the child does not read through this
 * parent (standalone_link_state on the child).
 * Input: ChildImageSpec child (or, for a malformed key that
 * standalone_children_list reported, the spec it reported).  Output: none.
 * -ENOENT if not registered.
 */
int standalone_child_remove(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out) {
  Request req;
  int r = read_request(hctx, in, false, &req, true);
  if (r < 0) {
    return r;
  }
  if (!req.entry) {
    return -ENOENT;
  }
  // Reads do not see this call's removal: one entry left means ours.
  uint64_t n = 0;
  r = omap::count(hctx, HEAD_CHILD_KEY_PREFIX, &n, 2);
  if (r < 0) {
    return r;
  }
  r = omap::remove(hctx, req.key);
  if (r < 0) {
    return r;
  }
  CLS_LOG(20, "removed HEAD child pool=%lld ns=%s id=%s%s",
          static_cast<long long>(req.child.pool_id), req.child.pool_namespace.c_str(),
          req.child.image_id.c_str(), n == 1 ? " (last: fence lowered)" : "");
  if (n != 1) {
    return 0;
  }
  fence::Status status;
  r = fence::read_status(hctx, &status);
  if (r < 0) {
    return r;
  }
  return fence::lower(hctx, status);
}

/**
 * Input: u64 snap_id.  Output: set<ChildImageSpec>.
 * NOSNAP on a standalone parent: every HEAD child, whatever its state (an
 * image with none gets stock's answer, -ENOENT).  Large registries should
 * be read with standalone_children_list.
 */
int children_list(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  if (!nosnap_call_is_ours(hctx, in)) {
    return StockClass::call("children_list", hctx, in, out);
  }
  int r = check_header(hctx);
  if (r < 0) {
    return r;
  }
  std::set<ChildImageSpec> children;
  std::string after = HEAD_CHILD_KEY_PREFIX;
  bool more = true;
  while (more) {
    std::vector<HeadChildEntry> page;
    r = list_entries(hctx, after, MAX_CHILDREN_PER_PAGE, &page, &after, &more);
    if (r < 0) {
      return r;
    }
    if (page.empty()) {
      break;
    }
    for (const auto& e : page) {
      if (!is_raw_key_spec(e.child)) {
        children.insert(e.child);
      }
    }
  }
  out->append(omap::to_bufferlist(encode_child_set(children)));
  return 0;
}

/**
 * One page of HEAD children, in key order.
 * Input: ChildImageSpec start_after (the last entry of the previous page;
 * pool -1 and no id: from the start), u64 max
 * (1..4096).  Output: u32 n, n x HeadChildEntry, u8 more.  (A HeadChildEntry
 * decodes as a ChildImageSpec too: overlay v2 clients read the children.)
 */
int standalone_children_list(cls_method_context_t hctx, ceph::bufferlist* in,
                             ceph::bufferlist* out) {
  ChildImageSpec start_after;
  uint64_t max = 0;
  try {
    const std::string payload = omap::to_string(*in);
    Decoder d(payload);
    start_after.decode(d);
    max = d.u64();
  } catch (const DecodeError& e) {
    CLS_LOG(5, "standalone_children_list payload: %s", e.what());
    return -EINVAL;
  }
  if (max == 0 || max > MAX_CHILDREN_PER_PAGE) {
    return -EINVAL;
  }
  int r = check_header(hctx);
  if (r < 0) {
    return r;
  }
  // pool -1 with an empty id: from the start.
  std::string after = start_after.pool_id < 0 && !is_raw_key_spec(start_after)
                          ? std::string(HEAD_CHILD_KEY_PREFIX)
                          : registry_key(start_after);
  std::vector<HeadChildEntry> page;
  std::string last_key;
  bool more = false;
  r = list_entries(hctx, after, max, &page, &last_key, &more);
  if (r < 0) {
    return r;
  }
  Encoder e;
  e.u32(static_cast<uint32_t>(page.size()));
  for (const auto& c : page) {
    c.encode(e);
  }
  e.boolean(more);
  out->append(omap::to_bufferlist(e.bytes()));
  return 0;
}

/**
 * The number of HEAD children, counted on the OSD so that a count (or the
 * refusal to remove a parent) does not ship the whole registry.
 * Input: none.  Output: u64 count.
 */
int standalone_children_count(cls_method_context_t hctx, ceph::bufferlist* in,
                              ceph::bufferlist* out) {
  if (in->length() != 0) {
    CLS_LOG(5, "standalone_children_count takes no input (%u bytes)", in->length());
    return -EINVAL;
  }
  int r = check_header(hctx);
  if (r < 0) {
    return r;
  }
  uint64_t n = 0;
  r = omap::count(hctx, HEAD_CHILD_KEY_PREFIX, &n);
  if (r < 0) {
    return r;
  }
  Encoder e;
  e.u64(n);
  out->append(omap::to_bufferlist(e.bytes()));
  return 0;
}

/**
 * The state of the parent's fence.  Input: none.  Output: envelope (2,1)
 * { u8 marker, u8 non_primary, u8 lock (0 free, 1 fence, 2 another client),
 * string lock owner, u8 has_children, string raised_for (v2: the registry
 * key of the child whose attach raised the fence, or "") }.
 */
int standalone_fence_status(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out) {
  fence::Status status;
  uint64_t n = 0;
  int r = read_fence(hctx, in, &status, &n);
  if (r < 0) {
    return r;
  }
  Encoder e;
  size_t t = e.start_envelope(2, 1);
  e.boolean(status.marker);
  e.boolean(status.non_primary);
  e.u8(static_cast<uint8_t>(status.lock));
  e.str(status.lock_owner);
  e.boolean(n > 0);
  e.str(status.raised_for);
  e.finish_envelope(t);
  out->append(omap::to_bufferlist(e.bytes()));
  return 0;
}

/**
 * Makes the fence match the registry: completes it on a parent with
 * children (converts a parent fenced by overlay v1/v2, or retakes a fence
 * lock removed by hand), lowers it on a marked image without children.
 * Input: none.  Output: none.
 * -EBUSY if another client holds the exclusive lock of a parent.
 */
int standalone_fence_repair(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out) {
  fence::Status status;
  uint64_t n = 0;
  int r = read_fence(hctx, in, &status, &n);
  if (r < 0) {
    return r;
  }
  if (n > 0 && !status.complete()) {
    // Children exist: complete the fence whatever the image's features.
    return fence::raise(hctx, status, false);
  } else if (n == 0 && status.marker) {
    return fence::lower(hctx, status);
  }
  return 0;
}

}  // namespace cls::rbd::standalone
