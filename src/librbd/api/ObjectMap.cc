// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/api/ObjectMap.h"

#include <algorithm>
#include <cerrno>

#include "librbd/Utils.h"
#include "librbd/api/Image.h"
#include "rbd/standalone.h"

namespace librbd::standalone::api {

namespace {

struct Marker {
  const Layout* layout;
  uint64_t limit;  // extents at or past this offset are ignored
  std::vector<bool>* present;
};

int mark_extent(uint64_t offset, size_t length, int exists, void* arg) {
  auto* m = static_cast<Marker*>(arg);
  if (!exists) {
    return 0;
  }
  uint64_t end = std::min<uint64_t>(offset + length, m->limit);
  for (uint64_t off = offset; off < end;
       off = (off / m->layout->stripe_unit + 1) * m->layout->stripe_unit) {
    uint64_t no = m->layout->object_no(off);
    if (no < m->present->size()) {
      (*m->present)[no] = true;
    }
  }
  return 0;
}

int layout_of(librbd::Image& image, Layout* layout, uint64_t* size) {
  librbd::image_info_t info;
  int r = image.stat(info, sizeof(info));
  if (r < 0) {
    return r;
  }
  layout->stripe_unit = image.get_stripe_unit();
  layout->stripe_count = image.get_stripe_count();
  layout->object_size = info.obj_size;
  *size = info.size;
  return 0;
}

// How many objects an image of `size` spans (Striper::get_num_objects).
// Not object_no(size - 1) + 1: with stripe_count > 1 the last byte can sit
// in an earlier object of its object set than bytes before it.
uint64_t object_count(const Layout& layout, uint64_t size) {
  uint64_t period = layout.stripe_count * layout.object_size;
  uint64_t periods = (size + period - 1) / period;
  uint64_t remainder = size % period;
  uint64_t missing = 0;
  if (remainder > 0 && remainder < layout.stripe_count * layout.stripe_unit) {
    missing = layout.stripe_count - (remainder + layout.stripe_unit - 1) / layout.stripe_unit;
  }
  return periods * layout.stripe_count - missing;
}

}  // namespace

uint64_t Layout::object_no(uint64_t offset) const {
  uint64_t stripes_per_object = object_size / stripe_unit;
  uint64_t block = offset / stripe_unit;
  uint64_t stripe = block / stripe_count;
  uint64_t pos = block % stripe_count;
  uint64_t object_set = stripe / stripes_per_object;
  return object_set * stripe_count + pos;
}

int object_states(librados::IoCtx& ioctx, const std::string& name,
                  std::vector<uint8_t>* states) {
  librbd::RBD rbd;
  librbd::Image image;
  int r = rbd.open_read_only(ioctx, image, name.c_str(), nullptr);
  if (r < 0) {
    return util::fail(r, "error opening image " + name);
  }
  Layout layout{};
  uint64_t size = 0;
  r = layout_of(image, &layout, &size);
  if (r < 0) {
    return util::fail(r, "cannot read the layout of " + name);
  }
  uint64_t objects = object_count(layout, size);
  std::vector<bool> own(objects, false), inherited(objects, false);

  Marker child{&layout, size, &own};
  r = image.diff_iterate2(nullptr, 0, size, false, true, mark_extent, &child);
  if (r < 0) {
    return util::fail(r, "cannot list the objects of " + name);
  }
  ParentInfo parent;
  r = api::get_parent(image, &parent);
  if (r < 0 && r != -ENOENT) {
    return util::fail(r, "cannot read the parent of " + name);
  }
  if (r == 0 && parent.overlap > 0) {
    // The parent chain's data, in image offsets clipped to the overlap,
    // mapped through the child's layout (the two may differ).
    librados::IoCtx pioctx;
    librbd::Image pimage;
    r = util::ioctx_for(ioctx, parent.pool_id, parent.pool_namespace, &pioctx);
    if (r == 0) {
      r = rbd.open_by_id_read_only(pioctx, pimage, parent.image_id.c_str(), nullptr);
    }
    if (r == 0 && parent.parent_type == RBD_PARENT_TYPE_SNAPSHOT) {
      r = pimage.snap_set_by_id(parent.snap_id);
    }
    Marker through{&layout, parent.overlap, &inherited};
    if (r == 0) {
      r = pimage.diff_iterate2(nullptr, 0, parent.overlap, true, true, mark_extent, &through);
    }
    if (r < 0) {
      return util::fail(r, "cannot list the objects of the parent of " + name);
    }
  }
  states->assign(objects, RBD_OBJECT_STATE_NONEXISTENT);
  for (uint64_t i = 0; i < objects; ++i) {
    if (own[i]) {
      (*states)[i] = inherited[i] ? RBD_OBJECT_STATE_COPIEDUP : RBD_OBJECT_STATE_EXISTS;
    } else if (inherited[i]) {
      (*states)[i] = RBD_OBJECT_STATE_EXISTS_PARENT;
    }
  }
  return 0;
}

}  // namespace librbd::standalone::api
