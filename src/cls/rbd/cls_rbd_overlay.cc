// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Entry point of the standalone-clone overlay of the `rbd` object class.
//
// The OSD loads this library as class `rbd` (libcls_rbd.so in its class
// directory).  __cls_init registers the overlay's methods first, then runs
// the stock cls_rbd's __cls_init: the OSD keeps the first registration of
// a name, so stock methods the overlay does not override stay as they are.
//
// If the OSD is not the Ceph 16.2.x this was written for, or the stock
// library's registrations cannot be recorded (so overrides could not
// delegate to stock), nothing is overridden: stock cls_rbd is loaded alone
// and the OSD log says why.

#include <dlfcn.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "cls/rbd/cls_rbd_overlay.h"
#include "cls/rbd/cls_rbd_types.h"
#include "cls/rbd/objclass_api.h"
#include "cls/rbd/parent_fence.h"
#include "cls/rbd/stock_class.h"

CLS_VER(2, 0)
CLS_NAME(rbd)

namespace cls::rbd::standalone {

namespace {

struct MethodEntry {
  const char* name;
  int flags;
  cls_method_cxx_call_t fn;
};

constexpr int RD = CLS_METHOD_RD;
constexpr int RW = CLS_METHOD_RD | CLS_METHOD_WR;

// Flags of stock-named methods match stock's.
const MethodEntry METHODS[] = {
    {"child_attach", RW, child_attach},
    {"child_detach", RW, child_detach},
    {"children_list", RD, children_list},
    {"set_size", RW, set_size},
    {"snapshot_add", RW, snapshot_add},
    {"snapshot_remove", RW, snapshot_remove},
    {"get_parent", RD, get_parent},
    {"get_features", RD, get_features},
    {"standalone_children_list", RD, standalone_children_list},
    {"standalone_children_count", RD, standalone_children_count},
    {"standalone_child_attach", RW, standalone_child_attach},
    {"standalone_child_remove", RW, standalone_child_remove},
    {"standalone_fence_status", RD, standalone_fence_status},
    {"standalone_fence_repair", RW, standalone_fence_repair},
    {"standalone_parent_attach", RW, standalone_parent_attach},
    {"standalone_parent_detach", RW, standalone_parent_detach},
    {"standalone_parent_prepare", RW, standalone_parent_prepare},
    {"standalone_parent_abort", RW, standalone_parent_abort},
    {"standalone_link_state", RD, standalone_link_state},
    {"standalone_overlay_info", RD, standalone_overlay_info},
};

// Read from the OSD's environment: where the stock class lives (for
// distributions that install it elsewhere), and, for tests of the refusal
// path only, a Ceph version to assume instead of the OSD's own.
constexpr const char* STOCK_LIBRARY_ENV = "CLS_RBD_OVERLAY_STOCK_LIBRARY";
constexpr const char* TEST_CEPH_VERSION_ENV = "CLS_RBD_OVERLAY_TEST_CEPH_VERSION";

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// The OSD's own version string (libceph-common's ceph_version_to_str()).
std::string osd_ceph_version() {
  using version_fn_t = const char* (*)();
  auto fn = reinterpret_cast<version_fn_t>(dlsym(RTLD_DEFAULT, "_Z19ceph_version_to_strv"));
  const char* v = fn != nullptr ? fn() : nullptr;
  return v != nullptr ? v : "";
}

}  // namespace

/**
 * Tells clients the overlay is loaded.  Ask it on an existing object, such
 * as an image header: the OSD answers -ENOENT to any read method on a
 * missing object before the class runs.  Input: none.  Output: envelope (1,1) { u32 overlay version,
 * string OSD Ceph version, u64 standalone-parent op-feature bit, u64
 * incompatible bit reported for read-write opens of a parent }.
 * Without the overlay the OSD answers -EOPNOTSUPP.
 */
int standalone_overlay_info(cls_method_context_t hctx, ceph::bufferlist* in,
                            ceph::bufferlist* out) {
  Encoder e;
  size_t t = e.start_envelope(1, 1);
  e.u32(OVERLAY_VERSION);
  e.str(osd_ceph_version());
  e.u64(OP_FEATURE_STANDALONE_PARENT);
  e.u64(INCOMPAT_STANDALONE_PARENT_READ_ONLY);
  e.finish_envelope(t);
  out->append(omap::to_bufferlist(e.bytes()));
  return 0;
}

}  // namespace cls::rbd::standalone

CLS_INIT(rbd) {
  using namespace cls::rbd::standalone;

  std::string version = env_or(TEST_CEPH_VERSION_ENV, osd_ceph_version());
  std::string stock = env_or(STOCK_LIBRARY_ENV, STOCK_CLS_RBD_PATH);
  std::string why;
  bool ok = true;
  if (version.rfind(TARGET_CEPH_VERSION_PREFIX, 0) != 0) {
    why = "OSD is Ceph '" + version + "', the overlay targets " +
          TARGET_CEPH_VERSION_PREFIX + "x";
    ok = false;
  } else if (!StockClass::prepare(stock, &why) || !fence::supported(&why)) {
    ok = false;
  }
  if (!ok) {
    CLS_LOG(0, "rbd standalone-clone overlay v%u: NOT overriding anything: %s",
            OVERLAY_VERSION, why.c_str());
    std::string load_why;
    if (!StockClass::init_unrecorded(stock, &load_why)) {
      CLS_LOG(0, "rbd standalone-clone overlay: stock cls_rbd unavailable too, "
                 "class rbd has no methods: %s", load_why.c_str());
    }
    return;
  }

  cls_handle_t h_class;
  cls_register("rbd", &h_class);
  for (const auto& m : METHODS) {
    cls_method_handle_t h;
    cls_register_cxx_method(h_class, m.name, m.flags, m.fn, &h);
  }
  if (!StockClass::init(&why)) {
    // Overrides are registered but cannot delegate: they answer
    // -EOPNOTSUPP for stock cases rather than guess.  Say so loudly.
    CLS_LOG(0, "rbd standalone-clone overlay v%u: stock registrations not recorded: %s",
            OVERLAY_VERSION, why.c_str());
    return;
  }
  CLS_LOG(0, "rbd standalone-clone overlay v%u loaded on Ceph %s, wrapping %s",
          OVERLAY_VERSION, version.c_str(), stock.c_str());
}
