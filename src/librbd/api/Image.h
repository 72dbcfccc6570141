// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Children and parents of images, with their parent type.

#ifndef LIBRBD_STANDALONE_API_IMAGE_H
#define LIBRBD_STANDALONE_API_IMAGE_H

#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include <string>
#include <vector>

#include "cls/rbd/cls_rbd_types.h"
#include "rbd/standalone.hpp"

namespace librbd::standalone::api {

// HEAD children registered on the header of image `image_id` (all pages).
int list_head_children(librados::IoCtx& ioctx, const std::string& image_id,
                       std::vector<cls::rbd::standalone::HeadChildEntry>* children);
// Whether one of the first `max` registered HEAD children still reads (or
// may read: a clone in progress, a header this client cannot read) through
// image `image_id`: enough to refuse its removal without reading them all.
int some_head_child_linked(librados::IoCtx& ioctx, const std::string& image_id,
                           uint64_t max, bool* linked);
// The number of those HEAD children, counted on the OSD.
int count_head_children(librados::IoCtx& ioctx, const std::string& image_id,
                        uint64_t* count);

// Children of `name` (flags: RBD_LIST_CHILDREN_*), each with its parent
// type and whether its registration is stale; sorted by pool, namespace,
// name within each level.  Completes finished detaches on the way: a
// DETACHING entry whose child no longer reads through the parent is
// dropped (and the parent's fence lowered with the last one).
int list_children(librados::IoCtx& ioctx, const std::string& name, int flags,
                  std::vector<ChildInfo>* children);

// Drops stale registrations (MISSING, NOT_LINKED), revoking the expired
// link intent of a clone that died first; never a clone in progress.
int prune_children(librados::IoCtx& ioctx, const std::string& name, size_t* pruned);
int count_children(librados::IoCtx& ioctx, const std::string& name, uint64_t* count);

int get_parent(librbd::Image& image, ParentInfo* info);

int find_standalone_link(librados::IoCtx& ioctx, const std::string& name, StandaloneLink* link);
int complete_detach(librados::IoCtx& any, const StandaloneLink& link);

}  // namespace librbd::standalone::api

#endif  // LIBRBD_STANDALONE_API_IMAGE_H
