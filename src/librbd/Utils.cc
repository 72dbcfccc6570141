// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/Utils.h"

#include <cerrno>

#include "cls/rbd/cls_rbd_client.h"
#include "cls/rbd/cls_rbd_types.h"

namespace librbd::standalone::util {

using cls::rbd::standalone::Decoder;
using cls::rbd::standalone::DecodeError;
using cls::rbd::standalone::Encoder;
namespace cl = cls::rbd::standalone::client;

namespace {
thread_local std::string g_last_error;

}  // namespace

void notify_header(librados::IoCtx& ioctx, const std::string& oid) {
  // An empty payload is librbd's legacy header-update notification.  Live
  // clients ack at once; a dead one would hold us until its watch times
  // out, and the notify is only a hint, so do not wait long.
  constexpr int NOTIFY_TIMEOUT_MS = 1000;
  librados::bufferlist empty, reply;
  ioctx.notify2(oid, empty, NOTIFY_TIMEOUT_MS, &reply);
}

std::string header_oid(const std::string& image_id) { return "rbd_header." + image_id; }

int image_id_by_name(librados::IoCtx& ioctx, const std::string& name, std::string* id) {
  return cl::exec_string(ioctx, "rbd_id." + name, "get_id", {}, id);
}

int image_name_by_id(librados::IoCtx& ioctx, const std::string& id, std::string* name) {
  Encoder e;
  e.str(id);
  return cl::exec_string(ioctx, "rbd_directory", "dir_get_name", e.bytes(), name);
}

int trash_name_by_id(librados::IoCtx& ioctx, const std::string& id, std::string* name) {
  Encoder e;
  e.str(id);
  std::string reply;
  int r = cl::exec(ioctx, "rbd_trash", "trash_get", e.bytes(), &reply);
  if (r < 0) {
    return r;
  }
  // TrashImageSpec: envelope, u8 source, string name, ...
  try {
    Decoder d(reply);
    d.envelope(2, [name](Decoder& in, const Decoder::Envelope&) {
      in.u8();
      *name = in.str();
    });
  } catch (const DecodeError&) {
    name->clear();
  }
  return 0;
}

int ioctx_for(librados::IoCtx& any, int64_t pool_id, const std::string& ns,
              librados::IoCtx* out) {
  librados::Rados rados(any);
  int r = rados.ioctx_create2(pool_id, *out);
  if (r < 0) {
    return r;
  }
  out->set_namespace(ns);
  return 0;
}

std::string pool_name(librados::IoCtx& any, int64_t pool_id) {
  librados::Rados rados(any);
  std::string name;
  if (rados.pool_reverse_lookup(pool_id, &name) < 0) {
    return std::to_string(pool_id);
  }
  return name;
}

std::string image_spec(const std::string& pool, const std::string& ns,
                       const std::string& image) {
  return pool + "/" + (ns.empty() ? "" : ns + "/") + image;
}

void set_error(const std::string& message) { g_last_error = message; }
const std::string& last_error() { return g_last_error; }

int fail(int r, const std::string& message) {
  g_last_error = message;
  return r;
}

}  // namespace librbd::standalone::util
