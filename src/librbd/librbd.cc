// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The C and C++ APIs of the standalone-clone library (rbd/standalone.h,
// rbd/standalone.hpp): argument plumbing around the requests and api/.

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cls/rbd/cls_rbd_client.h"
#include "librbd/Utils.h"
#include "librbd/api/Image.h"
#include "librbd/api/ObjectMap.h"
#include "librbd/api/Overlay.h"
#include "librbd/image/CloneRequest.h"
#include "librbd/image/FlattenRequest.h"
#include "librbd/image/PreRemoveRequest.h"
#include "rbd/standalone.h"
#include "rbd/standalone.hpp"

namespace librbd::standalone {

int clone(librados::IoCtx& p_ioctx, const char* p_name, librados::IoCtx& c_ioctx,
          const char* c_name, ImageOptions& c_opts) {
  image::CloneRequest req(p_ioctx, p_name ? p_name : "", c_ioctx, c_name ? c_name : "",
                          c_opts);
  return req.send();
}

int list_children(librados::IoCtx& ioctx, const std::string& name, int flags,
                  std::vector<ChildInfo>* children) {
  util::set_error("");
  return api::list_children(ioctx, name, flags, children);
}

int prune_children(librados::IoCtx& ioctx, const std::string& name, size_t* pruned) {
  util::set_error("");
  return api::prune_children(ioctx, name, pruned);
}

int count_children(librados::IoCtx& ioctx, const std::string& name, uint64_t* count) {
  util::set_error("");
  return api::count_children(ioctx, name, count);
}

int get_parent(Image& image, ParentInfo* info) {
  util::set_error("");
  return api::get_parent(image, info);
}

int object_states(librados::IoCtx& ioctx, const std::string& name,
                  std::vector<uint8_t>* states) {
  util::set_error("");
  return api::object_states(ioctx, name, states);
}

int pre_remove(librados::IoCtx& ioctx, const std::string& name) {
  util::set_error("");
  std::string id;
  int r = util::image_id_by_name(ioctx, name, &id);
  if (r < 0) {
    return util::fail(r, "error opening image " + name);
  }
  return image::PreRemoveRequest(ioctx, id, name).send();
}

int find_standalone_link(librados::IoCtx& ioctx, const std::string& name,
                         StandaloneLink* link) {
  util::set_error("");
  return api::find_standalone_link(ioctx, name, link);
}

int complete_detach(librados::IoCtx& any, const StandaloneLink& link) {
  util::set_error("");
  int r = api::complete_detach(any, link);
  return r < 0 ? util::fail(r, "cannot complete the detach from parent image " +
                                   link.parent_id + " (run 'rbd children' on it later)")
               : 0;
}

namespace {

// Runs a stock operation on a possible standalone child, then completes
// the detach it asked for on the parent.
template <typename F>
int with_detach(librados::IoCtx& ioctx, const std::string& name, F&& op) {
  StandaloneLink link;
  bool linked = api::find_standalone_link(ioctx, name, &link) == 0;
  int r = op();
  if (r < 0 || !linked) {
    return r;
  }
  return complete_detach(ioctx, link);
}

}  // namespace

int remove(librados::IoCtx& ioctx, const std::string& name) {
  int r = pre_remove(ioctx, name);
  if (r < 0) {
    return r;
  }
  return with_detach(ioctx, name, [&] {
    librbd::RBD rbd;
    int r = rbd.remove(ioctx, name.c_str());
    return r < 0 ? util::fail(r, "error removing image " + name) : 0;
  });
}

int flatten(librados::IoCtx& ioctx, const std::string& name) {
  util::set_error("");
  return with_detach(ioctx, name, [&] {
    return image::FlattenRequest(ioctx, name).send();
  });
}

int overlay_status(librados::Rados& rados, std::vector<OsdOverlay>* osds) {
  util::set_error("");
  return api::overlay_status(rados, osds);
}

int overlay_version(librados::IoCtx& ioctx, const std::string& name, uint32_t* version) {
  util::set_error("");
  std::string id;
  int r = util::image_id_by_name(ioctx, name, &id);
  if (r < 0) {
    return util::fail(r, "error opening image " + name);
  }
  cls::rbd::standalone::client::OverlayInfo info;
  r = cls::rbd::standalone::client::overlay_info(ioctx, util::header_oid(id), &info);
  if (r < 0) {
    return util::fail(r, r == -EOPNOTSUPP ? "the OSD does not run the cls_rbd overlay"
                                          : "cannot query the cls_rbd overlay");
  }
  *version = info.version;
  return 0;
}

const std::string& last_error() { return util::last_error(); }

}  // namespace librbd::standalone

namespace {

using librbd::standalone::ChildInfo;

char* dup(const std::string& s) { return strdup(s.c_str()); }

librados::IoCtx ioctx_of(rados_ioctx_t p) {
  librados::IoCtx io;
  librados::IoCtx::from_rados_ioctx_t(p, io);
  return io;
}

}  // namespace

extern "C" {

int rbd_standalone_clone(rados_ioctx_t p_ioctx, const char* p_name, rados_ioctx_t c_ioctx,
                         const char* c_name, rbd_image_options_t c_opts) {
  librados::IoCtx p = ioctx_of(p_ioctx), c = ioctx_of(c_ioctx);
  librbd::ImageOptions opts(c_opts);
  return librbd::standalone::clone(p, p_name, c, c_name, opts);
}

int rbd_clone_standalone(rados_ioctx_t p_ioctx, const char* p_name, rados_ioctx_t c_ioctx,
                         const char* c_name, rbd_image_options_t c_opts) {
  return rbd_standalone_clone(p_ioctx, p_name, c_ioctx, c_name, c_opts);
}

int rbd_standalone_list_children(rados_ioctx_t ioctx, const char* name, int flags,
                                 rbd_standalone_child_t* children, size_t* max) {
  librados::IoCtx io = ioctx_of(ioctx);
  std::vector<ChildInfo> list;
  int r = librbd::standalone::list_children(io, name ? name : "", flags, &list);
  if (r < 0) {
    return r;
  }
  if (*max < list.size()) {
    *max = list.size();
    return -ERANGE;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const ChildInfo& c = list[i];
    children[i] = {c.pool_id, dup(c.pool_name), dup(c.pool_namespace), dup(c.image_id),
                   dup(c.image_name), c.parent_type, c.parent_snap_id,
                   dup(c.parent_snap_name), dup(c.parent_image_name), c.depth, c.state,
                   c.state_since};
  }
  *max = list.size();
  return 0;
}

void rbd_standalone_list_children_cleanup(rbd_standalone_child_t* children, size_t num) {
  for (size_t i = 0; i < num; ++i) {
    for (char* p : {children[i].pool_name, children[i].pool_namespace, children[i].image_id,
                    children[i].image_name, children[i].parent_snap_name,
                    children[i].parent_image_name}) {
      free(p);
    }
  }
}

int rbd_standalone_prune_children(rados_ioctx_t ioctx, const char* name, size_t* pruned) {
  librados::IoCtx io = ioctx_of(ioctx);
  return librbd::standalone::prune_children(io, name ? name : "", pruned);
}

int rbd_standalone_count_children(rados_ioctx_t ioctx, const char* name, uint64_t* count) {
  librados::IoCtx io = ioctx_of(ioctx);
  return librbd::standalone::count_children(io, name ? name : "", count);
}

int rbd_standalone_get_parent(rbd_image_t image, rbd_standalone_parent_info_t* info) {
  librbd::standalone::util::set_error("");
  rbd_linked_image_spec_t linked;
  rbd_snap_spec_t snap;
  int r = rbd_get_parent(image, &linked, &snap);
  if (r < 0) {
    return r;
  }
  uint64_t overlap = 0;
  r = rbd_get_overlap(image, &overlap);
  if (r == 0) {
    *info = {snap.id == cls::rbd::standalone::NOSNAP ? RBD_PARENT_TYPE_STANDALONE : RBD_PARENT_TYPE_SNAPSHOT,
             linked.pool_id, strdup(linked.pool_name), strdup(linked.pool_namespace),
             strdup(linked.image_name), strdup(linked.image_id), snap.id,
             strdup(snap.name), overlap};
  }
  rbd_linked_image_spec_cleanup(&linked);
  rbd_snap_spec_cleanup(&snap);
  return r;
}

void rbd_standalone_parent_info_cleanup(rbd_standalone_parent_info_t* info) {
  for (char* p : {info->pool_name, info->pool_namespace, info->image_name, info->image_id,
                  info->snap_name}) {
    free(p);
  }
}

int rbd_standalone_object_states(rados_ioctx_t ioctx, const char* name, uint8_t* states,
                                 size_t* num) {
  librados::IoCtx io = ioctx_of(ioctx);
  std::vector<uint8_t> v;
  int r = librbd::standalone::object_states(io, name ? name : "", &v);
  if (r < 0) {
    return r;
  }
  if (*num < v.size()) {
    *num = v.size();
    return -ERANGE;
  }
  std::copy(v.begin(), v.end(), states);
  *num = v.size();
  return 0;
}

int rbd_standalone_remove(rados_ioctx_t ioctx, const char* name) {
  librados::IoCtx io = ioctx_of(ioctx);
  return librbd::standalone::remove(io, name ? name : "");
}

int rbd_standalone_flatten(rados_ioctx_t ioctx, const char* name) {
  librados::IoCtx io = ioctx_of(ioctx);
  return librbd::standalone::flatten(io, name ? name : "");
}

int rbd_standalone_overlay_version(rados_ioctx_t ioctx, const char* name, uint32_t* version) {
  librados::IoCtx io = ioctx_of(ioctx);
  return librbd::standalone::overlay_version(io, name ? name : "", version);
}

int rbd_standalone_overlay_status(rados_t cluster, rbd_standalone_osd_overlay_t* osds,
                                  size_t* max) {
  librados::Rados rados;
  librados::Rados::from_rados_t(cluster, rados);
  std::vector<librbd::standalone::OsdOverlay> list;
  int r = librbd::standalone::overlay_status(rados, &list);
  if (r < 0) {
    return r;
  }
  if (*max < list.size()) {
    *max = list.size();
    return -ERANGE;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& o = list[i];
    osds[i] = {o.osd, o.up ? 1 : 0, o.status, o.version, dup(o.ceph_version),
               dup(o.probe_pool)};
  }
  *max = list.size();
  return 0;
}

void rbd_standalone_overlay_status_cleanup(rbd_standalone_osd_overlay_t* osds, size_t num) {
  for (size_t i = 0; i < num; ++i) {
    free(osds[i].ceph_version);
    free(osds[i].probe_pool);
  }
}

const char* rbd_standalone_last_error(void) {
  return librbd::standalone::util::last_error().c_str();
}

}  // extern "C"
