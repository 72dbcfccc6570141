// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The seed's per-object states of a child, derived, never stored: RBD's
// on-disk object map stays the stock 2-bit map (so stock object-map
// check/rebuild keep working).  An object is
//   EXISTS         the child has it and inherits nothing there,
//   COPIEDUP       the child has it and it replaces inherited data,
//   EXISTS_PARENT  the child lacks it and reads it through the parent,
//   NONEXISTENT    neither.
// Existence comes from the stock librbd (diff_iterate, fast-diff backed);
// the parent side is the parent chain clipped to the child's overlap.

#ifndef LIBRBD_STANDALONE_API_OBJECT_MAP_H
#define LIBRBD_STANDALONE_API_OBJECT_MAP_H

#include <rados/librados.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace librbd::standalone::api {

// The object numbers an image extent touches, for a striped layout.
struct Layout {
  uint64_t object_size;
  uint64_t stripe_unit;
  uint64_t stripe_count;
  uint64_t object_no(uint64_t offset) const;
};

// One RBD_OBJECT_STATE_* per object of image `name`.
int object_states(librados::IoCtx& ioctx, const std::string& name,
                  std::vector<uint8_t>* states);

}  // namespace librbd::standalone::api

#endif  // LIBRBD_STANDALONE_API_OBJECT_MAP_H
