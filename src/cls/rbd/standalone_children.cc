// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// HEAD (standalone) children of a parent image, kept in the parent's header.
//
// child_attach / child_detach / children_list take stock payloads; with
// snap_id = CEPH_NOSNAP they work on the HEAD children registry, for every
// other snap id they are the stock methods, untouched.
//
// Registry: one omap key per child (see head_child_key()), so an
// attach or detach touches one key.  The first attach sets the
// standalone-parent op-feature marker and the last detach clears it, in
// the same atomic class call as the key change.

#include <cerrno>

#include "cls/rbd/cls_rbd_overlay.h"
#include "cls/rbd/objclass_api.h"
#include "cls/rbd/stock_class.h"

namespace cls::rbd::standalone {

namespace {

// Upper bound on one page of standalone_children_list.
constexpr uint64_t MAX_CHILDREN_PER_PAGE = 4096;

// Decodes the (u64 snap_id, ChildImageSpec) payload of attach/detach and
// checks the spec names a real child.
int decode_child_payload(ceph::bufferlist* in, ChildImageSpec* child) {
  try {
    const std::string payload = omap::to_string(*in);
    Decoder d(payload);
    d.u64();
    child->decode(d);
  } catch (const DecodeError& e) {
    CLS_LOG(5, "standalone child payload: %s", e.what());
    return -EINVAL;
  }
  if (child->pool_id < 0 || !is_valid_image_id(child->image_id)) {
    CLS_LOG(5, "invalid child spec: pool %lld id '%s'",
            static_cast<long long>(child->pool_id), child->image_id.c_str());
    return -EINVAL;
  }
  return 0;
}

int check_header(cls_method_context_t hctx) {
  uint64_t features = 0;
  return omap::header_features(hctx, &features);
}

// Up to `max` registry entries after `after` (a key), values decoded.
int list_children(cls_method_context_t hctx, const std::string& after, uint64_t max,
                  std::vector<ChildImageSpec>* out, bool* more) {
  std::map<std::string, std::string> vals;
  int r = omap::list(hctx, HEAD_CHILD_KEY_PREFIX, after, max, &vals, more);
  if (r < 0) {
    return r;
  }
  for (const auto& [key, value] : vals) {
    try {
      out->push_back(decode_from_string<ChildImageSpec>(value));
    } catch (const DecodeError&) {
      CLS_ERR("cannot decode HEAD child entry %s", key.c_str());
      return -EIO;
    }
  }
  return 0;
}

// The first `max` registered children (all of them when there are fewer).
int first_children(cls_method_context_t hctx, uint64_t max, std::vector<ChildImageSpec>* out) {
  bool more = false;
  return list_children(hctx, HEAD_CHILD_KEY_PREFIX, max, out, &more);
}

// The common start of attach and detach: the header is a format 2 image,
// the payload names a valid child, and whether that child is registered.
int read_request(cls_method_context_t hctx, ceph::bufferlist* in, ChildImageSpec* child,
                 std::string* key, bool* registered) {
  int r = check_header(hctx);
  if (r < 0) {
    return r;
  }
  r = decode_child_payload(in, child);
  if (r < 0) {
    return r;
  }
  *key = head_child_key(*child);
  std::string existing;
  r = omap::get(hctx, *key, &existing);
  if (r < 0 && r != -ENOENT) {
    return r;
  }
  *registered = r == 0;
  return 0;
}

int attach_head_child(cls_method_context_t hctx, ceph::bufferlist* in) {
  ChildImageSpec child;
  std::string key;
  bool registered = false;
  int r = read_request(hctx, in, &child, &key, &registered);
  if (r < 0) {
    return r;
  }
  if (registered) {
    return -EEXIST;
  }

  std::vector<ChildImageSpec> others;
  r = first_children(hctx, 1, &others);
  if (r < 0) {
    return r;
  }
  if (others.empty()) {
    r = omap::update_op_features(hctx, OP_FEATURE_STANDALONE_PARENT,
                                 OP_FEATURE_STANDALONE_PARENT);
    if (r < 0) {
      return r;
    }
  }
  CLS_LOG(20, "attach HEAD child pool=%lld ns=%s id=%s",
          static_cast<long long>(child.pool_id), child.pool_namespace.c_str(),
          child.image_id.c_str());
  return omap::set(hctx, key, encode_to_string(child));
}

int detach_head_child(cls_method_context_t hctx, ceph::bufferlist* in) {
  ChildImageSpec child;
  std::string key;
  bool registered = false;
  int r = read_request(hctx, in, &child, &key, &registered);
  if (r < 0) {
    return r;
  }
  if (!registered) {
    return -ENOENT;
  }

  // Reads do not see this call's removal: two entries, or one that is not
  // ours, mean other children remain.
  std::vector<ChildImageSpec> first_two;
  r = first_children(hctx, 2, &first_two);
  if (r < 0) {
    return r;
  }
  bool last = first_two.size() == 1 && first_two[0] == child;
  r = omap::remove(hctx, key);
  if (r < 0) {
    return r;
  }
  CLS_LOG(20, "detach HEAD child pool=%lld ns=%s id=%s%s",
          static_cast<long long>(child.pool_id), child.pool_namespace.c_str(),
          child.image_id.c_str(), last ? " (last)" : "");
  if (last) {
    return omap::update_op_features(hctx, 0, OP_FEATURE_STANDALONE_PARENT);
  }
  return 0;
}

}  // namespace

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
 * Input: u64 snap_id, ChildImageSpec child.  Output: none.
 * NOSNAP: registers a HEAD child.  -EEXIST if registered, -EINVAL bad
 * payload or spec, -ENOENT no header, -ENOEXEC not a format 2 header.
 */
int child_attach(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  uint64_t snap_id = 0;
  if (!peek_snap_id(in, &snap_id) || snap_id != NOSNAP) {
    return StockClass::call("child_attach", hctx, in, out);
  }
  return attach_head_child(hctx, in);
}

/**
 * Input: u64 snap_id, ChildImageSpec child.  Output: none.
 * NOSNAP: unregisters a HEAD child; -ENOENT if it is not registered.
 */
int child_detach(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  uint64_t snap_id = 0;
  if (!peek_snap_id(in, &snap_id) || snap_id != NOSNAP) {
    return StockClass::call("child_detach", hctx, in, out);
  }
  return detach_head_child(hctx, in);
}

/**
 * Input: u64 snap_id.  Output: set<ChildImageSpec>.
 * NOSNAP: every HEAD child (an empty set when there are none).  Large
 * registries should be read with standalone_children_list instead.
 */
int children_list(cls_method_context_t hctx, ceph::bufferlist* in, ceph::bufferlist* out) {
  uint64_t snap_id = 0;
  if (!peek_snap_id(in, &snap_id) || snap_id != NOSNAP) {
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
    std::vector<ChildImageSpec> page;
    r = list_children(hctx, after, MAX_CHILDREN_PER_PAGE, &page, &more);
    if (r < 0) {
      return r;
    }
    if (page.empty()) {
      break;
    }
    children.insert(page.begin(), page.end());
    after = head_child_key(page.back());
  }
  out->append(omap::to_bufferlist(encode_child_set(children)));
  return 0;
}

/**
 * One page of HEAD children, in ChildImageSpec order.
 * Input: ChildImageSpec start_after (pool -1: from the start), u64 max
 * (1..4096).  Output: u32 n, n x ChildImageSpec, u8 more.
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
  std::string after = start_after.pool_id < 0 ? std::string(HEAD_CHILD_KEY_PREFIX)
                                              : head_child_key(start_after);
  std::vector<ChildImageSpec> page;
  bool more = false;
  r = list_children(hctx, after, max, &page, &more);
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

}  // namespace cls::rbd::standalone
