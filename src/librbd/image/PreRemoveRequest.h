// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#ifndef LIBRBD_STANDALONE_IMAGE_PRE_REMOVE_REQUEST_H
#define LIBRBD_STANDALONE_IMAGE_PRE_REMOVE_REQUEST_H

#include <rados/librados.hpp>

#include <string>

namespace librbd::standalone::image {

/**
 * Runs before the stock removal of an image (which itself refuses
 * snapshots, watchers, groups and, through the parent's fence, any parent
 * with standalone children, with a less helpful EROFS).
 *
 * @verbatim
 *
 * <start>
 *    |
 *    v
 * COUNT_HEAD_CHILDREN    on the OSD; none: done
 *    |
 *    v
 * CHECK_FIRST_CHILDREN   the first 64 entries' links: one live child
 *    |                   (or a clone in progress) and the removal is
 *    |                   refused at once
 *    v
 * PRUNE                  check each child: entries whose detach was asked
 *    |                   (stock flatten/rm of the child) and finished, and
 *    |                   stale ones (child gone, not linked, or a clone
 *    |                   intent expired and revoked) are dropped, lowering
 *    |                   the fence with the last; a clone in progress stays
 *    v
 * CHECK_HEAD_CHILDREN    -EBUSY "image has N standalone child(ren) - not
 *    |                   removing" while entries remain
 *    v
 * <finish>               then the stock removal; removing a standalone
 *                        child detaches it from its parent
 *                        (child_detach(CEPH_NOSNAP), run by stock librbd)
 * @endverbatim
 */
class PreRemoveRequest {
public:
  PreRemoveRequest(librados::IoCtx& ioctx, const std::string& image_id,
                   const std::string& image_name)
      : m_ioctx(ioctx), m_image_id(image_id), m_image_name(image_name) {}

  int send();

private:
  librados::IoCtx& m_ioctx;
  std::string m_image_id;
  std::string m_image_name;
};

}  // namespace librbd::standalone::image

#endif  // LIBRBD_STANDALONE_IMAGE_PRE_REMOVE_REQUEST_H
