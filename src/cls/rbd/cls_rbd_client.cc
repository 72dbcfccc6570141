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
                             std::vector<ChildImageSpec>* children, bool* more) {
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
      ChildImageSpec c;
      c.decode(d);
      children->push_back(c);
    }
    *more = d.boolean();
  });
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
