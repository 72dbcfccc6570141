// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/image/PreRemoveRequest.h"

#include <cerrno>
#include <string>
#include <vector>

#include "librbd/Utils.h"
#include "librbd/api/Image.h"

namespace librbd::standalone::image {

namespace {
// Entries checked before refusing: one live child is enough to refuse, so
// the refusal costs the same at any number of children.
constexpr uint64_t FIRST_CHECKED = 64;
}  // namespace

int PreRemoveRequest::send() {
  uint64_t children = 0;
  int r = api::count_head_children(m_ioctx, m_image_id, &children);
  if (r < 0) {
    return util::fail(r, "cannot count the standalone children of " + m_image_name);
  }
  bool linked = false;
  if (children > 0 &&
      (r = api::some_head_child_linked(m_ioctx, m_image_id, FIRST_CHECKED, &linked)) < 0) {
    return util::fail(r, "cannot check the standalone children of " + m_image_name);
  }
  if (children > 0 && !linked) {
    // None of the first entries is a live child: finish the detaches stock
    // flatten/rm asked for and drop registrations whose child is gone or
    // can no longer link (never a clone in progress), then count again.
    size_t pruned = 0;
    r = api::prune_children(m_ioctx, m_image_name, &pruned);
    if (r < 0) {
      return r;
    }
    r = api::count_head_children(m_ioctx, m_image_id, &children);
    if (r < 0) {
      return util::fail(r, "cannot count the standalone children of " + m_image_name);
    }
  }
  if (children > 0) {
    return util::fail(-EBUSY, "image has " + std::to_string(children) +
                                  " standalone child(ren) - not removing (flatten or "
                                  "remove them first; 'rbd children' shows them)");
  }
  return 0;
}

}  // namespace librbd::standalone::image
