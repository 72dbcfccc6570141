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
 * VALIDATE                 parent exists (no @snap), its parent chain has
 *    |                     no loop, child name free, options valid,
 *    |                     rbd_standalone_clone_* options
 *    v
 * CHECK_PARENT_OVERLAY     the OSD serving the parent's header runs the
 *    |                     cls_rbd overlay v3+ (else -EOPNOTSUPP)
 *    v
 * CREATE_CHILD  . . . . . . . . . . . . . . . . . . .  undo: REMOVE_CHILD
 *    |                     stock create: features default to the parent's
 *    v
 * CHECK_CHILD_OVERLAY      the OSD serving the child's header runs it too
 *    |
 *    v
 * PREPARE_LINK             link intent on the child (expires after
 *    |                     LINK_INTENT_SECONDS): a prune that finds the
 *    |                     registration below without a link leaves it
 *    |                     alone, or revokes the expired intent first
 *    v
 * REGISTER_ON_PARENT  . . . . . . . . . . . . . . . .  undo: UNREGISTER
 *    |                     standalone_child_attach: the first child raises
 *    |                     the fence (non-primary, marker, rbd_lock) in the
 *    |                     same OSD call; -EBUSY if a writer holds the
 *    |                     exclusive lock.  Without write access to the
 *    |                     parent's pool: child_attach(NOSNAP), which only
 *    |                     joins an already fenced parent
 *    v
 * CHECK_WRITERS            only if this clone raised the fence: notify, so
 *    |                     open clients refresh (and turn read-only); a
 *    |                     remaining watcher opened the parent read-write:
 *    |                     -EBUSY naming it.  The parent's size must not
 *    |                     have changed since VALIDATE, and it must still
 *    |                     be in the directory (a stock rm that moved it
 *    |                     to the trash meanwhile: -ENOENT)
 *    v
 * LINK_CHILD               standalone_parent_attach on the child: consumes
 *    |                     the intent; the child now reads through
 *    v
 * NOTIFY_PARENT            if this clone raised the fence: a client that
 *    |                     opened the parent read-write during the clone
 *    v                     refreshes and fails writes with EROFS instead
 * <finish>                 of waiting for the fence's lock
 *
 * @endverbatim
 *
 * Crash safety: the parent is fenced (REGISTER) before the child points at
 * it (LINK), so a crash leaves at worst a registration whose child does not
 * point back: `rbd children` shows it IN_PROGRESS until the intent expires,
 * then stale; `--prune` revokes the intent and drops it.
 */
class CloneRequest {
public:
  enum Step {
    VALIDATE,
    CHECK_PARENT_OVERLAY,
    CREATE_CHILD,
    CHECK_CHILD_OVERLAY,
    PREPARE_LINK,
    REGISTER_ON_PARENT,
    CHECK_WRITERS,
    LINK_CHILD,
    NOTIFY_PARENT,
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
  int prepare_link();
  int register_on_parent();
  int check_writers();
  int check_parent_unchanged();
  int link_child();
  int notify_parent();
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
  uint64_t m_parent_features = 0;
  uint64_t m_features = 0;
  std::string m_child_id;
  bool m_raised_fence = false;
};

}  // namespace librbd::standalone::image

#endif  // LIBRBD_STANDALONE_IMAGE_CLONE_REQUEST_H
