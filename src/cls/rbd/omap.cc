// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include <time.h>

#include <algorithm>
#include <cerrno>

#include "cls/rbd/objclass_api.h"

namespace cls::rbd::standalone::omap {

UTime now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return UTime{static_cast<uint32_t>(ts.tv_sec), static_cast<uint32_t>(ts.tv_nsec)};
}

std::string to_string(const ceph::bufferlist& bl) {
  std::string s;
  s.reserve(bl.length());
  for (const auto& p : bl.buffers()) {
    s.append(p.c_str(), p.length());
  }
  return s;
}

ceph::bufferlist to_bufferlist(const std::string& s) {
  ceph::bufferlist bl;
  bl.append(s.data(), s.size());
  return bl;
}

int get(cls_method_context_t hctx, const std::string& key, std::string* value) {
  ceph::bufferlist bl;
  int r = cls_cxx_map_get_val(hctx, key, &bl);
  if (r < 0) {
    return r;
  }
  *value = to_string(bl);
  return 0;
}

int set(cls_method_context_t hctx, const std::string& key, const std::string& value) {
  ceph::bufferlist bl = to_bufferlist(value);
  int r = cls_cxx_map_set_val(hctx, key, &bl);
  if (r < 0) {
    CLS_ERR("failed to set omap key %s: %d", key.c_str(), r);
  }
  return r;
}

int remove(cls_method_context_t hctx, const std::string& key) {
  int r = cls_cxx_map_remove_key(hctx, key);
  return r == -ENOENT ? 0 : r;
}

namespace {

template <typename T>
int get_decoded(cls_method_context_t hctx, const std::string& key, T* out) {
  std::string raw;
  int r = get(hctx, key, &raw);
  if (r < 0) {
    return r;
  }
  try {
    *out = decode_from_string<T>(raw);
  } catch (const DecodeError&) {
    CLS_ERR("cannot decode omap key %s", key.c_str());
    return -EIO;
  }
  return 0;
}

struct U64 {
  uint64_t v = 0;
  void decode(Decoder& d) { v = d.u64(); }
};

}  // namespace

int get_u64(cls_method_context_t hctx, const std::string& key, uint64_t* v) {
  U64 u;
  int r = get_decoded(hctx, key, &u);
  if (r == 0) {
    *v = u.v;
  }
  return r;
}

int set_u64(cls_method_context_t hctx, const std::string& key, uint64_t v) {
  Encoder e;
  e.u64(v);
  return set(hctx, key, e.bytes());
}

int header_features(cls_method_context_t hctx, uint64_t* features) {
  int r = cls_cxx_stat(hctx, nullptr, nullptr);
  if (r < 0) {
    return r;
  }
  r = get_u64(hctx, "features", features);
  return r == -ENOENT ? -ENOEXEC : r;
}

int own_image_id(cls_method_context_t hctx, std::string* id) {
  // The OSD does not tell a method which object it runs on; the header's
  // object_prefix ("rbd_data.<id>", or "rbd_data.<data pool>.<id>") does.
  std::string raw;
  int r = get(hctx, "object_prefix", &raw);
  if (r < 0) {
    return r;
  }
  try {
    const std::string prefix = Decoder(raw).str();
    *id = prefix.substr(prefix.rfind('.') + 1);
  } catch (const DecodeError&) {
    CLS_ERR("cannot decode omap key object_prefix");
    return -EIO;
  }
  return 0;
}

int get_parent(cls_method_context_t hctx, ParentRecord* parent) {
  return get_decoded(hctx, "parent", parent);
}

int get_snapshot(cls_method_context_t hctx, uint64_t snap_id, SnapshotRecord* snap) {
  return get_decoded(hctx, snapshot_key(snap_id), snap);
}

int list(cls_method_context_t hctx, const std::string& prefix,
         const std::string& start_after, uint64_t max,
         std::map<std::string, std::string>* out, bool* more) {
  std::map<std::string, ceph::bufferlist> vals;
  int r = cls_cxx_map_get_vals(hctx, start_after, prefix, max, &vals, more);
  if (r < 0) {
    return r;
  }
  out->clear();
  for (const auto& [k, v] : vals) {
    (*out)[k] = to_string(v);
  }
  return 0;
}

int count(cls_method_context_t hctx, const std::string& prefix, uint64_t* n, uint64_t max) {
  // Keys are read in pages from the prefix on and counted until the first
  // key past the prefix: the OSD does not filter keys by prefix.
  constexpr uint64_t PAGE = 4096;
  std::string after = prefix;
  *n = 0;
  bool more = true;
  while (more && *n < max) {
    std::set<std::string> keys;
    int r = cls_cxx_map_get_keys(hctx, after, std::min(PAGE, max - *n), &keys, &more);
    if (r < 0) {
      return r;
    }
    for (const auto& k : keys) {
      if (k.compare(0, prefix.size(), prefix) != 0) {
        return 0;
      }
      ++*n;
    }
    if (keys.empty()) {
      break;
    }
    after = *keys.rbegin();
  }
  return 0;
}

int update_op_features(cls_method_context_t hctx, uint64_t value, uint64_t mask,
                       const uint64_t* base) {
  uint64_t features = 0;
  int r = get_u64(hctx, "features", &features);
  if (r < 0) {
    return r;
  }
  uint64_t orig = 0;
  if (base != nullptr) {
    orig = *base;
  } else {
    r = get_u64(hctx, "op_features", &orig);
    if (r < 0 && r != -ENOENT) {
      return r;
    }
  }
  uint64_t op_features = (orig & ~mask) | (value & mask);
  uint64_t new_features = op_features != 0 ? (features | FEATURE_OPERATIONS)
                                            : (features & ~FEATURE_OPERATIONS);
  r = op_features != 0 ? set_u64(hctx, "op_features", op_features)
                       : remove(hctx, "op_features");
  if (r < 0) {
    return r;
  }
  // After a stock method has written these keys in this same call, our read
  // saw the old values: write unconditionally so our values are the last.
  if (new_features != features || base != nullptr) {
    r = set_u64(hctx, "features", new_features);
  }
  return r;
}

}  // namespace cls::rbd::standalone::omap
