// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Unit tests of the cls_rbd encoders/decoders (no cluster).  Round trips,
// bytes a stock Ceph 16.2.15 cluster wrote (copied from a live header), old
// layouts, and truncation.  test_cls_rbd_overlay.cc checks the same types
// against bytes read from the live cluster.

#include <gtest/gtest.h>

#include <random>

#include "cls/rbd/cls_rbd_types.h"

using namespace cls::rbd::standalone;

namespace {

std::string hex_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    if (hex[i] == ' ') {
      --i;
      continue;
    }
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Every strict prefix of a valid encoding must be rejected, never read
// past the end.
template <typename T>
void expect_every_truncation_fails(const std::string& bytes) {
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string cut = bytes.substr(0, n);
    EXPECT_THROW(decode_from_string<T>(cut), DecodeError) << "prefix length " << n;
  }
}

SnapshotRecord sample_snapshot() {
  SnapshotRecord s;
  s.id = 4;
  s.name = "s1";
  s.image_size = 16 << 20;
  s.protection_status = 2;
  s.flags = 1;
  s.snapshot_namespace.type = SNAP_NS_TRASH;
  s.snapshot_namespace.payload = std::string("\x02\x00\x00\x00s1\x00\x00\x00\x00", 10);
  s.timestamp = {1700000000, 123};
  s.child_count = 3;
  s.parent_overlap = 8 << 20;
  return s;
}

}  // namespace

// `parent` key of a standalone child, as written on a live 16.2.15 cluster
// (FACTS-pacific-cls-rbd.md section 4).
TEST(ParentRecord, DecodesStockV2Bytes) {
  const std::string live = hex_bytes(
      "02022d000000" "0100000000000000" "00000000" "0c000000" "313030663838356338313632"
      "feffffffffffffff" "01" "0000800000000000");
  ASSERT_EQ(51u, live.size());
  auto p = decode_from_string<ParentRecord>(live);
  EXPECT_EQ(1, p.pool_id);
  EXPECT_EQ("", p.pool_namespace);
  EXPECT_EQ("100f885c8162", p.image_id);
  EXPECT_EQ(NOSNAP, p.snap_id);
  ASSERT_TRUE(p.head_overlap.has_value());
  EXPECT_EQ(8u << 20, *p.head_overlap);
  EXPECT_TRUE(p.is_standalone());
  EXPECT_FALSE(p.exists_as_snapshot_parent());
  EXPECT_EQ(live, encode_to_string(p));
  expect_every_truncation_fails<ParentRecord>(live);
}

TEST(ParentRecord, V1CarriesOverlapAlways) {
  Encoder e;
  size_t t = e.start_envelope(1, 1);
  e.i64(2);
  e.str("abc");
  e.u64(7);
  e.u64(0);
  e.finish_envelope(t);
  auto p = decode_from_string<ParentRecord>(e.bytes());
  EXPECT_EQ(2, p.pool_id);
  EXPECT_EQ("abc", p.image_id);
  EXPECT_EQ(7u, p.snap_id);
  ASSERT_TRUE(p.head_overlap.has_value());  // v1 overlap 0 is still "present"
  EXPECT_EQ(0u, *p.head_overlap);
  EXPECT_TRUE(p.exists_as_snapshot_parent());
}

TEST(ParentRecord, RejectsNewerCompat) {
  Encoder e;
  size_t t = e.start_envelope(3, 3);
  e.i64(1);
  e.finish_envelope(t);
  EXPECT_THROW(decode_from_string<ParentRecord>(e.bytes()), DecodeError);
}

TEST(ParentRecord, SkipsUnknownTrailingPayload) {
  ParentRecord p;
  p.pool_id = 5;
  p.pool_namespace = "ns";
  p.image_id = "id1";
  p.snap_id = 9;
  Encoder e;
  size_t t = e.start_envelope(3, 2);  // a future v3 readable by v2 decoders
  e.i64(p.pool_id);
  e.str(p.pool_namespace);
  e.str(p.image_id);
  e.u64(p.snap_id);
  e.opt_u64(std::nullopt);
  e.u64(0xdeadbeef);  // a field we do not know
  e.finish_envelope(t);
  e.u8(0x42);  // bytes after the envelope belong to the caller
  Decoder d(e.bytes());
  ParentRecord q;
  q.decode(d);
  EXPECT_EQ(5, q.pool_id);
  EXPECT_EQ("ns", q.pool_namespace);
  EXPECT_FALSE(q.head_overlap.has_value());
  EXPECT_EQ(0x42, d.u8());
  EXPECT_TRUE(d.at_end());
}

TEST(ParentImageSpec, DefaultIsThirtyBytesAndRoundTrips) {
  ParentImageSpec none;
  EXPECT_EQ(30u, encode_to_string(none).size());  // parent_get of a non-clone
  ParentImageSpec s{3, "ns", "abc123", NOSNAP};
  std::string bytes = encode_to_string(s);
  EXPECT_EQ(s, decode_from_string<ParentImageSpec>(bytes));
  expect_every_truncation_fails<ParentImageSpec>(bytes);
}

TEST(ChildImageSpec, LayoutIsPoolIdThenNamespace) {
  ChildImageSpec c{1, "", "100f885c8162"};
  std::string bytes = encode_to_string(c);
  // (2,1) envelope, i64 pool, string image id, string namespace.
  EXPECT_EQ(hex_bytes("0201" "1c000000" "0100000000000000" "0c000000"
                      "313030663838356338313632" "00000000"),
            bytes);
  EXPECT_EQ(c, decode_from_string<ChildImageSpec>(bytes));
  EXPECT_EQ(38u, encode_child_set({c}).size());  // one-child snap_children_ value
  expect_every_truncation_fails<ChildImageSpec>(bytes);
}

TEST(ChildImageSpec, V1HasNoNamespace) {
  Encoder e;
  size_t t = e.start_envelope(1, 1);
  e.i64(4);
  e.str("abc");
  e.finish_envelope(t);
  auto c = decode_from_string<ChildImageSpec>(e.bytes());
  EXPECT_EQ(4, c.pool_id);
  EXPECT_EQ("abc", c.image_id);
  EXPECT_EQ("", c.pool_namespace);
}

TEST(ChildImageSpec, SetRoundTrips) {
  std::set<ChildImageSpec> children{{1, "", "a1"}, {1, "x", "a0"}, {0, "", "zz"}};
  EXPECT_EQ(children, decode_child_set(encode_child_set(children)));
  EXPECT_THROW(decode_child_set(std::string("\x02\x00\x00\x00", 4)), DecodeError);
}

TEST(HeadChildEntry, RoundTripsAndExtendsChildImageSpec) {
  HeadChildEntry e{{1, "ns", "100f885c8162"}, HeadChildEntry::DETACHING, {1700000000, 5}};
  std::string bytes = encode_to_string(e);
  // (3,1) envelope: the ChildImageSpec v2 fields, u8 state, utime since.
  EXPECT_EQ(hex_bytes("0301" "27000000" "0100000000000000" "0c000000"
                      "313030663838356338313632" "02000000" "6e73" "01"
                      "00f15365" "05000000"),
            bytes);
  auto back = decode_from_string<HeadChildEntry>(bytes);
  EXPECT_EQ(e.child, back.child);
  EXPECT_EQ(HeadChildEntry::DETACHING, back.state);
  EXPECT_EQ(1700000000u, back.since.sec);
  EXPECT_EQ(5u, back.since.nsec);
  // Compat 1: a ChildImageSpec decoder (overlay v2 clients) reads the child.
  EXPECT_EQ(e.child, decode_from_string<ChildImageSpec>(bytes));
  expect_every_truncation_fails<HeadChildEntry>(bytes);
}

TEST(HeadChildEntry, OverlayV2EntryIsAttached) {
  // What overlay v2 stored: the plain ChildImageSpec (2,1).
  std::string v2 = hex_bytes("0201" "1c000000" "0100000000000000" "0c000000"
                             "313030663838356338313632" "00000000");
  auto e = decode_from_string<HeadChildEntry>(v2);
  EXPECT_EQ((ChildImageSpec{1, "", "100f885c8162"}), e.child);
  EXPECT_EQ(HeadChildEntry::ATTACHED, e.state);
  EXPECT_EQ(0u, e.since.sec);
}

TEST(LinkIntent, RoundTrips) {
  LinkIntent i{{2, "", "abc123", NOSNAP}, {1800000000, 7}};
  std::string bytes = encode_to_string(i);
  EXPECT_EQ(1, bytes[0]);  // (1,1)
  EXPECT_EQ(1, bytes[1]);
  auto back = decode_from_string<LinkIntent>(bytes);
  EXPECT_EQ(i.parent, back.parent);
  EXPECT_EQ(1800000000u, back.expires.sec);
  EXPECT_FALSE(back.expires < i.expires);
  expect_every_truncation_fails<LinkIntent>(bytes);
}

TEST(Keys, LinkIntentKeySortsBeforeSnapshots) {
  // Stock get_snapcontext walks every key from "snapshot_" on.
  EXPECT_LT(std::string(LINK_INTENT_KEY), std::string(SNAPSHOT_KEY_PREFIX));
  EXPECT_LT(std::string(HEAD_CHILD_KEY_PREFIX), std::string(LINK_INTENT_KEY));
}

TEST(SnapshotRecord, V8RoundTrips) {
  SnapshotRecord s = sample_snapshot();
  std::string bytes = encode_to_string(s);
  auto d = decode_from_string<SnapshotRecord>(bytes);
  EXPECT_EQ(s.id, d.id);
  EXPECT_EQ(s.name, d.name);
  EXPECT_EQ(s.image_size, d.image_size);
  EXPECT_EQ(s.protection_status, d.protection_status);
  EXPECT_EQ(s.flags, d.flags);
  EXPECT_EQ(s.snapshot_namespace, d.snapshot_namespace);
  EXPECT_EQ(s.timestamp.sec, d.timestamp.sec);
  EXPECT_EQ(s.timestamp.nsec, d.timestamp.nsec);
  EXPECT_EQ(s.child_count, d.child_count);
  EXPECT_EQ(s.parent_overlap, d.parent_overlap);
  EXPECT_TRUE(d.references_parent());
  EXPECT_EQ(bytes, encode_to_string(d));
  expect_every_truncation_fails<SnapshotRecord>(bytes);
}

// A record written before Nautilus: compat 1, unused features word and an
// embedded v1 parent after the size.
TEST(SnapshotRecord, DecodesPreNautilusLayout) {
  Encoder e;
  size_t t = e.start_envelope(7, 1);
  e.u64(9);
  e.str("old");
  e.u64(1 << 20);
  e.u64(0);  // features
  size_t p = e.start_envelope(1, 1);
  e.i64(3);
  e.str("parentid");
  e.u64(2);
  e.u64(4096);
  e.finish_envelope(p);
  e.u8(1);   // protection
  e.u64(0);  // flags
  SnapshotNamespace user;
  user.encode(e);
  e.u32(5);
  e.u32(6);
  e.u32(1);  // child count
  e.finish_envelope(t);
  auto s = decode_from_string<SnapshotRecord>(e.bytes());
  EXPECT_EQ(9u, s.id);
  EXPECT_EQ("old", s.name);
  EXPECT_EQ(3, s.legacy_parent.pool_id);
  EXPECT_EQ(2u, s.legacy_parent.snap_id);
  EXPECT_EQ(1, s.protection_status);
  EXPECT_EQ(1u, s.child_count);
  EXPECT_FALSE(s.parent_overlap.has_value());
  EXPECT_TRUE(s.references_parent());
}

TEST(SnapshotRecord, UnreferencedWhenNoParent) {
  SnapshotRecord s;
  EXPECT_FALSE(s.references_parent());
}

TEST(Keys, SnapshotKeyIsSixteenHex) {
  EXPECT_EQ("snapshot_0000000000000004", snapshot_key(4));
  EXPECT_EQ("snapshot_fffffffffffffffe", snapshot_key(NOSNAP));
}

// The registry's omap keys must sort exactly as ChildImageSpec does, so a
// page of keys is a page of the stock-ordered set.
TEST(Keys, StandaloneChildKeyOrderMatchesSpecOrder) {
  std::vector<ChildImageSpec> specs{
      {0, "", "a"}, {0, "", "b"}, {0, "a", "a"}, {0, "ab", "a"}, {0, "a\xff", "z"},
      {1, "", "0"}, {255, "x", "q"}, {256, "", "a"}, {1LL << 40, "", "a"},
      {0, "A", "a"}, {0, "a b", "c"}};
  std::mt19937 rng(42);
  const std::string alnum = "0123456789abcdefABCDEF";
  for (int i = 0; i < 500; ++i) {
    ChildImageSpec c;
    c.pool_id = rng() % 4;
    for (int n = rng() % 3; n > 0; --n) c.pool_namespace.push_back(static_cast<char>(rng() % 256));
    for (int n = 1 + rng() % 4; n > 0; --n) c.image_id.push_back(alnum[rng() % alnum.size()]);
    specs.push_back(c);
  }
  for (const auto& a : specs) {
    for (const auto& b : specs) {
      EXPECT_EQ(a < b, head_child_key(a) < head_child_key(b))
          << a.pool_id << "/" << a.pool_namespace << "/" << a.image_id << " vs "
          << b.pool_id << "/" << b.pool_namespace << "/" << b.image_id;
    }
  }
  EXPECT_EQ("head_child_0000000000000001.6e73.abc",
            head_child_key({1, "ns", "abc"}));
  // Stock get_snapcontext reads every key from "snapshot_" on.
  EXPECT_LT(head_child_key({INT64_MAX, "\xff\xff", "zzzz"}), std::string("snapshot_"));
}

TEST(Keys, ValidImageIds) {
  EXPECT_TRUE(is_valid_image_id("100f885c8162"));
  EXPECT_FALSE(is_valid_image_id(""));
  EXPECT_FALSE(is_valid_image_id("a/b"));
  EXPECT_FALSE(is_valid_image_id("a.b"));
}

TEST(Keys, StandaloneChildKeyParsesBackToItsSpec) {
  for (const ChildImageSpec& spec :
       {ChildImageSpec{0, "", "a"}, ChildImageSpec{1, "ns", "abc123"},
        ChildImageSpec{INT64_MAX, std::string("\x00\xff.", 3), "Z9"}}) {
    ChildImageSpec parsed;
    ASSERT_TRUE(parse_head_child_key(head_child_key(spec), &parsed)) << head_child_key(spec);
    EXPECT_EQ(spec, parsed);
  }
}

TEST(Keys, StandaloneChildKeyRejectsWhatTheOverlayNeverWrites) {
  const std::string ok = head_child_key({1, "ns", "abc"});
  ChildImageSpec parsed{7, "keep", "me"};
  for (const std::string& key :
       {std::string("head_child_"), std::string("head_child_junk0"),
        std::string("snapshot_0000000000000001"),
        std::string("head_child_000000000000000A..abc"),          // upper-case hex
        std::string("head_child_0000000000000001.6e7.abc"),       // odd namespace
        std::string("head_child_0000000000000001.6e73"),          // no id separator
        std::string("head_child_0000000000000001..ab-c"),         // invalid id
        std::string("head_child_0000000000000001.."),             // empty id
        std::string("head_child_8000000000000000..abc"),          // negative pool
        std::string("head_child_00000000000000001..abc"), ok + "\n"}) {
    EXPECT_FALSE(parse_head_child_key(key, &parsed)) << key;
  }
  EXPECT_EQ((ChildImageSpec{7, "keep", "me"}), parsed);
}
