// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "cls/rbd/cls_rbd_types.h"

#include <cctype>
#include <cstdio>
#include <tuple>

namespace cls::rbd::standalone {

// ---- Encoder / Decoder ----------------------------------------------------

void Encoder::le(uint64_t v, int n) {
  for (int i = 0; i < n; ++i) {
    bytes_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

void Encoder::str(const std::string& s) {
  u32(static_cast<uint32_t>(s.size()));
  bytes_ += s;
}

void Encoder::opt_u64(const std::optional<uint64_t>& v) {
  boolean(v.has_value());
  if (v) {
    u64(*v);
  }
}

size_t Encoder::start_envelope(uint8_t struct_v, uint8_t struct_compat) {
  u8(struct_v);
  u8(struct_compat);
  size_t token = bytes_.size();
  u32(0);  // length, patched by finish_envelope
  return token;
}

void Encoder::finish_envelope(size_t token) {
  uint32_t len = static_cast<uint32_t>(bytes_.size() - token - 4);
  for (int i = 0; i < 4; ++i) {
    bytes_[token + i] = static_cast<char>((len >> (8 * i)) & 0xff);
  }
}

void Decoder::need(size_t n) const {
  if (static_cast<size_t>(end_ - p_) < n) {
    throw DecodeError("truncated input: need " + std::to_string(n) +
                      " bytes, have " + std::to_string(end_ - p_));
  }
}

uint64_t Decoder::le(int n) {
  need(n);
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(p_[i])) << (8 * i);
  }
  p_ += n;
  return v;
}

uint8_t Decoder::u8() { return static_cast<uint8_t>(le(1)); }
uint32_t Decoder::u32() { return static_cast<uint32_t>(le(4)); }
uint64_t Decoder::u64() { return le(8); }

std::string Decoder::raw(size_t n) {
  need(n);
  std::string s(p_, n);
  p_ += n;
  return s;
}

std::string Decoder::str() { return raw(u32()); }

std::optional<uint64_t> Decoder::opt_u64() {
  if (u8() == 0) {
    return std::nullopt;
  }
  return u64();
}

// ---- structures -----------------------------------------------------------

void ParentImageSpec::encode(Encoder& e) const {
  size_t t = e.start_envelope(1, 1);
  e.i64(pool_id);
  e.str(pool_namespace);
  e.str(image_id);
  e.u64(snap_id);
  e.finish_envelope(t);
}

void ParentImageSpec::decode(Decoder& d) {
  d.envelope(1, [this](Decoder& in, const Decoder::Envelope&) {
    pool_id = in.i64();
    pool_namespace = in.str();
    image_id = in.str();
    snap_id = in.u64();
  });
}

void ChildImageSpec::encode(Encoder& e) const {
  size_t t = e.start_envelope(2, 1);
  e.i64(pool_id);
  e.str(image_id);
  e.str(pool_namespace);
  e.finish_envelope(t);
}

void ChildImageSpec::decode(Decoder& d) {
  // Stock decodes cls::rbd::ChildImageSpec knowing compat 2.
  d.envelope(2, [this](Decoder& in, const Decoder::Envelope& env) {
    pool_id = in.i64();
    image_id = in.str();
    pool_namespace.clear();
    if (env.struct_v >= 2) {
      pool_namespace = in.str();
    }
  });
}

void HeadChildEntry::encode(Encoder& e) const {
  size_t t = e.start_envelope(3, 1);
  e.i64(child.pool_id);
  e.str(child.image_id);
  e.str(child.pool_namespace);
  e.u8(state);
  since.encode(e);
  e.finish_envelope(t);
}

void HeadChildEntry::decode(Decoder& d) {
  d.envelope(1, [this](Decoder& in, const Decoder::Envelope& env) {
    child.pool_id = in.i64();
    child.image_id = in.str();
    child.pool_namespace = env.struct_v >= 2 ? in.str() : std::string();
    state = ATTACHED;
    since = UTime{};
    if (env.struct_v >= 3) {
      state = in.u8();
      since.decode(in);
    }
  });
}

void LinkIntent::encode(Encoder& e) const {
  size_t t = e.start_envelope(1, 1);
  parent.encode(e);
  expires.encode(e);
  e.finish_envelope(t);
}

void LinkIntent::decode(Decoder& d) {
  d.envelope(1, [this](Decoder& in, const Decoder::Envelope&) {
    parent.decode(in);
    expires.decode(in);
  });
}

bool ChildImageSpec::operator<(const ChildImageSpec& o) const {
  return std::tie(pool_id, pool_namespace, image_id) <
         std::tie(o.pool_id, o.pool_namespace, o.image_id);
}

void ParentRecord::encode(Encoder& e) const {
  size_t t = e.start_envelope(2, 2);
  e.i64(pool_id);
  e.str(pool_namespace);
  e.str(image_id);
  e.u64(snap_id);
  e.opt_u64(head_overlap);
  e.finish_envelope(t);
}

void ParentRecord::decode(Decoder& d) {
  d.envelope(2, [this](Decoder& in, const Decoder::Envelope& env) {
    pool_id = in.i64();
    pool_namespace.clear();
    if (env.struct_v >= 2) {
      pool_namespace = in.str();
    }
    image_id = in.str();
    snap_id = in.u64();
    if (env.struct_v == 1) {
      head_overlap = in.u64();  // v1 always carries an overlap, even 0
    } else {
      head_overlap = in.opt_u64();
    }
  });
}

void SnapshotNamespace::encode(Encoder& e) const {
  size_t t = e.start_envelope(1, 1);
  e.u32(type);
  e.raw(payload);
  e.finish_envelope(t);
}

void SnapshotNamespace::decode(Decoder& d) {
  d.envelope(1, [this](Decoder& in, const Decoder::Envelope&) {
    type = in.u32();
    payload = in.raw(in.remaining());
  });
}

void SnapshotRecord::encode(Encoder& e) const {
  size_t t = e.start_envelope(8, 8);
  e.u64(id);
  e.str(name);
  e.u64(image_size);
  e.u8(protection_status);
  e.u64(flags);
  snapshot_namespace.encode(e);
  timestamp.encode(e);
  e.u32(child_count);
  e.opt_u64(parent_overlap);
  e.finish_envelope(t);
}

void SnapshotRecord::decode(Decoder& d) {
  d.envelope(8, [this](Decoder& in, const Decoder::Envelope& env) {
    id = in.u64();
    name = in.str();
    image_size = in.u64();
    legacy_parent = ParentRecord{};
    if (env.struct_compat < 8) {
      in.u64();  // image features: unused, kept for the old layout
      if (env.struct_v >= 2) {
        legacy_parent.decode(in);
      }
    }
    protection_status = env.struct_v >= 3 ? in.u8() : 0;
    flags = env.struct_v >= 4 ? in.u64() : 0;
    snapshot_namespace = SnapshotNamespace{};
    if (env.struct_v >= 5) {
      snapshot_namespace.decode(in);
    }
    timestamp = UTime{};
    if (env.struct_v >= 6) {
      timestamp.decode(in);
    }
    child_count = env.struct_v >= 7 ? in.u32() : 0;
    parent_overlap.reset();
    if (env.struct_v >= 8) {
      parent_overlap = in.opt_u64();
    }
  });
}

// ---- keys -----------------------------------------------------------------

std::string snapshot_key(uint64_t snap_id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(snap_id));
  return std::string(SNAPSHOT_KEY_PREFIX) + buf;
}

std::string head_child_key(const ChildImageSpec& child) {
  static const char* hex = "0123456789abcdef";
  char pool[17];
  std::snprintf(pool, sizeof(pool), "%016llx",
                static_cast<unsigned long long>(child.pool_id));
  std::string key = std::string(HEAD_CHILD_KEY_PREFIX) + pool + ".";
  for (unsigned char c : child.pool_namespace) {
    key.push_back(hex[c >> 4]);
    key.push_back(hex[c & 0xf]);
  }
  key += ".";
  key += child.image_id;
  return key;
}

bool parse_head_child_key(const std::string& key, ChildImageSpec* child) {
  const std::string prefix = HEAD_CHILD_KEY_PREFIX;
  const size_t pool_end = prefix.size() + 16;
  if (key.compare(0, prefix.size(), prefix) != 0 || key.size() <= pool_end ||
      key[pool_end] != '.') {
    return false;
  }
  const size_t ns_end = key.find('.', pool_end + 1);
  if (ns_end == std::string::npos) {
    return false;
  }
  auto nibble = [](char c) -> int {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  uint64_t pool = 0;
  for (size_t i = prefix.size(); i < pool_end; ++i) {
    if (nibble(key[i]) < 0) {
      return false;
    }
    pool = pool << 4 | static_cast<uint64_t>(nibble(key[i]));
  }
  std::string ns;
  if ((ns_end - pool_end - 1) % 2 != 0) {
    return false;
  }
  for (size_t i = pool_end + 1; i < ns_end; i += 2) {
    if (nibble(key[i]) < 0 || nibble(key[i + 1]) < 0) {
      return false;
    }
    ns.push_back(static_cast<char>(nibble(key[i]) << 4 | nibble(key[i + 1])));
  }
  ChildImageSpec parsed{static_cast<int64_t>(pool), ns, key.substr(ns_end + 1)};
  if (parsed.pool_id < 0 || !is_valid_image_id(parsed.image_id) ||
      head_child_key(parsed) != key) {
    return false;
  }
  *child = parsed;
  return true;
}

bool is_valid_image_id(const std::string& id) {
  if (id.empty()) {
    return false;
  }
  for (unsigned char c : id) {
    if (!std::isalnum(c)) {
      return false;
    }
  }
  return true;
}

std::string encode_child_set(const std::set<ChildImageSpec>& children) {
  Encoder e;
  e.u32(static_cast<uint32_t>(children.size()));
  for (const auto& c : children) {
    c.encode(e);
  }
  return e.take();
}

std::set<ChildImageSpec> decode_child_set(const std::string& s) {
  Decoder d(s);
  std::set<ChildImageSpec> out;
  for (uint32_t n = d.u32(); n > 0; --n) {
    ChildImageSpec c;
    c.decode(d);
    out.insert(c);
  }
  return out;
}

}  // namespace cls::rbd::standalone
