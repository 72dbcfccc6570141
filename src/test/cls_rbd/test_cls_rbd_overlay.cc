// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The cls_rbd overlay against a live cluster (CEPH_CONF) whose OSDs load it.
// Images are made with the stock librbd; overlay methods are called raw.
// If the cluster is not reachable every test fails.

#include <gtest/gtest.h>
#include <rados/librados.hpp>
#include <rbd/librbd.hpp>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "cls/rbd/cls_rbd_client.h"
#include "cls/rbd/cls_rbd_types.h"
#include "test/common/cluster.h"

using namespace cls::rbd::standalone;
using ceph_test_standalone::unique;
namespace cl = cls::rbd::standalone::client;

namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr uint64_t DEFAULT_FEATURES = 0x3d;  // layering, exclusive-lock, object-map, fast-diff, deep-flatten

class ClsRbdOverlay : public ::testing::Test {
protected:
  static librados::Rados rados;
  static librados::IoCtx ioctx;
  static std::string pool;
  static int64_t pool_id;
  static bool connected;
  static bool pool_created;

  static void SetUpTestSuite() {
    pool = "cls-overlay-" + std::to_string(getpid());
    if (ceph_test_standalone::connect_from_env(rados) < 0 ||
        ceph_test_standalone::create_rbd_pool(rados, pool, ioctx, &pool_created) < 0) {
      return;
    }
    pool_id = ioctx.get_id();
    connected = true;
  }

  static void TearDownTestSuite() {
    ioctx.close();
    if (pool_created) {
      rados.pool_delete(pool.c_str());
    }
    rados.shutdown();
  }

  void SetUp() override { ASSERT_TRUE(connected) << ceph_test_standalone::NO_CLUSTER; }

  // Creates an image with the stock librbd and returns its id.
  static std::string create_image(const std::string& name, uint64_t size,
                                  uint64_t features = DEFAULT_FEATURES) {
    librbd::RBD rbd;
    librbd::ImageOptions opts;
    EXPECT_EQ(0, opts.set(RBD_IMAGE_OPTION_FORMAT, static_cast<uint64_t>(2)));
    EXPECT_EQ(0, opts.set(RBD_IMAGE_OPTION_FEATURES, features));
    EXPECT_EQ(0, rbd.create4(ioctx, name.c_str(), size, opts));
    librbd::Image image;
    EXPECT_EQ(0, rbd.open_read_only(ioctx, image, name.c_str(), nullptr));
    std::string id;
    EXPECT_EQ(0, image.get_id(&id));
    return id;
  }

  static std::string header(const std::string& id) { return "rbd_header." + id; }

  static std::string omap_value(const std::string& oid, const std::string& key) {
    std::map<std::string, librados::bufferlist> vals;
    if (ioctx.omap_get_vals_by_keys(oid, {key}, &vals) < 0 || vals.count(key) == 0) {
      return {};
    }
    return std::string(vals[key].c_str(), vals[key].length());
  }

  static bool has_key(const std::string& oid, const std::string& key) {
    std::map<std::string, librados::bufferlist> vals;
    return ioctx.omap_get_vals_by_keys(oid, {key}, &vals) == 0 && vals.count(key) == 1;
  }

  static uint64_t u64_key(const std::string& oid, const std::string& key) {
    std::string v = omap_value(oid, key);
    return v.size() == 8 ? Decoder(v).u64() : 0;
  }

  // A parent with data and a standalone child linked as clone-standalone
  // does it: registered on the parent first, then the child's link.
  struct Pair {
    std::string parent_id, child_id;
  };
  static Pair make_standalone_pair(uint64_t size = 16 * MiB,
                                   uint64_t child_features = DEFAULT_FEATURES) {
    Pair p;
    std::string pname = unique("parent");
    p.parent_id = create_image(pname, size);
    p.child_id = create_image(unique("child"), size, child_features);
    ParentImageSpec parent{pool_id, "", p.parent_id, NOSNAP};
    EXPECT_EQ(0, cl::standalone_parent_prepare(ioctx, header(p.child_id), parent, 60));
    EXPECT_EQ(0, cl::standalone_child_attach(ioctx, header(p.parent_id),
                                             {pool_id, "", p.child_id}));
    EXPECT_EQ(0, cl::standalone_parent_attach(ioctx, header(p.child_id), parent, size));
    return p;
  }

  static std::string snap_add_payload(const std::string& name, uint64_t id,
                                      const SnapshotNamespace* ns = nullptr) {
    Encoder e;
    e.str(name);
    e.u64(id);
    if (ns != nullptr) {
      ns->encode(e);
    }
    return e.take();
  }

  static std::string u64_payload(uint64_t v) {
    Encoder e;
    e.u64(v);
    return e.take();
  }

  // The whole fence is up (marker, non-primary, the fence's lock), or none
  // of it, as the stock tools see it.
  static void expect_fence(const std::string& oid, bool up) {
    uint64_t features = u64_key(oid, "features");
    EXPECT_EQ(up, (u64_key(oid, "op_features") & OP_FEATURE_STANDALONE_PARENT) != 0) << oid;
    EXPECT_EQ(up, (features & FEATURE_NON_PRIMARY) != 0) << oid;
    int exclusive = 0;
    std::string tag;
    std::list<librados::locker_t> lockers;
    ASSERT_LE(0, ioctx.list_lockers(oid, FENCE_LOCK_NAME, &exclusive, &tag, &lockers));
    bool fence_lock = lockers.size() == 1 && exclusive == 1 && tag == FENCE_LOCK_TAG &&
                      lockers.front().cookie == FENCE_LOCK_COOKIE;
    EXPECT_EQ(up, fence_lock) << oid << " lockers " << lockers.size() << " tag " << tag;
    cl::FenceStatus status;
    ASSERT_EQ(0, cl::standalone_fence_status(ioctx, oid, &status));
    EXPECT_EQ(up, status.complete());
  }

  // The OSD is still up and the overlay answers.
  static void expect_osd_alive(const std::string& oid) {
    cl::OverlayInfo info;
    EXPECT_EQ(0, cl::overlay_info(ioctx, oid, &info));
    librados::bufferlist inbl, outbl;
    EXPECT_EQ(0, rados.mon_command(R"({"prefix": "osd stat", "format": "json"})", inbl,
                                   &outbl, nullptr));
    std::string stat(outbl.c_str(), outbl.length());
    EXPECT_EQ(std::string::npos, stat.find("\"num_up_osds\":0")) << stat;
  }
};

librados::Rados ClsRbdOverlay::rados;
librados::IoCtx ClsRbdOverlay::ioctx;
std::string ClsRbdOverlay::pool;
int64_t ClsRbdOverlay::pool_id = -1;
bool ClsRbdOverlay::connected = false;
bool ClsRbdOverlay::pool_created = false;

}  // namespace

TEST_F(ClsRbdOverlay, InfoNamesVersionAndBits) {
  std::string id = create_image(unique("info"), MiB);
  cl::OverlayInfo info;
  ASSERT_EQ(0, cl::overlay_info(ioctx, header(id), &info));
  EXPECT_EQ(4u, info.version);
  EXPECT_EQ(0u, info.ceph_version.rfind("16.2.", 0)) << info.ceph_version;
  EXPECT_EQ(OP_FEATURE_STANDALONE_PARENT, info.parent_op_feature);
  EXPECT_EQ(INCOMPAT_STANDALONE_PARENT_READ_ONLY, info.parent_incompat_feature);
  // Read methods on a missing object never reach the class.
  EXPECT_EQ(-ENOENT, cl::overlay_info(ioctx, "no_such_object", &info));
}

TEST_F(ClsRbdOverlay, FirstAttachRaisesFenceAndLastRemoveLowersIt) {
  std::string pid = create_image(unique("p"), 4 * MiB);
  std::string oid = header(pid);
  ChildImageSpec a{pool_id, "", "aaaa"}, b{pool_id, "ns1", "bbbb"};
  uint64_t features_before = u64_key(oid, "features");
  ASSERT_EQ(0u, features_before & (FEATURE_OPERATIONS | FEATURE_NON_PRIMARY));
  uint64_t count = 99;
  ASSERT_EQ(0, cl::standalone_children_count(ioctx, oid, &count));
  EXPECT_EQ(0u, count);
  expect_fence(oid, false);

  // The stock-named child_attach (granted to read-only tenants) cannot
  // fence: on an image that is not a standalone parent it is stock's.
  EXPECT_EQ(-ENOENT, cl::child_attach(ioctx, oid, NOSNAP, a));
  expect_fence(oid, false);
  ASSERT_EQ(0, cl::standalone_child_attach(ioctx, oid, a));
  expect_fence(oid, true);
  EXPECT_EQ(OP_FEATURE_STANDALONE_PARENT, u64_key(oid, "op_features"));
  EXPECT_EQ(features_before | FEATURE_OPERATIONS | FEATURE_NON_PRIMARY,
            u64_key(oid, "features"));
  EXPECT_EQ(-EEXIST, cl::standalone_child_attach(ioctx, oid, a));
  EXPECT_EQ(-EEXIST, cl::child_attach(ioctx, oid, NOSNAP, a));
  // A fenced parent takes more children through either method.
  ASSERT_EQ(0, cl::child_attach(ioctx, oid, NOSNAP, b));
  // One key per child: the ChildImageSpec fields, state ATTACHED, a time.
  auto ea = decode_from_string<HeadChildEntry>(omap_value(oid, head_child_key(a)));
  EXPECT_TRUE(ea.child == a);
  EXPECT_EQ(HeadChildEntry::ATTACHED, ea.state);
  EXPECT_LT(1700000000u, ea.since.sec);
  EXPECT_TRUE(decode_from_string<ChildImageSpec>(omap_value(oid, head_child_key(b))) == b);

  std::set<ChildImageSpec> children;
  ASSERT_EQ(0, cl::children_list(ioctx, oid, NOSNAP, &children));
  EXPECT_EQ((std::set<ChildImageSpec>{a, b}), children);
  ASSERT_EQ(0, cl::standalone_children_count(ioctx, oid, &count));
  EXPECT_EQ(2u, count);

  // child_detach only asks: the entry stays (DETACHING), the fence too.
  ASSERT_EQ(0, cl::child_detach(ioctx, oid, NOSNAP, a));
  ASSERT_EQ(0, cl::child_detach(ioctx, oid, NOSNAP, a));  // idempotent
  EXPECT_EQ(HeadChildEntry::DETACHING,
            decode_from_string<HeadChildEntry>(omap_value(oid, head_child_key(a))).state);
  ASSERT_EQ(0, cl::child_detach(ioctx, oid, NOSNAP, b));
  ASSERT_EQ(0, cl::standalone_children_count(ioctx, oid, &count));
  EXPECT_EQ(2u, count);
  expect_fence(oid, true);

  ASSERT_EQ(0, cl::standalone_child_remove(ioctx, oid, a));
  EXPECT_EQ(-ENOENT, cl::standalone_child_remove(ioctx, oid, a));
  EXPECT_EQ(-ENOENT, cl::child_detach(ioctx, oid, NOSNAP, a));
  expect_fence(oid, true);
  ASSERT_EQ(0, cl::standalone_child_remove(ioctx, oid, b));
  expect_fence(oid, false);
  EXPECT_FALSE(has_key(oid, "op_features"));
  EXPECT_EQ(features_before, u64_key(oid, "features"));
  // No longer a standalone parent: stock's answer.
  EXPECT_EQ(-ENOENT, cl::children_list(ioctx, oid, NOSNAP, &children));
}

TEST_F(ClsRbdOverlay, FenceNeedsExclusiveLockAndAFreeLock) {
  ChildImageSpec a{pool_id, "", "ffff"};
  // Without exclusive-lock a writer never asks for the lock: refused.
  std::string plain = create_image(unique("nolock"), MiB, 0x1);
  EXPECT_EQ(-EINVAL, cl::standalone_child_attach(ioctx, header(plain), a));
  expect_fence(header(plain), false);
  EXPECT_FALSE(has_key(header(plain), head_child_key(a)));

  // A writer holding the exclusive lock: EBUSY, nothing changes.
  std::string name = unique("busy");
  std::string pid = create_image(name, MiB);
  librbd::RBD rbd;
  librbd::Image writer;
  ASSERT_EQ(0, rbd.open(ioctx, writer, name.c_str()));
  librados::bufferlist data;
  data.append(std::string(4096, 'w'));
  ASSERT_EQ(4096, writer.write(0, data.length(), data));  // takes the lock
  EXPECT_EQ(-EBUSY, cl::standalone_child_attach(ioctx, header(pid), a));
  expect_fence(header(pid), false);
  cl::FenceStatus status;
  ASSERT_EQ(0, cl::standalone_fence_status(ioctx, header(pid), &status));
  EXPECT_EQ(2, status.lock);
  EXPECT_NE(std::string::npos, status.lock_owner.find("client.")) << status.lock_owner;
  ASSERT_EQ(0, writer.close());
  ASSERT_EQ(0, cl::standalone_child_attach(ioctx, header(pid), a));
  expect_fence(header(pid), true);
  ASSERT_EQ(0, cl::standalone_child_remove(ioctx, header(pid), a));
}

TEST_F(ClsRbdOverlay, MarkerKeepsOtherOpFeatures) {
  std::string pid = create_image(unique("p"), 4 * MiB);
  std::string oid = header(pid);
  // A parent that is also a clone v2 child already has op features.
  Encoder e;
  e.u64(OP_FEATURE_CLONE_CHILD);
  e.u64(OP_FEATURE_CLONE_CHILD);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "op_features_set", e.bytes(), nullptr));
  ChildImageSpec a{pool_id, "", "cccc"};
  ASSERT_EQ(0, cl::standalone_child_attach(ioctx, oid, a));
  EXPECT_EQ(OP_FEATURE_CLONE_CHILD | OP_FEATURE_STANDALONE_PARENT, u64_key(oid, "op_features"));
  // Stock op_features_set cannot clear the marker: bits above 0xF are refused.
  Encoder clear;
  clear.u64(0);
  clear.u64(OP_FEATURE_STANDALONE_PARENT);
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, oid, "op_features_set", clear.bytes(), nullptr));
  ASSERT_EQ(0, cl::standalone_child_remove(ioctx, oid, a));
  EXPECT_EQ(OP_FEATURE_CLONE_CHILD, u64_key(oid, "op_features"));
  EXPECT_NE(0u, u64_key(oid, "features") & FEATURE_OPERATIONS);
  EXPECT_EQ(0u, u64_key(oid, "features") & FEATURE_NON_PRIMARY);
}

TEST_F(ClsRbdOverlay, HeadChildPayloadValidation) {
  std::string pid = create_image(unique("p"), MiB);
  std::string oid = header(pid);
  const std::vector<ChildImageSpec> bad_specs = {ChildImageSpec{-2, "", "abcd"},
                                                 ChildImageSpec{pool_id, "", ""},
                                                 ChildImageSpec{pool_id, "", "a/b"}};
  for (const ChildImageSpec& bad : bad_specs) {
    EXPECT_EQ(-EINVAL, cl::standalone_child_attach(ioctx, oid, bad));
    EXPECT_EQ(-EINVAL, cl::standalone_child_remove(ioctx, oid, bad));
    // Not a standalone parent: the stock methods answer (no such snapshot).
    EXPECT_EQ(-ENOENT, cl::child_attach(ioctx, oid, NOSNAP, bad));
    EXPECT_EQ(-ENOENT, cl::child_detach(ioctx, oid, NOSNAP, bad));
  }
  // A standalone parent: the overlay checks the spec of the stock-named ones.
  ASSERT_EQ(0, cl::standalone_child_attach(ioctx, oid, {pool_id, "", "kid1"}));
  for (const ChildImageSpec& bad : bad_specs) {
    EXPECT_EQ(-EINVAL, cl::child_attach(ioctx, oid, NOSNAP, bad));
    EXPECT_EQ(-EINVAL, cl::child_detach(ioctx, oid, NOSNAP, bad));
  }
  // {pool -1, "", suffix} names a malformed key; there is none here.
  EXPECT_EQ(-ENOENT, cl::standalone_child_remove(ioctx, oid, {-1, "", "abcd"}));
  ASSERT_EQ(0, cl::standalone_child_remove(ioctx, oid, {pool_id, "", "kid1"}));
  EXPECT_EQ(-ENOENT, cl::standalone_child_attach(ioctx, header("0000missing"),
                                                 {pool_id, "", "abcd"}));
  // An object that is not a format 2 header.
  librados::bufferlist data;
  data.append("x");
  ASSERT_EQ(0, ioctx.write_full("not_a_header", data));
  EXPECT_EQ(-ENOEXEC, cl::standalone_child_attach(ioctx, "not_a_header", {pool_id, "", "abcd"}));
  std::set<ChildImageSpec> none;
  EXPECT_EQ(-ENOENT, cl::children_list(ioctx, "not_a_header", NOSNAP, &none));  // stock's
  uint64_t count = 0;
  EXPECT_EQ(-ENOEXEC, cl::standalone_children_count(ioctx, "not_a_header", &count));
  EXPECT_EQ(-ENOENT, cl::standalone_children_count(ioctx, header("0000missing"), &count));
  cl::FenceStatus status;
  EXPECT_EQ(-ENOEXEC, cl::standalone_fence_status(ioctx, "not_a_header", &status));
  EXPECT_EQ(-ENOEXEC, cl::standalone_fence_repair(ioctx, "not_a_header"));
  expect_fence(oid, false);
}

TEST_F(ClsRbdOverlay, MalformedPayloadsAreRejectedAndOsdStaysUp) {
  Pair pair = make_standalone_pair(4 * MiB);
  std::string poid = header(pair.parent_id), coid = header(pair.child_id);
  std::string nosnap = u64_payload(NOSNAP);
  std::string child = encode_to_string(ChildImageSpec{pool_id, "", "dddd"});
  std::string bad_compat = child;
  bad_compat[1] = 9;  // struct_compat newer than any decoder knows
  std::string bad_len = child;
  bad_len[2] = '\x7f';  // envelope longer than the payload
  std::mt19937 rng(7);
  std::vector<std::string> payloads{"", "\x01", nosnap, nosnap + child.substr(0, 9),
                                    nosnap + bad_compat, nosnap + bad_len,
                                    child.substr(0, 9), bad_compat, bad_len};
  for (int i = 0; i < 20; ++i) {
    std::string garbage(1 + rng() % 200, '\0');
    for (auto& c : garbage) c = static_cast<char>(rng());
    payloads.push_back(nosnap + garbage);
    payloads.push_back(garbage);
  }
  const char* parent_methods[] = {"child_attach", "child_detach", "standalone_children_list",
                                  "standalone_child_attach", "standalone_child_remove"};
  const char* child_methods[] = {"standalone_parent_attach", "standalone_parent_detach",
                                 "standalone_parent_prepare", "standalone_parent_abort",
                                 "standalone_link_state"};
  for (const auto& p : payloads) {
    for (const char* m : parent_methods) {
      int r = cl::exec(ioctx, poid, m, p, nullptr);
      std::string name = m;
      bool may_be_absent = name == "child_detach" || name == "standalone_child_remove";
      EXPECT_TRUE(r == -EINVAL || (r == -ENOENT && may_be_absent))
          << m << " returned " << r << " for a " << p.size() << "-byte payload";
    }
    for (const char* m : child_methods) {
      int r = cl::exec(ioctx, coid, m, p, nullptr);
      EXPECT_EQ(-EINVAL, r) << m << " " << p.size() << "-byte payload";
    }
  }
  // Overridden stock methods answer malformed input as stock does.
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, coid, "get_features", "", nullptr));
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, coid, "set_size", "\x01\x02", nullptr));
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, coid, "snapshot_add", "\x01", nullptr));
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, coid, "snapshot_remove", "\x01", nullptr));
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, coid, "get_parent", "", nullptr));
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, poid, "children_list", "", nullptr));
  for (const auto& p : payloads) {
    if (!p.empty()) {
      for (const char* m : {"standalone_children_count", "standalone_fence_status",
                            "standalone_fence_repair"}) {
        EXPECT_EQ(-EINVAL, cl::exec(ioctx, poid, m, p, nullptr)) << m;
      }
    }
  }
  expect_osd_alive(poid);
  // Nothing above changed the registry or the fence: still the one child.
  std::set<ChildImageSpec> children;
  ASSERT_EQ(0, cl::children_list(ioctx, poid, NOSNAP, &children));
  EXPECT_EQ((std::set<ChildImageSpec>{{pool_id, "", pair.child_id}}), children);
  EXPECT_EQ(HeadChildEntry::ATTACHED,
            decode_from_string<HeadChildEntry>(
                omap_value(poid, head_child_key({pool_id, "", pair.child_id}))).state);
  expect_fence(poid, true);
  EXPECT_TRUE(decode_from_string<ParentRecord>(omap_value(coid, "parent")).is_standalone());
}

TEST_F(ClsRbdOverlay, TenThousandChildrenListInPages) {
  std::string pid = create_image(unique("many"), MiB);
  std::string oid = header(pid);
  constexpr int N = 10000;
  std::set<ChildImageSpec> expected;
  std::vector<librados::AioCompletion*> inflight;
  for (int i = 0; i < N; ++i) {
    ChildImageSpec c{pool_id + (i % 3), i % 2 ? "ns" : "", "c" + std::to_string(i)};
    expected.insert(c);
    librados::bufferlist in, out;
    std::string payload = encode_to_string(c);
    in.append(payload.data(), payload.size());
    librados::ObjectWriteOperation op;
    op.exec("rbd", "standalone_child_attach", in);
    inflight.push_back(librados::Rados::aio_create_completion());
    ASSERT_EQ(0, ioctx.aio_operate(oid, inflight.back(), &op));
    if (inflight.size() == 256 || i == N - 1) {
      for (auto* c : inflight) {
        c->wait_for_complete();
        ASSERT_EQ(0, c->get_return_value());
        c->release();
      }
      inflight.clear();
    }
  }
  // Paged listing returns every child once, in ChildImageSpec order.
  std::vector<ChildImageSpec> all;
  ChildImageSpec after;
  bool more = true;
  int pages = 0;
  while (more) {
    std::vector<HeadChildEntry> page;
    ASSERT_EQ(0, cl::standalone_children_list(ioctx, oid, after, 1000, &page, &more));
    ASSERT_FALSE(page.empty());
    for (const auto& e : page) {
      all.push_back(e.child);
    }
    after = page.back().child;
    ++pages;
  }
  EXPECT_EQ(10, pages);
  EXPECT_EQ(std::vector<ChildImageSpec>(expected.begin(), expected.end()), all);
  // The stock-signature call returns the whole set.
  std::set<ChildImageSpec> full;
  ASSERT_EQ(0, cl::children_list(ioctx, oid, NOSNAP, &full));
  EXPECT_EQ(expected, full);
  // The count spans several of the OSD's key pages and stops at the
  // header's own keys after the registry.
  uint64_t count = 0;
  ASSERT_EQ(0, cl::standalone_children_count(ioctx, oid, &count));
  EXPECT_EQ(static_cast<uint64_t>(N), count);
  std::vector<HeadChildEntry> page;
  EXPECT_EQ(-EINVAL, cl::standalone_children_list(ioctx, oid, {}, 0, &page, &more));
  EXPECT_EQ(-EINVAL, cl::standalone_children_list(ioctx, oid, {}, 4097, &page, &more));
  expect_fence(oid, true);
}

TEST_F(ClsRbdOverlay, RegistryEntriesOfOverlayV2StillWork) {
  // Overlay v2 stored a plain ChildImageSpec (2,1) and only the marker.
  std::string name = unique("v2parent");
  std::string pid = create_image(name, MiB);
  std::string oid = header(pid);
  ChildImageSpec old{pool_id, "", "0ld0"};
  std::map<std::string, librados::bufferlist> kv;
  kv[head_child_key(old)].append(encode_to_string(old));
  kv["op_features"].append(u64_payload(OP_FEATURE_STANDALONE_PARENT));
  kv["features"].append(u64_payload(DEFAULT_FEATURES | FEATURE_OPERATIONS));
  ASSERT_EQ(0, ioctx.omap_set(oid, kv));
  // Until converted, read-write opens are refused as overlay v2 did.
  uint64_t features = 0, incompat = 0;
  ASSERT_EQ(0, cl::get_features(ioctx, oid, false, &features, &incompat));
  EXPECT_NE(0u, incompat & INCOMPAT_STANDALONE_PARENT_READ_ONLY);
  // Old clients send no read_only flag: treated as read-write, as stock.
  std::string reply;
  ASSERT_EQ(0, cl::exec(ioctx, oid, "get_features", u64_payload(NOSNAP), &reply));
  Decoder d(reply);
  d.u64();
  EXPECT_NE(0u, d.u64() & INCOMPAT_STANDALONE_PARENT_READ_ONLY);
  ASSERT_EQ(0, cl::get_features(ioctx, oid, true, &features, &incompat));
  EXPECT_EQ(features & 0x883, incompat);  // stock: RO incompatible

  cl::FenceStatus status;
  ASSERT_EQ(0, cl::standalone_fence_status(ioctx, oid, &status));
  EXPECT_TRUE(status.marker && status.has_children);
  EXPECT_FALSE(status.complete());
  ASSERT_EQ(0, cl::standalone_fence_repair(ioctx, oid));
  expect_fence(oid, true);
  ASSERT_EQ(0, cl::get_features(ioctx, oid, false, &features, &incompat));
  EXPECT_EQ(0u, incompat & INCOMPAT_STANDALONE_PARENT_READ_ONLY);
  EXPECT_EQ(HeadChildEntry::ATTACHED,
            decode_from_string<HeadChildEntry>(omap_value(oid, head_child_key(old))).state);
  std::vector<HeadChildEntry> page;
  bool more = true;
  ASSERT_EQ(0, cl::standalone_children_list(ioctx, oid, {}, 10, &page, &more));
  ASSERT_EQ(1u, page.size());
  EXPECT_TRUE(page[0].child == old);
  ASSERT_EQ(0, cl::child_detach(ioctx, oid, NOSNAP, old));
  ASSERT_EQ(0, cl::standalone_child_remove(ioctx, oid, old));
  expect_fence(oid, false);
  // A marked image without children is unfenced by a repair.
  kv.clear();
  kv["op_features"].append(u64_payload(OP_FEATURE_STANDALONE_PARENT));
  kv["features"].append(u64_payload(DEFAULT_FEATURES | FEATURE_OPERATIONS));
  ASSERT_EQ(0, ioctx.omap_set(oid, kv));
  ASSERT_EQ(0, cl::standalone_fence_repair(ioctx, oid));
  expect_fence(oid, false);
  EXPECT_EQ(DEFAULT_FEATURES, u64_key(oid, "features"));
}

TEST_F(ClsRbdOverlay, FencedParentIsReadOnlyForStockClients) {
  std::string name = unique("fenced");
  std::string pid = create_image(name, MiB);
  std::string oid = header(pid);
  librbd::RBD rbd;
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, name.c_str()));
    librados::bufferlist data;
    data.append(std::string(4096, 'p'));
    ASSERT_EQ(4096, image.write(0, data.length(), data));
  }
  ChildImageSpec c{pool_id, "", "eeee"};
  ASSERT_EQ(0, cl::standalone_child_attach(ioctx, oid, c));
  uint64_t features = 0, incompat = 0;
  ASSERT_EQ(0, cl::get_features(ioctx, oid, false, &features, &incompat));
  EXPECT_EQ(DEFAULT_FEATURES | FEATURE_OPERATIONS | FEATURE_NON_PRIMARY, features);
  EXPECT_EQ(features & 0xFFF, incompat);  // stock's answer: opens work
  // Every open works (QEMU and fio only open read-write) and reads; writes,
  // resize, snapshots and removal fail with EROFS.
  librbd::Image image;
  ASSERT_EQ(0, rbd.open(ioctx, image, name.c_str()));
  librados::bufferlist read;
  ASSERT_EQ(4096, image.read(0, 4096, read));
  EXPECT_EQ(std::string(4096, 'p'), std::string(read.c_str(), read.length()));
  librados::bufferlist data;
  data.append(std::string(4096, 'x'));
  EXPECT_EQ(-EROFS, image.write(0, data.length(), data));
  EXPECT_EQ(-EROFS, image.resize(2 * MiB));
  EXPECT_EQ(-EROFS, image.snap_create("s"));
  ASSERT_EQ(0, image.close());
  EXPECT_EQ(-EROFS, rbd.remove(ioctx, name.c_str()));
  EXPECT_EQ(-EROFS, rbd.rename(ioctx, name.c_str(), (name + "x").c_str()));
  ASSERT_EQ(0, rbd.open_read_only(ioctx, image, name.c_str(), nullptr));
  read.clear();
  ASSERT_EQ(4096, image.read(0, 4096, read));
  EXPECT_EQ(std::string(4096, 'p'), std::string(read.c_str(), read.length()));
  ASSERT_EQ(0, image.close());
  ASSERT_EQ(0, cl::standalone_child_remove(ioctx, oid, c));
  ASSERT_EQ(0, rbd.open(ioctx, image, name.c_str()));
  EXPECT_EQ(4096, image.write(0, data.length(), data));
}

TEST_F(ClsRbdOverlay, LinkIntentGatesTheLink) {
  std::string pid = create_image(unique("p"), 4 * MiB);
  std::string cid = create_image(unique("c"), 4 * MiB);
  std::string coid = header(cid);
  ParentImageSpec parent{pool_id, "", pid, NOSNAP};
  ParentImageSpec other{pool_id, "", "0ther", NOSNAP};
  LinkState state = LINK_HEAD;
  ASSERT_EQ(0, cl::standalone_link_state(ioctx, coid, parent, &state));
  EXPECT_EQ(LINK_NONE, state);
  // No intent: no link.
  EXPECT_EQ(-ESTALE, cl::standalone_parent_attach(ioctx, coid, parent, 4 * MiB));
  EXPECT_EQ(-EINVAL, cl::standalone_parent_prepare(ioctx, coid, parent, 0));
  EXPECT_EQ(-EINVAL, cl::standalone_parent_prepare(ioctx, coid, {pool_id, "", pid, 4}, 60));
  ASSERT_EQ(0, cl::standalone_parent_prepare(ioctx, coid, parent, 60));
  ASSERT_EQ(0, cl::standalone_parent_prepare(ioctx, coid, parent, 60));  // renews
  EXPECT_EQ(-EEXIST, cl::standalone_parent_prepare(ioctx, coid, other, 60));
  ASSERT_EQ(0, cl::standalone_link_state(ioctx, coid, parent, &state));
  EXPECT_EQ(LINK_PREPARED, state);
  ASSERT_EQ(0, cl::standalone_link_state(ioctx, coid, other, &state));
  EXPECT_EQ(LINK_NONE, state);
  // Not expired: an "only if expired" revocation is refused.
  EXPECT_EQ(-EBUSY, cl::standalone_parent_abort(ioctx, coid, parent, true));
  EXPECT_EQ(-ENOENT, cl::standalone_parent_abort(ioctx, coid, other, false));
  EXPECT_EQ(-ESTALE, cl::standalone_parent_attach(ioctx, coid, other, 4 * MiB));
  ASSERT_EQ(0, cl::standalone_parent_attach(ioctx, coid, parent, 4 * MiB));
  EXPECT_FALSE(has_key(coid, LINK_INTENT_KEY));  // consumed
  ASSERT_EQ(0, cl::standalone_link_state(ioctx, coid, parent, &state));
  EXPECT_EQ(LINK_HEAD, state);
  EXPECT_EQ(-EEXIST, cl::standalone_parent_prepare(ioctx, coid, parent, 60));
  ASSERT_EQ(0, cl::standalone_parent_detach(ioctx, coid, parent));
  ASSERT_EQ(0, cl::standalone_link_state(ioctx, coid, parent, &state));
  EXPECT_EQ(LINK_NONE, state);

  // An expired intent is reported, and only then revocable "if expired";
  // once revoked the link is impossible.
  ASSERT_EQ(0, cl::standalone_parent_prepare(ioctx, coid, parent, 1));
  sleep(2);
  ASSERT_EQ(0, cl::standalone_link_state(ioctx, coid, parent, &state));
  EXPECT_EQ(LINK_PREPARED_EXPIRED, state);
  ASSERT_EQ(0, cl::standalone_parent_abort(ioctx, coid, parent, true));
  EXPECT_EQ(-ENOENT, cl::standalone_parent_abort(ioctx, coid, parent, true));
  EXPECT_EQ(-ESTALE, cl::standalone_parent_attach(ioctx, coid, parent, 4 * MiB));
  ASSERT_EQ(0, cl::standalone_link_state(ioctx, coid, parent, &state));
  EXPECT_EQ(LINK_NONE, state);
}

TEST_F(ClsRbdOverlay, StandaloneParentAttachWritesStockRecord) {
  std::string pid = create_image(unique("p"), 16 * MiB);
  std::string cid = create_image(unique("c"), 8 * MiB);
  std::string oid = header(cid);
  ParentImageSpec spec{pool_id, "", pid, NOSNAP};
  uint64_t features_before = u64_key(oid, "features");
  ASSERT_EQ(0, cl::standalone_parent_prepare(ioctx, oid, spec, 60));
  ASSERT_EQ(0, cl::standalone_parent_attach(ioctx, oid, spec, 16 * MiB));

  ParentRecord expected;
  expected.pool_id = pool_id;
  expected.image_id = pid;
  expected.snap_id = NOSNAP;
  expected.head_overlap = 8 * MiB;  // clamped to the child's size
  std::string raw = omap_value(oid, "parent");
  EXPECT_EQ(encode_to_string(expected), raw);
  EXPECT_EQ(2, raw[0]);  // v2, as Pacific writes it
  EXPECT_EQ(OP_FEATURE_CLONE_CHILD, u64_key(oid, "op_features"));
  EXPECT_EQ(features_before | FEATURE_OPERATIONS, u64_key(oid, "features"));
  EXPECT_EQ(-EEXIST, cl::standalone_parent_attach(ioctx, oid, spec, 16 * MiB));

  // Stock readers see the spec and the HEAD overlap.
  std::string reply;
  ASSERT_EQ(0, cl::exec(ioctx, oid, "parent_get", {}, &reply));
  EXPECT_EQ(spec, decode_from_string<ParentImageSpec>(reply));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "parent_overlap_get", u64_payload(NOSNAP), &reply));
  Decoder d(reply);
  EXPECT_EQ(std::optional<uint64_t>(8 * MiB), d.opt_u64());
}

TEST_F(ClsRbdOverlay, StandaloneParentAttachValidation) {
  std::string pid = create_image(unique("p"), 4 * MiB);
  std::string cid = create_image(unique("c"), 4 * MiB);
  std::string oid = header(cid);
  ASSERT_EQ(0, cl::standalone_parent_prepare(ioctx, oid, {pool_id, "", pid, NOSNAP}, 60));
  EXPECT_EQ(-EINVAL, cl::standalone_parent_attach(ioctx, oid, {-1, "", pid, NOSNAP}, MiB));
  EXPECT_EQ(-EINVAL, cl::standalone_parent_attach(ioctx, oid, {pool_id, "", "", NOSNAP}, MiB));
  EXPECT_EQ(-EINVAL, cl::standalone_parent_attach(ioctx, oid, {pool_id, "", "x/y", NOSNAP}, MiB));
  EXPECT_EQ(-EINVAL, cl::standalone_parent_attach(ioctx, oid, {pool_id, "", pid, 4}, MiB));
  EXPECT_EQ(-EINVAL, cl::standalone_parent_attach(ioctx, oid, {pool_id, "", pid, NOSNAP}, 0));
  EXPECT_EQ(-ENOENT, cl::standalone_parent_attach(ioctx, header("0000missing"),
                                                  {pool_id, "", pid, NOSNAP}, MiB));
  std::string flat = create_image(unique("nolayering"), MiB, 0);
  EXPECT_EQ(-ENOEXEC, cl::standalone_parent_attach(ioctx, header(flat),
                                                   {pool_id, "", pid, NOSNAP}, MiB));
  EXPECT_FALSE(has_key(oid, "parent"));
  EXPECT_FALSE(has_key(oid, "op_features"));
  // Stock parent_attach still refuses a NOSNAP parent.
  Encoder e;
  ParentImageSpec{pool_id, "", pid, NOSNAP}.encode(e);
  e.u64(MiB);
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, oid, "parent_attach", e.bytes(), nullptr));
}

TEST_F(ClsRbdOverlay, StandaloneParentDetachRollsBack) {
  Pair pair = make_standalone_pair(4 * MiB);
  std::string oid = header(pair.child_id);
  EXPECT_EQ(-ENOENT, cl::standalone_parent_detach(ioctx, oid, {pool_id, "", "other", NOSNAP}));
  EXPECT_EQ(-ENOENT, cl::standalone_parent_detach(ioctx, oid, {pool_id, "", pair.parent_id, 3}));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("s", 1), nullptr));
  EXPECT_EQ(-EBUSY, cl::standalone_parent_detach(ioctx, oid, {pool_id, "", pair.parent_id, NOSNAP}));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_remove", u64_payload(1), nullptr));
  ASSERT_EQ(0, cl::standalone_parent_detach(ioctx, oid, {pool_id, "", pair.parent_id, NOSNAP}));
  EXPECT_FALSE(has_key(oid, "parent"));
  EXPECT_FALSE(has_key(oid, "op_features"));
  EXPECT_EQ(0u, u64_key(oid, "features") & FEATURE_OPERATIONS);
  EXPECT_EQ(-ENOENT, cl::standalone_parent_detach(ioctx, oid, {pool_id, "", pair.parent_id, NOSNAP}));
  std::string flat = create_image(unique("nolayering"), MiB, 0);
  EXPECT_EQ(-ENOEXEC, cl::standalone_parent_detach(ioctx, header(flat),
                                                   {pool_id, "", pair.parent_id, NOSNAP}));
}

TEST_F(ClsRbdOverlay, SetSizeTrimsStandaloneOverlapOnShrinkOnly) {
  Pair pair = make_standalone_pair(16 * MiB);
  std::string oid = header(pair.child_id);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "set_size", u64_payload(32 * MiB), nullptr));
  EXPECT_EQ(std::optional<uint64_t>(16 * MiB),
            decode_from_string<ParentRecord>(omap_value(oid, "parent")).head_overlap);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "set_size", u64_payload(8 * MiB), nullptr));
  EXPECT_EQ(8 * MiB, u64_key(oid, "size"));
  EXPECT_EQ(std::optional<uint64_t>(8 * MiB),
            decode_from_string<ParentRecord>(omap_value(oid, "parent")).head_overlap);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "set_size", u64_payload(16 * MiB), nullptr));
  EXPECT_EQ(std::optional<uint64_t>(8 * MiB),
            decode_from_string<ParentRecord>(omap_value(oid, "parent")).head_overlap);
  EXPECT_EQ(-ENOENT, cl::exec(ioctx, header("0000missing"), "set_size", u64_payload(1), nullptr));
}

TEST_F(ClsRbdOverlay, SnapshotAddOfStandaloneChildRecordsParentOverlap) {
  Pair pair = make_standalone_pair(16 * MiB);
  std::string oid = header(pair.child_id);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("s1", 1), nullptr));
  SnapshotRecord snap = decode_from_string<SnapshotRecord>(omap_value(oid, snapshot_key(1)));
  EXPECT_EQ(1u, snap.id);
  EXPECT_EQ("s1", snap.name);
  EXPECT_EQ(16 * MiB, snap.image_size);
  EXPECT_EQ(0, snap.protection_status);
  EXPECT_EQ(SNAP_NS_USER, snap.snapshot_namespace.type);
  EXPECT_EQ(0u, snap.child_count);
  EXPECT_EQ(std::optional<uint64_t>(16 * MiB), snap.parent_overlap);
  EXPECT_NE(0u, snap.timestamp.sec);
  EXPECT_EQ(1u, u64_key(oid, "snap_seq"));
  // Stock validation still applies.
  EXPECT_EQ(-EEXIST, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("s1", 2), nullptr));
  EXPECT_EQ(-ESTALE, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("s0", 0), nullptr));
  EXPECT_EQ(-EINVAL, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("sx", MAXSNAP + 1), nullptr));
  // A trash-namespace snapshot keeps its namespace bytes and sets SNAP_TRASH.
  SnapshotNamespace trash;
  trash.type = SNAP_NS_TRASH;
  trash.payload = std::string("\x02\x00\x00\x00s2\x00\x00\x00\x00", 10);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("t", 2, &trash), nullptr));
  SnapshotRecord t = decode_from_string<SnapshotRecord>(omap_value(oid, snapshot_key(2)));
  EXPECT_EQ(trash, t.snapshot_namespace);
  EXPECT_EQ(std::optional<uint64_t>(16 * MiB), t.parent_overlap);
  EXPECT_EQ(OP_FEATURE_CLONE_CHILD | OP_FEATURE_SNAP_TRASH, u64_key(oid, "op_features"));
  // A snapshot of a plain image is left exactly as stock wrote it.
  std::string plain = header(create_image(unique("plain"), MiB));
  ASSERT_EQ(0, cl::exec(ioctx, plain, "snapshot_add", snap_add_payload("s", 1), nullptr));
  EXPECT_FALSE(decode_from_string<SnapshotRecord>(omap_value(plain, snapshot_key(1)))
                   .parent_overlap.has_value());
}

TEST_F(ClsRbdOverlay, SnapshotRemoveKeepsCloneChildOfHeadChild) {
  Pair pair = make_standalone_pair(4 * MiB);
  std::string oid = header(pair.child_id);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("a", 1), nullptr));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("b", 2), nullptr));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_remove", u64_payload(1), nullptr));
  EXPECT_EQ(OP_FEATURE_CLONE_CHILD, u64_key(oid, "op_features"));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_remove", u64_payload(2), nullptr));
  EXPECT_EQ(OP_FEATURE_CLONE_CHILD, u64_key(oid, "op_features"));
  EXPECT_NE(0u, u64_key(oid, "features") & FEATURE_OPERATIONS);
  EXPECT_TRUE(has_key(oid, "parent"));
  EXPECT_EQ(-ENOENT, cl::exec(ioctx, oid, "snapshot_remove", u64_payload(2), nullptr));
}

// Without deep-flatten, flattening HEAD keeps the parent for snapshots; the
// last snapshot's removal must then drop the parent and clone-child, as
// stock does for snapshot parents.
TEST_F(ClsRbdOverlay, SnapshotRemoveDropsParentNoLongerNeeded) {
  Pair pair = make_standalone_pair(4 * MiB, DEFAULT_FEATURES & ~FEATURE_DEEP_FLATTEN);
  std::string oid = header(pair.child_id);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("a", 1), nullptr));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "parent_detach", {}, nullptr));
  ParentRecord kept = decode_from_string<ParentRecord>(omap_value(oid, "parent"));
  EXPECT_TRUE(kept.is_standalone());
  EXPECT_FALSE(kept.head_overlap.has_value());
  EXPECT_EQ(OP_FEATURE_CLONE_CHILD, u64_key(oid, "op_features"));
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_remove", u64_payload(1), nullptr));
  EXPECT_FALSE(has_key(oid, "parent"));
  EXPECT_FALSE(has_key(oid, "op_features"));
}

TEST_F(ClsRbdOverlay, LegacyGetParentOfStandaloneChildSnapshot) {
  Pair pair = make_standalone_pair(4 * MiB);
  std::string oid = header(pair.child_id);
  ASSERT_EQ(0, cl::exec(ioctx, oid, "snapshot_add", snap_add_payload("a", 1), nullptr));
  std::string reply;
  ASSERT_EQ(0, cl::exec(ioctx, oid, "get_parent", u64_payload(1), &reply));
  Decoder d(reply);
  EXPECT_EQ(pool_id, d.i64());
  EXPECT_EQ(pair.parent_id, d.str());
  EXPECT_EQ(NOSNAP, d.u64());
  EXPECT_EQ(4 * MiB, d.u64());
  // A snapshot that does not exist: stock's answer, "no parent".
  ASSERT_EQ(0, cl::exec(ioctx, oid, "get_parent", u64_payload(7), &reply));
  Decoder none(reply);
  EXPECT_EQ(-1, none.i64());
}

// Our decoders against what the stock class itself wrote for a clone v2,
// and the snapshot-children methods still behave as stock.
TEST_F(ClsRbdOverlay, StockClone2BytesRoundTripAndStockPathsUnchanged) {
  librbd::RBD rbd;
  std::string pname = unique("sp");
  std::string pid = create_image(pname, 8 * MiB);
  {
    librbd::Image parent;
    ASSERT_EQ(0, rbd.open(ioctx, parent, pname.c_str()));
    ASSERT_EQ(0, parent.snap_create("s"));
  }
  librbd::ImageOptions opts;
  ASSERT_EQ(0, opts.set(RBD_IMAGE_OPTION_CLONE_FORMAT, static_cast<uint64_t>(2)));
  std::string cname = unique("sc");
  ASSERT_EQ(0, rbd.clone3(ioctx, pname.c_str(), "s", ioctx, cname.c_str(), opts));
  librbd::Image child;
  ASSERT_EQ(0, rbd.open_read_only(ioctx, child, cname.c_str(), nullptr));
  std::string cid;
  ASSERT_EQ(0, child.get_id(&cid));
  {
    librbd::Image child_rw;
    ASSERT_EQ(0, rbd.open(ioctx, child_rw, cname.c_str()));
    ASSERT_EQ(0, child_rw.snap_create("cs"));
  }

  std::string parent_raw = omap_value(header(cid), "parent");
  ParentRecord parent = decode_from_string<ParentRecord>(parent_raw);
  EXPECT_TRUE(parent.exists_as_snapshot_parent());
  EXPECT_EQ(parent_raw, encode_to_string(parent));

  std::map<std::string, librados::bufferlist> snaps;
  ASSERT_EQ(0, ioctx.omap_get_vals(header(pid), "", "snapshot_", 10, &snaps));
  ASSERT_EQ(1u, snaps.size());
  std::string snap_raw(snaps.begin()->second.c_str(), snaps.begin()->second.length());
  SnapshotRecord snap = decode_from_string<SnapshotRecord>(snap_raw);
  EXPECT_EQ("s", snap.name);
  EXPECT_EQ(1u, snap.child_count);
  EXPECT_EQ(snap_raw, encode_to_string(snap));
  // The child's own snapshot: stock normalization stored the overlap.
  std::map<std::string, librados::bufferlist> csnaps;
  ASSERT_EQ(0, ioctx.omap_get_vals(header(cid), "", "snapshot_", 10, &csnaps));
  ASSERT_EQ(1u, csnaps.size());
  std::string csnap_raw(csnaps.begin()->second.c_str(), csnaps.begin()->second.length());
  EXPECT_EQ(std::optional<uint64_t>(8 * MiB),
            decode_from_string<SnapshotRecord>(csnap_raw).parent_overlap);
  EXPECT_EQ(csnap_raw, encode_to_string(decode_from_string<SnapshotRecord>(csnap_raw)));

  std::string children_raw = omap_value(header(pid), "snap_children_" + snapshot_key(snap.id).substr(9));
  ASSERT_EQ(38u, children_raw.size());
  std::set<ChildImageSpec> children = decode_child_set(children_raw);
  EXPECT_EQ((std::set<ChildImageSpec>{{pool_id, "", cid}}), children);
  EXPECT_EQ(children_raw, encode_child_set(children));

  std::string reply;
  ASSERT_EQ(0, cl::exec(ioctx, header(cid), "parent_get", {}, &reply));
  EXPECT_EQ((ParentImageSpec{pool_id, "", pid, snap.id}), decode_from_string<ParentImageSpec>(reply));
  EXPECT_EQ(reply, encode_to_string(decode_from_string<ParentImageSpec>(reply)));

  // Stock semantics for a real snapshot id.
  std::set<ChildImageSpec> listed;
  ASSERT_EQ(0, cl::children_list(ioctx, header(pid), snap.id, &listed));
  EXPECT_EQ(children, listed);
  EXPECT_EQ(-EEXIST, cl::child_attach(ioctx, header(pid), snap.id, {pool_id, "", cid}));
  EXPECT_EQ(-ENOENT, cl::child_attach(ioctx, header(pid), snap.id + 100, {pool_id, "", "x1"}));
  EXPECT_EQ(-ENOENT, cl::children_list(ioctx, header(pid), snap.id + 100, &listed));
  EXPECT_EQ(-ENOENT, cl::child_detach(ioctx, header(pid), snap.id, {pool_id, "", "nothere"}));
  // A snapshot parent has no HEAD registry: stock's answer.
  EXPECT_EQ(-ENOENT, cl::children_list(ioctx, header(pid), NOSNAP, &listed));
}
