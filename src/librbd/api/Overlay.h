// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Which OSDs run the cls_rbd standalone-clone overlay.  A class method runs
// on the primary OSD of the object it is called on, so each OSD is asked
// through an existing object it is primary for (mapped with the mon's `osd
// map`).  Nothing is written; an OSD that is primary only of empty PGs
// cannot be asked.

#ifndef LIBRBD_STANDALONE_API_OVERLAY_H
#define LIBRBD_STANDALONE_API_OVERLAY_H

#include <rados/librados.hpp>

#include <string>
#include <vector>

#include "rbd/standalone.hpp"

namespace librbd::standalone::api {

// Sorted by OSD id; see rbd_standalone_osd_overlay_t.


int overlay_status(librados::Rados& rados, std::vector<OsdOverlay>* osds);

// The acting primary of `oid` in the ioctx's pool and namespace.
int primary_osd(librados::IoCtx& ioctx, const std::string& oid, int* osd);

}  // namespace librbd::standalone::api

#endif  // LIBRBD_STANDALONE_API_OVERLAY_H
