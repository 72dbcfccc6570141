// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#ifndef LIBRBD_STANDALONE_IMAGE_CLONE_REQUEST_H
#define LIBRBD_STANDALONE_IMAGE_CLONE_REQUEST_H

#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace librbd::standalone::image {

/**
 * Creates a standalone clone: a new image that reads through to another
 * image's HEAD.  Runs synchronously; every step that changed something
 * has an undo, run in reverse order when a later step fails.
 *
 * @verbatim
 *
 * <start>
 *    |
 *    v
 * VALIDATE                 parent exists (no @snap), child name free,
 *    |                     options valid, rbd_standalone_clone_* options
 *    v
 * CHECK_PARENT_OVERLAY     the OSD serving the parent's header runs the
 *    |                     cls_rbd overlay (else -EOPNOTSUPP)
 *    v
 * CREATE_CHILD  . . . . . . . . . . . . . . . . . . .  undo: REMOVE_CHILD
 *    |                     stock create: features default to the parent's
 *    v
 * CHECK_CHILD_OVERLAY      the OSD serving the child's header runs it too
 *    |
 *    v
 * REGISTER_ON_PARENT  . . . . . . . . . . . . . . . .  undo: UNREGISTER
 *    |                     child_attach(CEPH_NOSNAP); the first child sets
 *    |                     the marker: no new writer can open the parent
 *    v
 * CHECK_WRITERS            header-update notify makes open clients
 *    |                     refresh; a remaining watcher or exclusive-lock
 *    |                     owner is a writer: -EBUSY naming it; the
 *    |                     parent's size must not have changed
 *    v
 * LINK_CHILD               standalone_parent_attach on the child: the
 *    |                     child now reads through (atomic, last step)
 *    v
 * <finish>
 *
 * @endverbatim
 *
 * Crash safety: the parent is protected (REGISTER) before the child points
 * at it (LINK), so a crash leaves at worst a registration whose child does
 * not point back, which `rbd children` reports as stale and can prune.
 */
class CloneRequest {
public:
  enum Step {
    VALIDATE,
    CHECK_PARENT_OVERLAY,
    CREATE_CHILD,
    CHECK_CHILD_OVERLAY,
    REGISTER_ON_PARENT,
    CHECK_WRITERS,
    LINK_CHILD,
    STEP_COUNT
  };
  static const char* step_name(Step step);

  CloneRequest(librados::IoCtx& parent_ioctx, const std::string& parent_name,
               librados::IoCtx& child_ioctx, const std::string& child_name,
               librbd::ImageOptions& opts);

  // Tests: make `step` fail with `r` before it runs.
  void inject_fault(Step step, int r) { m_faults[step] = r; }

  // 0 or a negative errno; util::last_error() has the message.
  int send();

private:
  int validate();
  int check_overlay(librados::IoCtx& ioctx, const std::string& image_id,
                    const std::string& which);
  int create_child();
  int register_on_parent();
  int check_writers();
  int link_child();
  void rollback();

  librados::IoCtx& m_parent_ioctx;
  std::string m_parent_name;
  librados::IoCtx& m_child_ioctx;
  std::string m_child_name;
  librbd::ImageOptions m_opts;  // a copy: the caller's options stay as given

  std::map<Step, int> m_faults;
  std::vector<std::function<void()>> m_undo;

  // Learned by VALIDATE.
  std::string m_parent_id;
  uint64_t m_parent_size = 0;
  uint64_t m_features = 0;
  std::string m_child_id;
};

}  // namespace librbd::standalone::image

#endif  // LIBRBD_STANDALONE_IMAGE_CLONE_REQUEST_H
