// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "cls/rbd/cls_rbd_client.h"

#include <cerrno>

namespace cls::rbd::standalone::client {

namespace {

// A reply that does not decode means a class we do not understand.
template <typename F>
int decode_reply(const std::string& reply, F&& fn) {
  try {
    Decoder d(reply);
    fn(d);
  } catch (const DecodeError&) {
    return -EBADMSG;
  }
  return 0;
}

std::string snap_and(uint64_t snap_id, const std::string& rest = {}) {
  Encoder e;
  e.u64(snap_id);
  e.raw(rest);
  return e.take();
}

}  // namespace

int exec(librados::IoCtx& ioctx, const std::string& oid, const char* method,
         const std::string& in, std::string* out) {
  librados::bufferlist inbl;
  librados::bufferlist outbl;
  inbl.append(in.data(), in.size());
  int r = ioctx.exec(oid, "rbd", method, inbl, outbl);
  if (r < 0) {
    return r;
  }
  if (out != nullptr) {
    out->assign(outbl.c_str(), outbl.length());
  }
  return 0;
}

int exec_string(librados::IoCtx& ioctx, const std::string& oid, const char* method,
                const std::string& in, std::string* value) {
  std::string reply;
  int r = exec(ioctx, oid, method, in, &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [value](Decoder& d) { *value = d.str(); });
}

int overlay_info(librados::IoCtx& ioctx, const std::string& oid, OverlayInfo* info) {
  std::string reply;
  int r = exec(ioctx, oid, "standalone_overlay_info", {}, &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [info](Decoder& d) {
    d.envelope(1, [info](Decoder& in, const Decoder::Envelope&) {
      info->version = in.u32();
      info->ceph_version = in.str();
      info->parent_op_feature = in.u64();
      info->parent_incompat_feature = in.u64();
    });
  });
}

int child_attach(librados::IoCtx& ioctx, const std::string& oid, uint64_t snap_id,
                 const ChildImageSpec& child) {
  return exec(ioctx, oid, "child_attach", snap_and(snap_id, encode_to_string(child)), nullptr);
}

int child_detach(librados::IoCtx& ioctx, const std::string& oid, uint64_t snap_id,
                 const ChildImageSpec& child) {
  return exec(ioctx, oid, "child_detach", snap_and(snap_id, encode_to_string(child)), nullptr);
}

int children_list(librados::IoCtx& ioctx, const std::string& oid, uint64_t snap_id,
                  std::set<ChildImageSpec>* children) {
  std::string reply;
  int r = exec(ioctx, oid, "children_list", snap_and(snap_id), &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [&](Decoder&) { *children = decode_child_set(reply); });
}

int standalone_children_list(librados::IoCtx& ioctx, const std::string& oid,
                             const ChildImageSpec& start_after, uint64_t max,
                             std::vector<HeadChildEntry>* children, bool* more) {
  Encoder e;
  start_after.encode(e);
  e.u64(max);
  std::string reply;
  int r = exec(ioctx, oid, "standalone_children_list", e.bytes(), &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [&](Decoder& d) {
    children->clear();
    for (uint32_t n = d.u32(); n > 0; --n) {
      HeadChildEntry c;
      c.decode(d);
      children->push_back(c);
    }
    *more = d.boolean();
  });
}

int standalone_child_attach(librados::IoCtx& ioctx, const std::string& oid,
                            const ChildImageSpec& child) {
  return exec(ioctx, oid, "standalone_child_attach", encode_to_string(child), nullptr);
}

int standalone_child_remove(librados::IoCtx& ioctx, const std::string& oid,
                            const ChildImageSpec& child) {
  return exec(ioctx, oid, "standalone_child_remove", encode_to_string(child), nullptr);
}

int standalone_fence_status(librados::IoCtx& ioctx, const std::string& oid,
                            FenceStatus* status) {
  std::string reply;
  int r = exec(ioctx, oid, "standalone_fence_status", {}, &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [status](Decoder& d) {
    d.envelope(1, [status](Decoder& in, const Decoder::Envelope& env) {
      status->marker = in.boolean();
      status->non_primary = in.boolean();
      status->lock = in.u8();
      status->lock_owner = in.str();
      status->has_children = in.boolean();
      status->raised_for = env.struct_v >= 2 ? in.str() : std::string();
    });
  });
}

int standalone_fence_repair(librados::IoCtx& ioctx, const std::string& oid) {
  return exec(ioctx, oid, "standalone_fence_repair", {}, nullptr);
}

int standalone_children_count(librados::IoCtx& ioctx, const std::string& oid,
                              uint64_t* count) {
  std::string reply;
  int r = exec(ioctx, oid, "standalone_children_count", {}, &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [count](Decoder& d) { *count = d.u64(); });
}

int standalone_parent_attach(librados::IoCtx& ioctx, const std::string& oid,
                             const ParentImageSpec& parent, uint64_t overlap) {
  Encoder e;
  parent.encode(e);
  e.u64(overlap);
  return exec(ioctx, oid, "standalone_parent_attach", e.bytes(), nullptr);
}

int standalone_parent_detach(librados::IoCtx& ioctx, const std::string& oid,
                             const ParentImageSpec& parent) {
  return exec(ioctx, oid, "standalone_parent_detach", encode_to_string(parent), nullptr);
}

int standalone_parent_prepare(librados::IoCtx& ioctx, const std::string& oid,
                              const ParentImageSpec& parent, uint64_t timeout_seconds) {
  Encoder e;
  parent.encode(e);
  e.u64(timeout_seconds);
  return exec(ioctx, oid, "standalone_parent_prepare", e.bytes(), nullptr);
}

int standalone_parent_abort(librados::IoCtx& ioctx, const std::string& oid,
                            const ParentImageSpec& parent, bool only_if_expired) {
  Encoder e;
  parent.encode(e);
  e.u64(only_if_expired ? 1 : 0);
  return exec(ioctx, oid, "standalone_parent_abort", e.bytes(), nullptr);
}

int standalone_link_state(librados::IoCtx& ioctx, const std::string& oid,
                          const ParentImageSpec& parent, LinkState* state) {
  std::string reply;
  int r = exec(ioctx, oid, "standalone_link_state", encode_to_string(parent), &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [state](Decoder& d) { *state = static_cast<LinkState>(d.u8()); });
}

int get_features(librados::IoCtx& ioctx, const std::string& oid, bool read_only,
                 uint64_t* features, uint64_t* incompatible) {
  Encoder e;
  e.u64(NOSNAP);
  e.boolean(read_only);
  std::string reply;
  int r = exec(ioctx, oid, "get_features", e.bytes(), &reply);
  if (r < 0) {
    return r;
  }
  return decode_reply(reply, [&](Decoder& d) {
    *features = d.u64();
    *incompatible = d.u64();
  });
}

}  // namespace cls::rbd::standalone::client
