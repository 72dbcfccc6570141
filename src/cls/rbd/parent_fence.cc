// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "cls/rbd/parent_fence.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cls/rbd/objclass_api.h"

namespace cls::rbd::standalone::fence {

namespace {

constexpr uint8_t LOCK_TYPE_EXCLUSIVE = 1;
constexpr const char* FENCE_LOCK_DESCRIPTION =
    "standalone clone parent fence: read-only while it has standalone children";

// Calls a method of the stock lock class on this object.
int call_lock(cls_method_context_t hctx, const char* method, const std::string& in,
              std::string* out) {
  char* outdata = nullptr;
  int outlen = 0;
  int r = cls_call(hctx, "lock", method, const_cast<char*>(in.data()),
                   static_cast<int>(in.size()), &outdata, &outlen);
  if (outdata != nullptr) {
    if (out != nullptr && r >= 0) {
      out->assign(outdata, outlen);
    }
    free(outdata);
  }
  return r;
}

struct Locker {
  uint8_t type = 0;
  int64_t num = 0;
  std::string cookie;
};

// lock.get_info of the image's lock: every locker and the lock's tag.
int read_lockers(cls_method_context_t hctx, std::vector<Locker>* lockers, std::string* tag) {
  Encoder e;
  size_t t = e.start_envelope(1, 1);
  e.str(FENCE_LOCK_NAME);
  e.finish_envelope(t);
  std::string reply;
  int r = call_lock(hctx, "get_info", e.bytes(), &reply);
  if (r < 0) {
    return r;
  }
  try {
    Decoder d(reply);
    d.envelope(1, [&](Decoder& in, const Decoder::Envelope&) {
      uint32_t n = in.u32();
      for (uint32_t i = 0; i < n; ++i) {
        Locker l;
        in.envelope(1, [&](Decoder& id, const Decoder::Envelope&) {
          l.type = id.u8();
          l.num = id.i64();
          l.cookie = id.str();
        });
        in.envelope(1, [](Decoder&, const Decoder::Envelope&) {});  // locker_info_t
        lockers->push_back(l);
      }
      in.u8();  // lock type
      *tag = in.str();
    });
  } catch (const DecodeError& err) {
    CLS_ERR("cannot decode the lock info of %s: %s", FENCE_LOCK_NAME, err.what());
    return -EIO;
  }
  return 0;
}

std::string entity_name(const Locker& l) {
  // entity_name_t types: 1 mon, 2 mds, 4 osd, 8 client, 0x10 mgr.
  const char* type = l.type == 8 ? "client" : l.type == 4 ? "osd" : l.type == 0x10 ? "mgr"
                                                                                   : "entity";
  return std::string(type) + "." + std::to_string(l.num);
}

int take_lock(cls_method_context_t hctx) {
  Encoder e;
  size_t t = e.start_envelope(1, 1);
  e.str(FENCE_LOCK_NAME);
  e.u8(LOCK_TYPE_EXCLUSIVE);
  e.str(FENCE_LOCK_COOKIE);
  e.str(FENCE_LOCK_TAG);
  e.str(FENCE_LOCK_DESCRIPTION);
  UTime{}.encode(e);  // duration 0: never expires
  e.u8(0);            // flags
  e.finish_envelope(t);
  return call_lock(hctx, "lock", e.bytes(), nullptr);
}

int break_lock(cls_method_context_t hctx, const Locker& l) {
  Encoder e;
  size_t t = e.start_envelope(1, 1);
  e.str(FENCE_LOCK_NAME);
  e.u8(l.type);
  e.i64(l.num);
  e.str(l.cookie);
  e.finish_envelope(t);
  return call_lock(hctx, "break_lock", e.bytes(), nullptr);
}

// Writes features and op_features as stock keeps them: `operations` (and
// the op_features key) present exactly when op_features is non-zero.
int write_features(cls_method_context_t hctx, const Status& status, uint64_t features,
                   uint64_t op_features) {
  features = op_features != 0 ? (features | FEATURE_OPERATIONS)
                              : (features & ~FEATURE_OPERATIONS);
  int r = 0;
  if (op_features != status.op_features) {
    r = op_features != 0 ? omap::set_u64(hctx, "op_features", op_features)
                         : omap::remove(hctx, "op_features");
    if (r < 0) {
      return r;
    }
  }
  if (features != status.features) {
    r = omap::set_u64(hctx, "features", features);
  }
  return r;
}

}  // namespace

int read_status(cls_method_context_t hctx, Status* status) {
  int r = omap::header_features(hctx, &status->features);
  if (r < 0) {
    return r;
  }
  r = omap::get_u64(hctx, "op_features", &status->op_features);
  if (r < 0 && r != -ENOENT) {
    return r;
  }
  status->marker = (status->op_features & OP_FEATURE_STANDALONE_PARENT) != 0;
  r = omap::get(hctx, RAISED_FOR_KEY, &status->raised_for);
  if (r < 0 && r != -ENOENT) {
    return r;
  }
  status->non_primary = (status->features & FEATURE_NON_PRIMARY) != 0;

  std::vector<Locker> lockers;
  std::string tag;
  r = read_lockers(hctx, &lockers, &tag);
  if (r < 0) {
    return r;
  }
  status->lock = LockHolder::NONE;
  for (const auto& l : lockers) {
    if (tag == FENCE_LOCK_TAG && l.cookie == FENCE_LOCK_COOKIE) {
      status->lock = LockHolder::FENCE;
      break;
    }
    status->lock = LockHolder::OTHER;
    status->lock_owner = entity_name(l) + " (cookie '" + l.cookie + "', tag '" + tag + "')";
  }
  return 0;
}

int raise(cls_method_context_t hctx, const Status& status, bool new_fence,
          const std::string& raised_for) {
  if (new_fence) {
    // A new fence.  Without exclusive-lock a writer that opened the image
    // just before the fence would never ask for the lock, and keep writing.
    if ((status.features & FEATURE_EXCLUSIVE_LOCK) == 0) {
      CLS_LOG(5, "fence: image has no exclusive-lock feature");
      return -EINVAL;
    }
    if (status.non_primary) {
      CLS_LOG(5, "fence: image is non-primary (mirrored); its mirror daemon writes it");
      return -EROFS;
    }
  }
  if (status.lock == LockHolder::OTHER) {
    CLS_LOG(5, "fence: exclusive lock held by %s", status.lock_owner.c_str());
    return -EBUSY;
  }
  if (status.lock == LockHolder::NONE) {
    int r = take_lock(hctx);
    if (r < 0 && r != -EEXIST) {  // EEXIST: this client holds the fence lock already
      CLS_ERR("fence: cannot take %s: %d", FENCE_LOCK_NAME, r);
      return r;
    }
  }
  int r = omap::set(hctx, RAISED_FOR_KEY, raised_for);
  if (r < 0) {
    return r;
  }
  return write_features(hctx, status, status.features | FEATURE_NON_PRIMARY,
                        status.op_features | OP_FEATURE_STANDALONE_PARENT);
}

int lower(cls_method_context_t hctx, const Status& status) {
  if (status.lock == LockHolder::FENCE) {
    std::vector<Locker> lockers;
    std::string tag;
    int r = read_lockers(hctx, &lockers, &tag);
    if (r < 0) {
      return r;
    }
    for (const auto& l : lockers) {
      if (l.cookie == FENCE_LOCK_COOKIE && (r = break_lock(hctx, l)) < 0 && r != -ENOENT) {
        CLS_ERR("fence: cannot release %s: %d", FENCE_LOCK_NAME, r);
        return r;
      }
    }
  }
  int r = omap::remove(hctx, RAISED_FOR_KEY);
  if (r < 0 && r != -ENOENT) {
    return r;
  }
  return write_features(hctx, status, status.features & ~FEATURE_NON_PRIMARY,
                        status.op_features & ~OP_FEATURE_STANDALONE_PARENT);
}

bool supported(std::string* why) {
  // A class call into a class the OSD cannot open asserts in the OSD, so
  // check that the lock class sits beside this library in the class dir.
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&supported), &info) == 0 || info.dli_fname == nullptr) {
    *why = "cannot find the overlay's own path (dladdr)";
    return false;
  }
  std::string dir = info.dli_fname;
  dir = dir.substr(0, dir.find_last_of('/') + 1);
  std::string lock_class = dir + "libcls_lock.so";
  if (access(lock_class.c_str(), R_OK) != 0) {
    *why = "the stock lock class " + lock_class + " is missing: the parent fence needs it";
    return false;
  }
  return true;
}

}  // namespace cls::rbd::standalone::fence
