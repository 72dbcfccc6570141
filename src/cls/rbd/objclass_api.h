// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The part of the OSD's object-class API the overlay uses.  Debian's
// rados-objclass-dev ships only a subset in <rados/objclass.h>; the rest is
// exported by ceph-osd itself with these C++ signatures (read off the stock
// libcls_rbd.so.1's undefined symbols), and resolved when the OSD loads us.
// On top of it: omap helpers that move whole encoded values as strings.

#ifndef CLS_RBD_STANDALONE_OBJCLASS_API_H
#define CLS_RBD_STANDALONE_OBJCLASS_API_H

#include <rados/objclass.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "cls/rbd/cls_rbd_types.h"

extern int cls_cxx_map_get_vals(cls_method_context_t hctx,
                                const std::string& start_after,
                                const std::string& filter_prefix,
                                uint64_t max_to_get,
                                std::map<std::string, ceph::bufferlist>* vals,
                                bool* more);
extern int cls_cxx_map_get_keys(cls_method_context_t hctx,
                                const std::string& start_after,
                                uint64_t max_to_get,
                                std::set<std::string>* keys,
                                bool* more);
extern int cls_cxx_map_set_vals(cls_method_context_t hctx,
                                const std::map<std::string, ceph::bufferlist>* map);
extern int cls_cxx_map_remove_key(cls_method_context_t hctx,
                                  const std::string& key);
// Runs another class's method on the same object, inside this call's
// transaction (its writes commit or fail with ours).
extern "C" int cls_call(cls_method_context_t hctx, const char* cls, const char* method,
                        char* indata, int datalen, char** outdata, int* outdatalen);
// Returns ceph_release_t, a uint8_t enum (14 = nautilus).
extern uint8_t cls_get_required_osd_release(cls_method_context_t hctx);

namespace cls::rbd::standalone::omap {

constexpr uint8_t CEPH_RELEASE_NAUTILUS = 14;

// The OSD's clock, as a utime.
UTime now();

std::string to_string(const ceph::bufferlist& bl);
ceph::bufferlist to_bufferlist(const std::string& s);

// Reads one key's raw value.  Returns -ENOENT when absent.
int get(cls_method_context_t hctx, const std::string& key, std::string* value);
int set(cls_method_context_t hctx, const std::string& key, const std::string& value);
// Removing an absent key is not an error.
int remove(cls_method_context_t hctx, const std::string& key);

// Reads and decodes one key; a value that does not decode is -EIO, as in
// stock cls_rbd.
int get_u64(cls_method_context_t hctx, const std::string& key, uint64_t* v);
int set_u64(cls_method_context_t hctx, const std::string& key, uint64_t v);
int get_parent(cls_method_context_t hctx, ParentRecord* parent);
// This image's id, from its object_prefix.
int own_image_id(cls_method_context_t hctx, std::string* id);
// The `features` of an image header: -ENOENT without the object, -ENOEXEC
// when it has no `features` key (a format 1 image, or not a header).
int header_features(cls_method_context_t hctx, uint64_t* features);
int get_snapshot(cls_method_context_t hctx, uint64_t snap_id, SnapshotRecord* snap);

// Visits every `snapshot_*` record in key order; stops at the first
// negative return of `fn` and returns it.
template <typename F>
int for_each_snapshot(cls_method_context_t hctx, F&& fn);

// Lists up to `max` keys with `prefix` after `start_after` (raw values).
int list(cls_method_context_t hctx, const std::string& prefix,
         const std::string& start_after, uint64_t max,
         std::map<std::string, std::string>* out, bool* more);

// Counts the keys with `prefix`, up to `max` (keys only, values are not
// read).
int count(cls_method_context_t hctx, const std::string& prefix, uint64_t* n,
          uint64_t max = UINT64_MAX);

// Sets/clears op-feature bits as stock's set_op_features does: keeps the
// `operations` feature bit and the presence of the `op_features` key in
// step with a non-zero value.  Pass `base` after a stock method has already
// written op features in this call: reads do not see writes made earlier in
// the same call, so `base` stands for the stored value and both keys are
// rewritten so that ours are the last writes.
int update_op_features(cls_method_context_t hctx, uint64_t value, uint64_t mask,
                       const uint64_t* base = nullptr);

template <typename F>
int for_each_snapshot(cls_method_context_t hctx, F&& fn) {
  std::string after = SNAPSHOT_KEY_PREFIX;
  bool more = true;
  while (more) {
    std::map<std::string, std::string> vals;
    int r = list(hctx, SNAPSHOT_KEY_PREFIX, after, 64, &vals, &more);
    if (r < 0) {
      return r;
    }
    for (const auto& [key, value] : vals) {
      SnapshotRecord snap;
      try {
        snap = decode_from_string<SnapshotRecord>(value);
      } catch (const DecodeError&) {
        CLS_ERR("cannot decode snapshot record %s", key.c_str());
        return -EIO;
      }
      r = fn(snap);
      if (r < 0) {
        return r;
      }
    }
    if (vals.empty()) {
      break;
    }
    after = vals.rbegin()->first;
  }
  return 0;
}

}  // namespace cls::rbd::standalone::omap

#endif  // CLS_RBD_STANDALONE_OBJCLASS_API_H
