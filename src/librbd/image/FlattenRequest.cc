// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/image/FlattenRequest.h"

#include <rbd/features.h>
#include <rbd/librbd.hpp>

#include <cerrno>

#include "cls/rbd/cls_rbd_client.h"
#include "cls/rbd/cls_rbd_types.h"
#include "librbd/Utils.h"
#include "rbd/standalone.hpp"

namespace librbd::standalone::image {

namespace {

using cls::rbd::standalone::Encoder;
namespace cl = cls::rbd::standalone::client;

constexpr uint64_t NOSNAP = 0xfffffffffffffffeULL;

class NoProgress : public librbd::ProgressContext {
public:
  int update_progress(uint64_t, uint64_t) override { return 0; }
};

}  // namespace

FlattenRequest::FlattenRequest(librados::IoCtx& ioctx, const std::string& name,
                               std::function<int()> flatten)
    : m_ioctx(ioctx), m_name(name), m_flatten(std::move(flatten)) {}

int FlattenRequest::send() {
  int r = inspect();
  if (r < 0) {
    return r;
  }
  if (!m_has_parent) {
    // A flatten that died after detaching: only the flag is left to clear
    // (then the flatten step reports "no parent", as stock does).
    if ((r = rebuild_map()) < 0) {
      return r;
    }
  } else if (m_has_map && (r = mark_map_invalid()) < 0) {
    return r;
  }
  if ((r = flatten()) < 0) {
    return r;
  }
  return rebuild_map();
}

int FlattenRequest::inspect() {
  librbd::RBD rbd;
  librbd::Image image;
  int r = rbd.open_read_only(m_ioctx, image, m_name.c_str(), nullptr);
  if (r < 0) {
    return util::fail(r, "error opening image " + m_name);
  }
  uint64_t features = 0;
  ParentInfo parent;  // stock get_parent does not see a standalone parent
  image.features(&features);
  image.get_flags(&m_flags);
  image.get_id(&m_id);
  m_has_map = (features & RBD_FEATURE_OBJECT_MAP) != 0;
  m_has_parent = get_parent(image, &parent) == 0;
  return 0;
}

int FlattenRequest::mark_map_invalid() {
  // Stock set_flags: u64 flags, u64 mask, u64 snap id.
  Encoder e;
  e.u64(RBD_FLAG_OBJECT_MAP_INVALID);
  e.u64(RBD_FLAG_OBJECT_MAP_INVALID);
  e.u64(NOSNAP);
  std::string oid = util::header_oid(m_id);
  int r = cl::exec(m_ioctx, oid, "set_flags", e.bytes(), nullptr);
  if (r < 0) {
    return util::fail(r, "cannot mark the object map of " + m_name +
                             " invalid before flattening it");
  }
  m_flags |= RBD_FLAG_OBJECT_MAP_INVALID;
  util::notify_header(m_ioctx, oid);
  return 0;
}

int FlattenRequest::flatten() {
  if (m_flatten) {
    return m_flatten();
  }
  if (!m_has_parent) {
    return util::fail(-EINVAL, "image " + m_name + " has no parent");
  }
  librbd::RBD rbd;
  librbd::Image image;
  int r = rbd.open(m_ioctx, image, m_name.c_str());
  if (r < 0) {
    return util::fail(r, "error opening image " + m_name);
  }
  uint64_t flags = 0;
  if (m_has_map && (image.get_flags(&flags) < 0 ||
                    (flags & RBD_FLAG_OBJECT_MAP_INVALID) == 0)) {
    return util::fail(-EAGAIN, "the object map of " + m_name +
                                   " is not flagged invalid: not flattening (try again)");
  }
  r = image.flatten();
  return r < 0 ? util::fail(r, "error flattening image " + m_name) : 0;
}

int FlattenRequest::rebuild_map() {
  if (!m_has_map || (m_flags & RBD_FLAG_OBJECT_MAP_INVALID) == 0) {
    return 0;
  }
  librbd::RBD rbd;
  librbd::Image image;
  int r = rbd.open(m_ioctx, image, m_name.c_str());
  if (r < 0) {
    return util::fail(r, "error opening image " + m_name);
  }
  ParentInfo parent;
  if (get_parent(image, &parent) == 0) {
    return 0;  // not flattened (the caller's flatten failed): keep the flag
  }
  NoProgress progress;
  r = image.rebuild_object_map(progress);
  return r < 0 ? util::fail(r, "image " + m_name + " is flattened, but its object map "
                                   "is left flagged invalid: run 'rbd object-map rebuild'")
               : 0;
}

}  // namespace librbd::standalone::image
