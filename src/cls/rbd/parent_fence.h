// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The fence of a parent that has standalone (HEAD) children: what makes it
// read-only for every client while a child reads through it.  It is kept
// in on-disk state that stock code itself enforces, so it holds for stock
// clients and on an OSD that runs the stock cls_rbd without the overlay:
//
//   features |= non-primary      stock librbd opens the image (read-write
//                                or not) as read-only: every write, resize,
//                                snapshot, feature or metadata change fails
//                                with EROFS; reads work for every client
//   op_features |= 1 << 40       unknown to every client: librbd disables
//   (the standalone-parent        management operations (rm, rename, trash
//    marker) + `operations`       rm: EROFS)
//   rbd_lock held exclusively    a writer that passed its refresh before
//   with the fence's tag         the fence (and so thinks it may write)
//                                must acquire the exclusive lock first: an
//                                external tag makes it wait, never break it
//
// Raising and lowering the fence happen inside the class call that adds the
// first registry entry or removes the last one, so the registry and the
// fence change together, atomically.

#ifndef CLS_RBD_STANDALONE_PARENT_FENCE_H
#define CLS_RBD_STANDALONE_PARENT_FENCE_H

#include <rados/objclass.h>

#include <string>

namespace cls::rbd::standalone::fence {

enum class LockHolder : uint8_t { NONE = 0, FENCE = 1, OTHER = 2 };

struct Status {
  uint64_t features = 0;
  uint64_t op_features = 0;
  bool marker = false;       // op-feature bit 40
  bool non_primary = false;  // feature bit 10
  LockHolder lock = LockHolder::NONE;
  std::string lock_owner;    // "client.<n> (cookie)" when held by another
  // The registry key of the child whose attach raised the fence ("" when
  // raised by a repair, or by overlay v3 before this key existed): lets
  // that clone tell it raised the fence even if a concurrent last detach
  // lowered it after the clone last looked.
  std::string raised_for;
  bool complete() const { return marker && non_primary && lock == LockHolder::FENCE; }
};

int read_status(cls_method_context_t hctx, Status* status);

// Completes the fence (whatever of it is missing).  -EBUSY when the image's
// exclusive lock is held by another client (a writer).  A new fence also
// needs the exclusive-lock feature (-EINVAL) and an image that is not
// non-primary (-EROFS: a mirror secondary, which its mirror daemon writes).
int raise(cls_method_context_t hctx, const Status& status, bool new_fence,
          const std::string& raised_for = {});

// The omap key holding Status::raised_for (sorts before "snapshot_").
constexpr const char* RAISED_FOR_KEY = "head_fence_raised_for";

// Removes every part of the fence.
int lower(cls_method_context_t hctx, const Status& status);

// Whether the OSD can run the fence (the lock class is in the class dir).
bool supported(std::string* why);

}  // namespace cls::rbd::standalone::fence

#endif  // CLS_RBD_STANDALONE_PARENT_FENCE_H
