// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Loads Debian's stock cls_rbd (libcls_rbd.so.1) inside the overlay and runs
// its __cls_init, so every stock method is registered under class `rbd`.
// The OSD keeps the first registration of a name, so where the overlay
// registered a method first, its version wins.
//
// To let overridden methods delegate unchanged cases to stock, the stock
// library's calls to cls_register_cxx_method are routed, for the duration
// of its __cls_init only, through a recorder: its GOT slot for that symbol
// is pointed at the recorder, which notes each (name -> function) and then
// forwards the call to the OSD.  The slot is restored afterwards.

#ifndef CLS_RBD_STANDALONE_STOCK_CLASS_H
#define CLS_RBD_STANDALONE_STOCK_CLASS_H

#include <rados/objclass.h>

#include <string>

namespace cls::rbd::standalone {

constexpr const char* STOCK_CLS_RBD_PATH =
    "/usr/lib/x86_64-linux-gnu/rados-classes/libcls_rbd.so.1";

class StockClass {
public:
  // Checks that the stock library can be loaded and its registrations
  // recorded, without running it.  On failure returns false and says why.
  static bool prepare(const std::string& path, std::string* why);

  // Runs the stock __cls_init, recording its methods.  Returns false (and
  // why) if registrations could not be recorded; the stock init still ran
  // whenever the library loaded, so stock behaviour is available.
  static bool init(std::string* why);

  // Runs without recording: used when the overlay refuses to override.
  static bool init_unrecorded(const std::string& path, std::string* why);

  // The stock implementation of `method`, or nullptr.
  static cls_method_cxx_call_t method(const std::string& name);

  // Calls the stock implementation; -EOPNOTSUPP if it was not recorded.
  static int call(const char* name, cls_method_context_t hctx,
                  ceph::bufferlist* in, ceph::bufferlist* out);
};

}  // namespace cls::rbd::standalone

#endif  // CLS_RBD_STANDALONE_STOCK_CLASS_H
