// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// On-disk and on-wire structures of cls_rbd that the standalone-clone
// overlay reads or writes, with encoders/decoders that produce exactly the
// bytes Ceph Pacific (16.2.x) produces.  Shared by the OSD overlay and the
// client library; nothing here touches RADOS.
//
// Envelope convention (Ceph's ENCODE_START): u8 struct_v, u8 struct_compat,
// u32 LE payload length.  Decoders refuse a compat newer than they know and
// skip unknown trailing payload bytes.  All integers are little endian.

#ifndef CLS_RBD_STANDALONE_TYPES_H
#define CLS_RBD_STANDALONE_TYPES_H

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cls::rbd::standalone {

constexpr uint64_t NOSNAP = 0xFFFFFFFFFFFFFFFEULL;   // CEPH_NOSNAP
constexpr uint64_t MAXSNAP = 0xFFFFFFFFFFFFFFFDULL;  // CEPH_MAXSNAP

// Image feature bits (include/rbd/features.h).
constexpr uint64_t FEATURE_LAYERING = 1ULL << 0;
constexpr uint64_t FEATURE_EXCLUSIVE_LOCK = 1ULL << 2;
constexpr uint64_t FEATURE_DEEP_FLATTEN = 1ULL << 5;
constexpr uint64_t FEATURE_OPERATIONS = 1ULL << 8;
constexpr uint64_t FEATURE_NON_PRIMARY = 1ULL << 10;

// Operation feature bits known to Pacific.
constexpr uint64_t OP_FEATURE_CLONE_PARENT = 1ULL << 0;
constexpr uint64_t OP_FEATURE_CLONE_CHILD = 1ULL << 1;
constexpr uint64_t OP_FEATURE_GROUP = 1ULL << 2;
constexpr uint64_t OP_FEATURE_SNAP_TRASH = 1ULL << 3;
constexpr uint64_t OP_FEATURES_KNOWN_TO_PACIFIC = 0xF;

// The overlay's marker on a parent that has standalone (HEAD) children.
// Bit 40 sits far above every operation feature upstream Ceph has defined
// (0-3), so no stock client knows it: stock librbd therefore disables
// management operations (resize, snapshots, rename, rm) on the image.
constexpr uint64_t OP_FEATURE_STANDALONE_PARENT = 1ULL << 40;

// Reported by the overlay's get_features in `incompatible` for read-write
// opens of a parent fenced by overlay v1/v2 that has not been converted to
// the stored fence yet (marker without non-primary).  Unknown to every
// client, so their read-write opens fail with ENOSYS until the conversion.
constexpr uint64_t INCOMPAT_STANDALONE_PARENT_READ_ONLY = 1ULL << 40;

// The fence's hold on the image's exclusive lock (cls_lock "rbd_lock").  A
// tag other than librbd's "internal" makes every librbd writer treat the
// lock as held by an external mechanism: it never breaks it and waits.
constexpr const char* FENCE_LOCK_NAME = "rbd_lock";
constexpr const char* FENCE_LOCK_COOKIE = "standalone-parent-fence";
constexpr const char* FENCE_LOCK_TAG = "rbd_standalone_fence";

// Snapshot namespace types (cls_rbd_types.h).
constexpr uint32_t SNAP_NS_USER = 0;
constexpr uint32_t SNAP_NS_GROUP = 1;
constexpr uint32_t SNAP_NS_TRASH = 2;
constexpr uint32_t SNAP_NS_MIRROR = 3;

// Thrown by Decoder on truncated or malformed input.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appends Ceph-encoded values to a byte string.
class Encoder {
public:
  void u8(uint8_t v) { bytes_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i64(int64_t v) { le(static_cast<uint64_t>(v), 8); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void str(const std::string& s);
  void raw(const std::string& s) { bytes_ += s; }
  void opt_u64(const std::optional<uint64_t>& v);

  // Opens an envelope; returns a token for finish_envelope().
  size_t start_envelope(uint8_t struct_v, uint8_t struct_compat);
  void finish_envelope(size_t token);

  const std::string& bytes() const { return bytes_; }
  std::string take() { return std::move(bytes_); }

private:
  void le(uint64_t v, int n);
  std::string bytes_;
};

// Reads Ceph-encoded values from a byte range, throwing DecodeError on
// truncation.  Envelopes are entered with a child Decoder limited to the
// payload, so unknown trailing bytes are skipped.
class Decoder {
public:
  // The decoder points into `s`: it must outlive the decoder.
  explicit Decoder(const std::string& s) : p_(s.data()), end_(s.data() + s.size()) {}
  explicit Decoder(std::string&&) = delete;
  Decoder(const char* p, size_t n) : p_(p), end_(p + n) {}

  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  bool boolean() { return u8() != 0; }
  std::string str();
  std::string raw(size_t n);
  std::optional<uint64_t> opt_u64();

  struct Envelope {
    uint8_t struct_v;
    uint8_t struct_compat;
  };
  // Enters an envelope whose compat must be <= max_compat_known; the payload
  // is handed to `body` as its own Decoder and this decoder moves past it.
  template <typename F>
  Envelope envelope(uint8_t max_compat_known, F&& body) {
    Envelope e{u8(), u8()};
    if (e.struct_compat > max_compat_known) {
      throw DecodeError("struct_compat " + std::to_string(e.struct_compat) +
                        " is newer than " + std::to_string(max_compat_known));
    }
    uint32_t len = u32();
    need(len);
    Decoder inner(p_, len);
    p_ += len;
    body(inner, e);
    return e;
  }

  bool at_end() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

private:
  void need(size_t n) const;
  uint64_t le(int n);
  const char* p_;
  const char* end_;
};

// ParentImageSpec: envelope (1,1) i64 pool, string namespace, string image
// id, u64 snap id.  parent_get's reply and parent_attach's argument.
struct ParentImageSpec {
  int64_t pool_id = -1;
  std::string pool_namespace;
  std::string image_id;
  uint64_t snap_id = NOSNAP;

  void encode(Encoder& e) const;
  void decode(Decoder& d);
  bool operator==(const ParentImageSpec& o) const {
    return pool_id == o.pool_id && pool_namespace == o.pool_namespace &&
           image_id == o.image_id && snap_id == o.snap_id;
  }
};

// ChildImageSpec: envelope (2,1) i64 pool, string image id, string
// namespace (v2 only; note the order differs from ParentImageSpec).
// Ordered by pool, namespace, image id as stock sets are.
struct ChildImageSpec {
  int64_t pool_id = -1;
  std::string pool_namespace;
  std::string image_id;

  void encode(Encoder& e) const;
  void decode(Decoder& d);
  bool operator==(const ChildImageSpec& o) const {
    return pool_id == o.pool_id && pool_namespace == o.pool_namespace &&
           image_id == o.image_id;
  }
  bool operator<(const ChildImageSpec& o) const;
};

// The header's `parent` key (cls_rbd_parent).  v2 (2,2): i64 pool, string
// namespace, string image id, u64 snap id, optional u64 head overlap.
// v1 (1,1): i64 pool, string image id, u64 snap id, u64 overlap.
struct ParentRecord {
  int64_t pool_id = -1;
  std::string pool_namespace;
  std::string image_id;
  uint64_t snap_id = NOSNAP;
  std::optional<uint64_t> head_overlap;

  // Stock's notion: a snapshot parent.  A standalone parent never "exists".
  bool exists_as_snapshot_parent() const {
    return pool_id >= 0 && !image_id.empty() && snap_id != NOSNAP;
  }
  // The overlay's addition: a parent that is another image's HEAD.
  bool is_standalone() const {
    return pool_id >= 0 && !image_id.empty() && snap_id == NOSNAP;
  }
  // Either kind: the image reads through to a parent.
  bool is_set() const { return pool_id >= 0 && !image_id.empty(); }

  void encode(Encoder& e) const;  // always v2, as Pacific writes it
  void decode(Decoder& d);        // v1 or v2
};

// A snapshot namespace, kept as its type plus the raw encoded payload so
// every variant (user, group, trash, mirror) round-trips byte for byte.
struct SnapshotNamespace {
  uint32_t type = SNAP_NS_USER;
  std::string payload;  // the bytes after the type inside the envelope

  bool is_known_type() const { return type <= SNAP_NS_MIRROR; }
  void encode(Encoder& e) const;
  void decode(Decoder& d);
  bool operator==(const SnapshotNamespace& o) const {
    return type == o.type && payload == o.payload;
  }
};

struct UTime {
  uint32_t sec = 0;
  uint32_t nsec = 0;

  void encode(Encoder& e) const {
    e.u32(sec);
    e.u32(nsec);
  }
  void decode(Decoder& d) {
    sec = d.u32();
    nsec = d.u32();
  }
  bool operator<(const UTime& o) const {
    return sec != o.sec ? sec < o.sec : nsec < o.nsec;
  }
};

// A `snapshot_<id>` record (cls_rbd_snap).  Pacific writes v8 compat 8;
// older records (compat < 8) carry an unused features word and an embedded
// parent, which decode into `legacy_parent`.
struct SnapshotRecord {
  uint64_t id = NOSNAP;
  std::string name;
  uint64_t image_size = 0;
  uint8_t protection_status = 0;  // 0 unprotected, 1 unprotecting, 2 protected
  uint64_t flags = 0;
  SnapshotNamespace snapshot_namespace;
  UTime timestamp;
  uint32_t child_count = 0;
  std::optional<uint64_t> parent_overlap;
  ParentRecord legacy_parent;  // only from compat < 8 records

  // Stock snapshot_remove's test for "this snapshot still needs a parent".
  bool references_parent() const {
    return legacy_parent.pool_id != -1 || parent_overlap.has_value();
  }

  void encode(Encoder& e) const;  // always v8 compat 8
  void decode(Decoder& d);
};

// Key names in the header object's omap.
std::string snapshot_key(uint64_t snap_id);  // "snapshot_<16 hex>"
constexpr const char* SNAPSHOT_KEY_PREFIX = "snapshot_";

// HEAD (standalone) children of a parent: one omap key per child, so
// attaching or detaching one child never rewrites another's entry.  The key
// sorts exactly as ChildImageSpec does (pool, namespace, image id):
//   head_child_<pool 16 hex>.<namespace as hex>.<image id>
// ('.' sorts below every hex digit, so a namespace that is a prefix of
// another sorts first, as in string comparison).  The value is the
// encoded ChildImageSpec.  The prefix must sort before "snapshot_": stock
// get_snapcontext, run by every open of the image and of its children,
// reads every key from "snapshot_" to the end of the omap.
constexpr const char* HEAD_CHILD_KEY_PREFIX = "head_child_";
std::string head_child_key(const ChildImageSpec& child);
// The child a key names, if the key is exactly what head_child_key() writes
// for it (raw omap edits can store anything under the prefix).
bool parse_head_child_key(const std::string& key, ChildImageSpec* child);

// The value of a head_child_ key.  Overlay v3 writes envelope (3,1): the
// ChildImageSpec v2 fields, then u8 state and utime since (when the state
// was set).  Compat stays 1, so a ChildImageSpec decoder reads the child
// and skips the rest; entries written by v1/v2 (a plain ChildImageSpec,
// (2,1)) decode as ATTACHED since 0.
struct HeadChildEntry {
  enum State : uint8_t {
    ATTACHED = 0,
    // child_detach(CEPH_NOSNAP) asked for the detach (stock flatten/rm of
    // the child do).  The OSD cannot read the child's header, so the entry
    // and the fence stay until a client has checked that the child no
    // longer reads through the parent (standalone_child_remove).
    DETACHING = 1,
    // Reported by standalone_children_list, never stored: the value does
    // not decode or names another child than the key (raw omap edits).
    MALFORMED = 2,
  };
  ChildImageSpec child;
  uint8_t state = ATTACHED;
  UTime since;

  void encode(Encoder& e) const;
  void decode(Decoder& d);
};

// A clone's permission to link, on the child's header, written before the
// child is registered on the parent and consumed by standalone_parent_attach.
// Revoking it (an expired one only) makes the link impossible, which is what
// lets a prune drop a registration without racing a clone in progress.
// Envelope (1,1): ParentImageSpec parent, utime expires.
struct LinkIntent {
  ParentImageSpec parent;
  UTime expires;

  void encode(Encoder& e) const;
  void decode(Decoder& d);
};
constexpr const char* LINK_INTENT_KEY = "head_parent_link_intent";

// What standalone_link_state answers about a child and a given parent.
enum LinkState : uint8_t {
  LINK_NONE = 0,              // does not read through that parent
  LINK_HEAD = 1,              // HEAD reads through it
  LINK_SNAPSHOTS = 2,         // HEAD detached, snapshots still read through it
  LINK_PREPARED = 3,          // a clone may still link it (intent not expired)
  LINK_PREPARED_EXPIRED = 4,  // a clone's intent expired: prunable
};

// Stock's rule for image ids: non-empty, alphanumeric.
bool is_valid_image_id(const std::string& id);

// Helpers for the common "whole value is one structure" case.
template <typename T>
std::string encode_to_string(const T& t) {
  Encoder e;
  t.encode(e);
  return e.take();
}
template <typename T>
T decode_from_string(const std::string& s) {
  Decoder d(s);
  T t;
  t.decode(d);
  return t;
}

std::string encode_child_set(const std::set<ChildImageSpec>& children);
std::set<ChildImageSpec> decode_child_set(const std::string& s);

}  // namespace cls::rbd::standalone

#endif  // CLS_RBD_STANDALONE_TYPES_H
