// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The standalone-clone client library (librbd_standalone: rbd/standalone.h,
// rbd/standalone.hpp and its internals) against a live cluster (CEPH_CONF)
// whose OSDs load the cls_rbd overlay.  Parents are made and written with
// the stock librbd; every test asserts data bytes, error codes, registry
// contents and marker bits.  If the cluster is not reachable every test
// fails (never skips).

#include <gtest/gtest.h>
#include <rados/librados.h>
#include <rados/librados.hpp>
#include <rbd/librbd.h>
#include <rbd/librbd.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cls/rbd/cls_rbd_client.h"
#include "cls/rbd/cls_rbd_types.h"
#include "librbd/api/Config.h"
#include "librbd/image/CloneRequest.h"
#include "rbd/standalone.h"
#include "rbd/standalone.hpp"
#include "test/common/cluster.h"

namespace sa = librbd::standalone;
namespace cl = cls::rbd::standalone::client;
namespace config = librbd::standalone::api;
using ceph_test_standalone::unique;
using librbd::standalone::image::CloneRequest;

namespace {

constexpr uint64_t KiB = 1ULL << 10;
constexpr uint64_t MiB = 1ULL << 20;
constexpr uint64_t CEPH_NOSNAP_ID = 0xfffffffffffffffeULL;
constexpr uint64_t MARKER = 1ULL << 40;  // op feature: standalone parent
constexpr uint64_t DEFAULT_FEATURES = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
                                      RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF |
                                      RBD_FEATURE_DEEP_FLATTEN;
constexpr const char* ENABLED = "rbd_standalone_clone_enabled";
constexpr const char* REQUIRE_OM = "rbd_standalone_clone_require_object_map";

// Deterministic bytes: different seeds give different contents.
std::string pattern(size_t len, unsigned seed) {
  std::string s(len, '\0');
  uint32_t x = 2166136261u ^ (seed * 16777619u);
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

// Byte comparison that reports the first difference, not the whole buffers.
::testing::AssertionResult same_bytes(const std::string& expected, const std::string& actual) {
  if (expected == actual) {
    return ::testing::AssertionSuccess();
  }
  size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) {
    ++i;
  }
  return ::testing::AssertionFailure()
         << "sizes " << expected.size() << " / " << actual.size() << ", first difference at "
         << i;
}

// Runs `fn` when the scope ends (config clean-ups, so a failing test does
// not leak a pool setting into the next one).
struct Defer {
  std::function<void()> fn;
  ~Defer() { fn(); }
};

class StandaloneClone : public ::testing::Test {
protected:
  static librados::Rados rados;
  static librados::IoCtx ioctx;   // pool 1
  static librados::IoCtx ioctx2;  // pool 2: cross-pool, namespaces, data pool
  static std::string pool, pool2;
  static rados_t c_rados;
  static rados_ioctx_t c_ioctx;
  static bool connected;
  static bool pool_created, pool2_created;  // by this run: TearDownTestSuite deletes them

  static void SetUpTestSuite() {
    if (ceph_test_standalone::connect_from_env(rados) < 0) {
      return;
    }
    pool = "sa-clone-" + std::to_string(getpid());
    pool2 = pool + "-b";
    if (ceph_test_standalone::create_rbd_pool(rados, pool, ioctx, &pool_created) < 0 ||
        ceph_test_standalone::create_rbd_pool(rados, pool2, ioctx2, &pool2_created) < 0) {
      return;
    }
    // The C API gets its own cluster handle, as a C program would.
    if (rados_create(&c_rados, nullptr) < 0 || rados_conf_read_file(c_rados, nullptr) < 0 ||
        rados_conf_parse_env(c_rados, nullptr) < 0 || rados_connect(c_rados) < 0 ||
        rados_ioctx_create(c_rados, pool.c_str(), &c_ioctx) < 0) {
      return;
    }
    connected = true;
  }

  static void TearDownTestSuite() {
    if (c_ioctx != nullptr) {
      rados_ioctx_destroy(c_ioctx);
    }
    if (c_rados != nullptr) {
      rados_shutdown(c_rados);
    }
    ioctx.close();
    ioctx2.close();
    if (pool_created) {
      rados.pool_delete(pool.c_str());
    }
    if (pool2_created) {
      rados.pool_delete(pool2.c_str());
    }
    rados.shutdown();
  }

  void SetUp() override { ASSERT_TRUE(connected) << ceph_test_standalone::NO_CLUSTER; }

  // ------------------------------------------------------------ images ---

  static librbd::ImageOptions options(uint64_t features, uint64_t order = 22) {
    librbd::ImageOptions opts;
    opts.set(RBD_IMAGE_OPTION_FORMAT, static_cast<uint64_t>(2));
    opts.set(RBD_IMAGE_OPTION_FEATURES, features);
    opts.set(RBD_IMAGE_OPTION_ORDER, order);
    return opts;
  }

  // A stock image; returns its id ("" on failure, with a test failure).
  static std::string create_image(librados::IoCtx& io, const std::string& name, uint64_t size,
                                  uint64_t features = DEFAULT_FEATURES, uint64_t order = 22) {
    librbd::ImageOptions opts = options(features, order);
    return create_image(io, name, size, opts);
  }
  static std::string create_image(librados::IoCtx& io, const std::string& name, uint64_t size,
                                  librbd::ImageOptions& opts) {
    librbd::RBD rbd;
    EXPECT_EQ(0, rbd.create4(io, name.c_str(), size, opts)) << name;
    return image_id(io, name);
  }

  // A new rbd namespace in the pool of `base`, opened in `nsio`.
  static void new_namespace(librados::IoCtx& base, librados::IoCtx* nsio, std::string* ns) {
    *ns = unique("ns");
    librbd::RBD rbd;
    ASSERT_EQ(0, rbd.namespace_create(base, ns->c_str()));
    nsio->dup(base);
    nsio->set_namespace(*ns);
  }

  static std::string image_id(librados::IoCtx& io, const std::string& name) {
    librbd::RBD rbd;
    librbd::Image image;
    std::string id;
    if (rbd.open_read_only(io, image, name.c_str(), nullptr) == 0) {
      image.get_id(&id);
    }
    return id;
  }

  // Writes with the stock librbd (read-write open, then close: no watch
  // or lock stays behind).
  static void write(librados::IoCtx& io, const std::string& name, uint64_t off,
                    const std::string& data) {
    librbd::RBD rbd;
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(io, image, name.c_str(), nullptr)) << name;
    librados::bufferlist bl;
    bl.append(data);
    ASSERT_EQ(static_cast<ssize_t>(data.size()), image.write(off, data.size(), bl)) << name;
    ASSERT_EQ(0, image.close());
  }

  static std::string read(librados::IoCtx& io, const std::string& name, uint64_t off,
                          size_t len) {
    librbd::RBD rbd;
    librbd::Image image;
    int r = rbd.open_read_only(io, image, name.c_str(), nullptr);
    EXPECT_EQ(0, r) << name;
    if (r < 0) {
      return {};
    }
    librados::bufferlist bl;
    ssize_t n = image.read(off, len, bl);
    EXPECT_EQ(static_cast<ssize_t>(len), n) << name;
    return std::string(bl.c_str(), bl.length());
  }

  // A parent of `size` with pattern(seed) at `offsets` (1 MiB blocks by
  // default); returns its id.
  struct Parent {
    std::string name, id;
    uint64_t size = 0;
    uint64_t zero_at = 5 * MiB;  // a range no data was written to
    std::map<uint64_t, std::string> data;  // offset -> bytes written
  };
  static Parent make_parent(librados::IoCtx& io, uint64_t size = 16 * MiB,
                            uint64_t features = DEFAULT_FEATURES, uint64_t order = 22,
                            std::vector<uint64_t> offsets = {0, 9 * MiB + 4 * KiB},
                            size_t len = MiB) {
    Parent p;
    p.name = unique("parent");
    p.id = create_image(io, p.name, size, features, order);
    p.size = size;
    unsigned seed = 1;
    for (uint64_t off : offsets) {
      p.data[off] = pattern(len, seed++ * 7919 + p.name.size());
      write(io, p.name, off, p.data[off]);
    }
    return p;
  }

  // The child reads exactly the parent's bytes at every written range and
  // zeros elsewhere (sampled).
  static void expect_same_data(librados::IoCtx& cio, const std::string& child,
                               const Parent& p) {
    for (const auto& [off, bytes] : p.data) {
      EXPECT_TRUE(same_bytes(bytes, read(cio, child, off, bytes.size())))
          << child << " differs from " << p.name << " at " << off;
    }
    if (p.size >= p.zero_at + 4 * KiB) {
      EXPECT_TRUE(same_bytes(std::string(4 * KiB, '\0'), read(cio, child, p.zero_at, 4 * KiB)))
          << child;
    }
  }

  static std::set<std::string> image_names(librados::IoCtx& io) {
    librbd::RBD rbd;
    std::vector<librbd::image_spec_t> specs;
    EXPECT_EQ(0, rbd.list2(io, &specs));
    std::set<std::string> names;
    for (const auto& s : specs) {
      names.insert(s.name);
    }
    return names;
  }
  static bool exists(librados::IoCtx& io, const std::string& name) {
    return image_names(io).count(name) == 1;
  }

  // ------------------------------------------------------ header state ---

  static std::optional<uint64_t> header_u64(librados::IoCtx& io, const std::string& id,
                                            const std::string& key) {
    std::map<std::string, librados::bufferlist> vals;
    if (io.omap_get_vals_by_keys("rbd_header." + id, {key}, &vals) < 0 ||
        vals.count(key) == 0 || vals[key].length() != 8) {
      return std::nullopt;
    }
    std::string v(vals[key].c_str(), 8);
    return cls::rbd::standalone::Decoder(v).u64();
  }
  static std::optional<uint64_t> op_features(librados::IoCtx& io, const std::string& id) {
    return header_u64(io, id, "op_features");
  }
  // The parent's fence as stock clients see it: the marker, non-primary
  // and the fence's exclusive lock, all up or all down (a partial fence
  // fails the test).
  static bool is_fenced(librados::IoCtx& io, const std::string& id) {
    bool marker = (op_features(io, id).value_or(0) & MARKER) != 0;
    uint64_t features = 0, incompat = 0;
    EXPECT_EQ(0, cls::rbd::standalone::client::get_features(io, "rbd_header." + id, true,
                                                            &features, &incompat));
    bool non_primary = (features & RBD_FEATURE_NON_PRIMARY) != 0;
    int exclusive = 0;
    std::string tag;
    std::list<librados::locker_t> lockers;
    EXPECT_LE(0, io.list_lockers("rbd_header." + id, "rbd_lock", &exclusive, &tag, &lockers));
    bool lock = tag == cls::rbd::standalone::FENCE_LOCK_TAG && lockers.size() == 1;
    EXPECT_TRUE(marker == non_primary && marker == lock)
        << "partial fence on " << id << ": marker " << marker << " non-primary "
        << non_primary << " lock " << lock;
    return marker && non_primary && lock;
  }

  // A fenced parent opens read-write (as QEMU and fio open it) and reads,
  // but every write fails with EROFS.
  static void expect_read_only_for_stock(librados::IoCtx& io, const std::string& name) {
    librbd::RBD rbd;
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(io, image, name.c_str(), nullptr));
    librados::bufferlist bl;
    ASSERT_EQ(4096, image.read(0, 4096, bl));
    EXPECT_EQ(-EROFS, image.write(0, bl.length(), bl));
    EXPECT_EQ(-EROFS, image.resize(64 * KiB));
  }

  static uint64_t count(librados::IoCtx& io, const std::string& name) {
    uint64_t n = 999;
    EXPECT_EQ(0, sa::count_children(io, name, &n)) << sa::last_error();
    return n;
  }

  static std::vector<sa::ChildInfo> children(librados::IoCtx& io, const std::string& name,
                                             int flags = 0) {
    std::vector<sa::ChildInfo> c;
    EXPECT_EQ(0, sa::list_children(io, name, flags, &c)) << sa::last_error();
    return c;
  }
  static std::set<std::string> child_names(librados::IoCtx& io, const std::string& name) {
    std::set<std::string> names;
    for (const auto& c : children(io, name)) {
      EXPECT_EQ(RBD_CHILD_STATE_OK, c.state) << c.image_name;
      names.insert(c.image_name);
    }
    return names;
  }

  static int clone(librados::IoCtx& pio, const std::string& parent, librados::IoCtx& cio,
                   const std::string& child) {
    librbd::ImageOptions opts;
    return sa::clone(pio, parent.c_str(), cio, child.c_str(), opts);
  }

  // The call failed with `r` and a message containing every `words`.
  static void expect_error(int expected, int r, std::vector<std::string> words) {
    EXPECT_EQ(expected, r);
    std::string msg = sa::last_error();
    EXPECT_FALSE(msg.empty());
    EXPECT_STREQ(msg.c_str(), rbd_standalone_last_error());
    for (const auto& w : words) {
      EXPECT_NE(std::string::npos, msg.find(w)) << "'" << w << "' not in: " << msg;
    }
  }

  // A clone of `parent` into `dst` that fails with `err` at `step`, checked
  // to say so and to leave the caller's options alone; returns the child's
  // name.
  static std::string clone_failing_at(const std::string& parent, librados::IoCtx& dst,
                                      CloneRequest::Step step, int err) {
    std::string child = unique("child");
    librbd::ImageOptions opts;
    CloneRequest req(ioctx, parent, dst, child, opts);
    req.inject_fault(step, err);
    expect_error(err, req.send(),
                 {std::string("injected failure at ") + CloneRequest::step_name(step)});
    EXPECT_TRUE(opts.empty());
    return child;
  }

  // An error case changed nothing: no child, parent's op features as before.
  static void expect_nothing_changed(librados::IoCtx& cio, const std::string& child,
                                     librados::IoCtx& pio, const Parent& p,
                                     std::optional<uint64_t> op_before, uint64_t children_before) {
    EXPECT_FALSE(exists(cio, child)) << child;
    std::string id;
    EXPECT_EQ(-ENOENT, cl::exec(cio, "rbd_id." + child, "get_id", {}, &id)) << child;
    EXPECT_EQ(op_before, op_features(pio, p.id));
    EXPECT_EQ(children_before, count(pio, p.name));
  }
};

librados::Rados StandaloneClone::rados;
librados::IoCtx StandaloneClone::ioctx;
librados::IoCtx StandaloneClone::ioctx2;
std::string StandaloneClone::pool;
std::string StandaloneClone::pool2;
rados_t StandaloneClone::c_rados = nullptr;
rados_ioctx_t StandaloneClone::c_ioctx = nullptr;
bool StandaloneClone::connected = false;
bool StandaloneClone::pool_created = false;
bool StandaloneClone::pool2_created = false;

}  // namespace

// ------------------------------------------------------------- 1. clone ---

TEST_F(StandaloneClone, CApiCloneReadsParentAndReportsStandaloneParent) {
  Parent p = make_parent(ioctx);
  std::string child = unique("child");
  ASSERT_FALSE(is_fenced(ioctx, p.id));

  rbd_image_options_t opts;
  rbd_image_options_create(&opts);
  int r = rbd_standalone_clone(c_ioctx, p.name.c_str(), c_ioctx, child.c_str(), opts);
  ASSERT_EQ(0, r) << rbd_standalone_last_error();
  // The specification's name for the same call.
  std::string child2 = unique("child");
  r = rbd_clone_standalone(c_ioctx, p.name.c_str(), c_ioctx, child2.c_str(), opts);
  rbd_image_options_destroy(opts);
  ASSERT_EQ(0, r) << rbd_standalone_last_error();
  ASSERT_EQ(0, sa::remove(ioctx, child2));
  EXPECT_STREQ("", rbd_standalone_last_error());

  EXPECT_TRUE(exists(ioctx, child));
  expect_same_data(ioctx, child, p);
  EXPECT_TRUE(is_fenced(ioctx, p.id));
  uint64_t n = 0;
  ASSERT_EQ(0, rbd_standalone_count_children(c_ioctx, p.name.c_str(), &n));
  EXPECT_EQ(1u, n);

  rbd_image_t image;
  ASSERT_EQ(0, rbd_open_read_only(c_ioctx, child.c_str(), &image, nullptr));
  rbd_standalone_parent_info_t info;
  ASSERT_EQ(0, rbd_standalone_get_parent(image, &info));
  EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, info.parent_type);
  EXPECT_EQ(ioctx.get_id(), info.pool_id);
  EXPECT_STREQ(pool.c_str(), info.pool_name);
  EXPECT_STREQ("", info.pool_namespace);
  EXPECT_STREQ(p.name.c_str(), info.image_name);
  EXPECT_STREQ(p.id.c_str(), info.image_id);
  EXPECT_EQ(CEPH_NOSNAP_ID, info.snap_id);
  EXPECT_STREQ("", info.snap_name);
  EXPECT_EQ(16 * MiB, info.overlap);
  rbd_standalone_parent_info_cleanup(&info);
  rbd_close(image);

  // The C listing, with -ERANGE on a short buffer.
  rbd_standalone_child_t list[2];
  size_t max = 0;
  EXPECT_EQ(-ERANGE, rbd_standalone_list_children(c_ioctx, p.name.c_str(), 0, list, &max));
  EXPECT_EQ(1u, max);
  max = 2;
  ASSERT_EQ(0, rbd_standalone_list_children(c_ioctx, p.name.c_str(), 0, list, &max));
  ASSERT_EQ(1u, max);
  EXPECT_STREQ(child.c_str(), list[0].image_name);
  EXPECT_STREQ(pool.c_str(), list[0].pool_name);
  EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, list[0].parent_type);
  EXPECT_EQ(CEPH_NOSNAP_ID, list[0].parent_snap_id);
  EXPECT_STREQ(p.name.c_str(), list[0].parent_image_name);
  EXPECT_EQ(1, list[0].depth);
  EXPECT_EQ(RBD_CHILD_STATE_OK, list[0].state);
  rbd_standalone_list_children_cleanup(list, max);
}

TEST_F(StandaloneClone, CxxCloneReadsParentAndReportsStandaloneParent) {
  Parent p = make_parent(ioctx);
  std::string child = unique("child");
  librbd::ImageOptions opts;
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts)) << sa::last_error();
  expect_same_data(ioctx, child, p);

  librbd::RBD rbd;
  librbd::Image image;
  ASSERT_EQ(0, rbd.open(ioctx, image, child.c_str(), nullptr));  // a child is writable
  sa::ParentInfo info;
  ASSERT_EQ(0, sa::get_parent(image, &info));
  EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, info.parent_type);
  EXPECT_EQ(ioctx.get_id(), info.pool_id);
  EXPECT_EQ(pool, info.pool_name);
  EXPECT_EQ("", info.pool_namespace);
  EXPECT_EQ(p.name, info.image_name);
  EXPECT_EQ(p.id, info.image_id);
  EXPECT_EQ(CEPH_NOSNAP_ID, info.snap_id);
  EXPECT_EQ("", info.snap_name);
  EXPECT_EQ(16 * MiB, info.overlap);

  // Writes to the child stay in the child.
  std::string mine = pattern(8 * KiB, 99);
  librados::bufferlist bl;
  bl.append(mine);
  ASSERT_EQ(static_cast<ssize_t>(mine.size()), image.write(4 * KiB, mine.size(), bl));
  ASSERT_EQ(0, image.close());
  EXPECT_TRUE(same_bytes(mine, read(ioctx, child, 4 * KiB, mine.size())));
  EXPECT_TRUE(same_bytes(p.data[0].substr(4 * KiB, mine.size()), read(ioctx, p.name, 4 * KiB, mine.size())));
  EXPECT_TRUE(same_bytes(p.data[0].substr(0, 4 * KiB), read(ioctx, child, 0, 4 * KiB)));

  // A plain image has no parent.
  ASSERT_EQ(0, rbd.open_read_only(ioctx, image, p.name.c_str(), nullptr));
  EXPECT_EQ(-ENOENT, sa::get_parent(image, &info));
}

TEST_F(StandaloneClone, StockSnapshotCloneReportsSnapshotParent) {
  Parent p = make_parent(ioctx);
  librbd::RBD rbd;
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, p.name.c_str(), nullptr));
    ASSERT_EQ(0, image.snap_create("s1"));
  }
  std::string child = unique("snapclone");
  librbd::ImageOptions opts = options(DEFAULT_FEATURES);
  opts.set(RBD_IMAGE_OPTION_CLONE_FORMAT, static_cast<uint64_t>(2));
  ASSERT_EQ(0, rbd.clone3(ioctx, p.name.c_str(), "s1", ioctx, child.c_str(), opts));

  librbd::Image image;
  ASSERT_EQ(0, rbd.open_read_only(ioctx, image, child.c_str(), nullptr));
  sa::ParentInfo info;
  ASSERT_EQ(0, sa::get_parent(image, &info));
  EXPECT_EQ(RBD_PARENT_TYPE_SNAPSHOT, info.parent_type);
  EXPECT_EQ(p.name, info.image_name);
  EXPECT_EQ(p.id, info.image_id);
  EXPECT_EQ("s1", info.snap_name);
  EXPECT_NE(CEPH_NOSNAP_ID, info.snap_id);
  EXPECT_EQ(16 * MiB, info.overlap);

  rbd_image_t cimage;
  ASSERT_EQ(0, rbd_open_read_only(c_ioctx, child.c_str(), &cimage, nullptr));
  rbd_standalone_parent_info_t cinfo;
  ASSERT_EQ(0, rbd_standalone_get_parent(cimage, &cinfo));
  EXPECT_EQ(RBD_PARENT_TYPE_SNAPSHOT, cinfo.parent_type);
  EXPECT_STREQ("s1", cinfo.snap_name);
  EXPECT_EQ(info.snap_id, cinfo.snap_id);
  rbd_standalone_parent_info_cleanup(&cinfo);
  rbd_close(cimage);

  // Not a HEAD child: the registry stays empty and the parent unmarked.
  EXPECT_EQ(0u, count(ioctx, p.name));
  EXPECT_FALSE(is_fenced(ioctx, p.id));
  auto snaps = children(ioctx, p.name, RBD_LIST_CHILDREN_SNAPSHOTS);
  ASSERT_EQ(1u, snaps.size());
  EXPECT_EQ(child, snaps[0].image_name);
  EXPECT_EQ(RBD_PARENT_TYPE_SNAPSHOT, snaps[0].parent_type);
  EXPECT_EQ("s1", snaps[0].parent_snap_name);
  EXPECT_TRUE(children(ioctx, p.name).empty());
}

// ----------------------------------------------------------- 2. options ---

TEST_F(StandaloneClone, FeaturesDefaultToTheParents) {
  // No deep-flatten (stock create adds fast-diff to object-map itself).
  const uint64_t features = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
                            RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF;
  Parent p = make_parent(ioctx, 16 * MiB, features);
  ASSERT_EQ(features, header_u64(ioctx, p.id, "features"));
  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  // The clone-child op feature brings `operations` along, as in stock clone v2.
  EXPECT_EQ(features | RBD_FEATURE_OPERATIONS, header_u64(ioctx, image_id(ioctx, child), "features"));
  librbd::RBD rbd;
  librbd::Image image;
  ASSERT_EQ(0, rbd.open_read_only(ioctx, image, child.c_str(), nullptr));
  uint64_t f = 0;
  ASSERT_EQ(0, image.features(&f));
  EXPECT_EQ(features | RBD_FEATURE_OPERATIONS, f);
  expect_same_data(ioctx, child, p);

  // A second child of a parent that now carries `operations` (the marker)
  // still gets only the parent's requestable features.
  std::string child2 = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child2)) << sa::last_error();
  EXPECT_EQ(features | RBD_FEATURE_OPERATIONS, header_u64(ioctx, image_id(ioctx, child2), "features"));
}

TEST_F(StandaloneClone, ExplicitFeaturesGetLayering) {
  Parent p = make_parent(ioctx);
  std::string child = unique("child");
  librbd::ImageOptions opts;
  // Not the parent's: no deep-flatten.
  const uint64_t asked = RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |
                         RBD_FEATURE_FAST_DIFF;
  opts.set(RBD_IMAGE_OPTION_FEATURES, asked);
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts)) << sa::last_error();
  EXPECT_EQ(asked | RBD_FEATURE_LAYERING | RBD_FEATURE_OPERATIONS,
            header_u64(ioctx, image_id(ioctx, child), "features"));
  // The caller's options are as given.
  uint64_t f = 0;
  ASSERT_EQ(0, opts.get(RBD_IMAGE_OPTION_FEATURES, &f));
  EXPECT_EQ(asked, f);
  expect_same_data(ioctx, child, p);
}

TEST_F(StandaloneClone, FeaturesSetAndClearOptions) {
  Parent p = make_parent(ioctx);
  auto op_before = op_features(ioctx, p.id);
  struct Case {
    int option;
    uint64_t bits;
    int r;
    const char* words;
  } refused[] = {
      // Clearing object-map must not bypass rbd_standalone_clone_require_object_map.
      {RBD_IMAGE_OPTION_FEATURES_CLEAR, RBD_FEATURE_OBJECT_MAP, -EINVAL, REQUIRE_OM},
      {RBD_IMAGE_OPTION_FEATURES_CLEAR, RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF, -EINVAL,
       "object-map"},
      // Layering is what makes a clone.
      {RBD_IMAGE_OPTION_FEATURES_CLEAR, RBD_FEATURE_LAYERING, -EINVAL, "layering"},
      {RBD_IMAGE_OPTION_FEATURES_SET, RBD_FEATURE_OPERATIONS, -EINVAL, "internal"},
      {RBD_IMAGE_OPTION_FEATURES_SET, 1ULL << 30, -EINVAL, "unknown"},
  };
  for (const auto& c : refused) {
    SCOPED_TRACE(std::to_string(c.option) + " " + std::to_string(c.bits));
    std::string child = unique("child");
    librbd::ImageOptions opts;
    opts.set(c.option, c.bits);
    expect_error(c.r, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts), {c.words});
    expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  }

  // Allowed: clearing deep-flatten, on top of the parent's features.
  std::string child = unique("child");
  librbd::ImageOptions opts;
  opts.set(RBD_IMAGE_OPTION_FEATURES_CLEAR, static_cast<uint64_t>(RBD_FEATURE_DEEP_FLATTEN));
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts)) << sa::last_error();
  EXPECT_EQ((DEFAULT_FEATURES & ~RBD_FEATURE_DEEP_FLATTEN) | RBD_FEATURE_OPERATIONS,
            header_u64(ioctx, image_id(ioctx, child), "features"));
  expect_same_data(ioctx, child, p);

  // Without the requirement, clearing object-map works.
  ASSERT_EQ(0, config::set(ioctx, "", REQUIRE_OM, "false"));
  Defer reset{[] { config::remove(ioctx, "", REQUIRE_OM); }};
  std::string child2 = unique("child");
  librbd::ImageOptions opts2;
  opts2.set(RBD_IMAGE_OPTION_FEATURES_CLEAR, static_cast<uint64_t>(RBD_FEATURE_OBJECT_MAP));
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child2.c_str(), opts2)) << sa::last_error();
  EXPECT_EQ(0u, header_u64(ioctx, image_id(ioctx, child2), "features").value_or(0) &
                    (RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF));
  expect_same_data(ioctx, child2, p);
}

TEST_F(StandaloneClone, OrderDefaultsToTheParentsAndExplicitWins) {
  Parent p = make_parent(ioctx, 16 * MiB, DEFAULT_FEATURES, 21);
  librbd::RBD rbd;
  librbd::image_info_t info;

  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open_read_only(ioctx, image, child.c_str(), nullptr));
    ASSERT_EQ(0, image.stat(info, sizeof(info)));
    EXPECT_EQ(21, info.order);
    EXPECT_EQ(16 * MiB, info.size);
  }
  expect_same_data(ioctx, child, p);

  std::string child2 = unique("child");
  librbd::ImageOptions opts;
  opts.set(RBD_IMAGE_OPTION_ORDER, static_cast<uint64_t>(23));
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child2.c_str(), opts)) << sa::last_error();
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open_read_only(ioctx, image, child2.c_str(), nullptr));
    ASSERT_EQ(0, image.stat(info, sizeof(info)));
    EXPECT_EQ(23, info.order);
  }
  expect_same_data(ioctx, child2, p);
}

TEST_F(StandaloneClone, StripingInheritedAndExplicitWins) {
  librbd::ImageOptions popts = options(DEFAULT_FEATURES, 22);
  popts.set(RBD_IMAGE_OPTION_STRIPE_UNIT, 64 * KiB);
  popts.set(RBD_IMAGE_OPTION_STRIPE_COUNT, static_cast<uint64_t>(4));
  Parent p;
  p.name = unique("striped");
  p.id = create_image(ioctx, p.name, 32 * MiB, popts);
  p.size = 32 * MiB;
  p.zero_at = 12 * MiB;
  for (uint64_t off : {uint64_t(0), 3 * MiB + 12345, 17 * MiB}) {
    p.data[off] = pattern(2 * MiB + 777, static_cast<unsigned>(off));
    write(ioctx, p.name, off, p.data[off]);
  }

  // The child has the expected striping and reads the parent's data.
  auto expect_child = [&](const std::string& child, uint64_t unit, uint64_t count) {
    librbd::RBD rbd;
    librbd::Image image;
    ASSERT_EQ(0, rbd.open_read_only(ioctx, image, child.c_str(), nullptr));
    EXPECT_EQ(unit, image.get_stripe_unit());
    EXPECT_EQ(count, image.get_stripe_count());
    if (count > 1) {
      uint64_t f = 0;
      ASSERT_EQ(0, image.features(&f));
      EXPECT_NE(0u, f & RBD_FEATURE_STRIPINGV2);
    }
    image.close();
    expect_same_data(ioctx, child, p);
  };

  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  expect_child(child, 64 * KiB, 4);

  // Explicit striping wins, including an explicitly unstriped child.
  for (auto [unit, count] : {std::pair{128 * KiB, uint64_t(2)}, std::pair{4 * MiB, uint64_t(1)}}) {
    std::string c = unique("child");
    librbd::ImageOptions opts;
    opts.set(RBD_IMAGE_OPTION_STRIPE_UNIT, unit);
    opts.set(RBD_IMAGE_OPTION_STRIPE_COUNT, count);
    ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, c.c_str(), opts)) << sa::last_error();
    expect_child(c, unit, count);
  }
}

TEST_F(StandaloneClone, DataPool) {
  Parent p = make_parent(ioctx);
  std::string child = unique("child");
  librbd::ImageOptions opts;
  opts.set(RBD_IMAGE_OPTION_DATA_POOL, pool2);
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts)) << sa::last_error();
  librbd::RBD rbd;
  librbd::Image image;
  ASSERT_EQ(0, rbd.open(ioctx, image, child.c_str(), nullptr));
  EXPECT_EQ(ioctx2.get_id(), image.get_data_pool_id());
  uint64_t f = 0;
  ASSERT_EQ(0, image.features(&f));
  EXPECT_NE(0u, f & RBD_FEATURE_DATA_POOL);
  // Copy-up lands in the data pool.
  std::string mine = pattern(4 * KiB, 5);
  librados::bufferlist bl;
  bl.append(mine);
  ASSERT_EQ(static_cast<ssize_t>(mine.size()), image.write(0, mine.size(), bl));
  ASSERT_EQ(0, image.close());
  std::string prefix = "rbd_data." + std::to_string(ioctx.get_id()) + "." + image_id(ioctx, child);
  uint64_t size = 0;
  time_t mtime;
  EXPECT_EQ(0, ioctx2.stat(prefix + ".0000000000000000", &size, &mtime)) << prefix;
  EXPECT_TRUE(same_bytes(mine + p.data[0].substr(4 * KiB, 4 * KiB), read(ioctx, child, 0, 8 * KiB)));
  EXPECT_TRUE(same_bytes(p.data[9 * MiB + 4 * KiB], read(ioctx, child, 9 * MiB + 4 * KiB, MiB)));
  // The option is the caller's.
  std::string dp;
  ASSERT_EQ(0, opts.get(RBD_IMAGE_OPTION_DATA_POOL, &dp));
  EXPECT_EQ(pool2, dp);
}

TEST_F(StandaloneClone, CallersOptionsAreNotModified) {
  Parent p = make_parent(ioctx, 16 * MiB, DEFAULT_FEATURES, 21);
  // C: only the order set.
  rbd_image_options_t copts;
  rbd_image_options_create(&copts);
  ASSERT_EQ(0, rbd_image_options_set_uint64(copts, RBD_IMAGE_OPTION_ORDER, 20));
  std::string child = unique("child");
  ASSERT_EQ(0, rbd_clone_standalone(c_ioctx, p.name.c_str(), c_ioctx, child.c_str(), copts))
      << rbd_standalone_last_error();
  bool is_set = true;
  for (int opt : {RBD_IMAGE_OPTION_FEATURES, RBD_IMAGE_OPTION_FORMAT,
                  RBD_IMAGE_OPTION_STRIPE_UNIT, RBD_IMAGE_OPTION_STRIPE_COUNT,
                  RBD_IMAGE_OPTION_DATA_POOL}) {
    EXPECT_EQ(0, rbd_image_options_is_set(copts, opt, &is_set));
    EXPECT_FALSE(is_set) << "option " << opt << " was set by the call";
  }
  uint64_t order = 0;
  EXPECT_EQ(0, rbd_image_options_get_uint64(copts, RBD_IMAGE_OPTION_ORDER, &order));
  EXPECT_EQ(20u, order);
  EXPECT_FALSE(rbd_image_options_is_empty(copts));
  rbd_image_options_destroy(copts);
  expect_same_data(ioctx, child, p);

  // C++: an empty option set stays empty, also when the call fails.
  librbd::ImageOptions opts;
  std::string child2 = unique("child");
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child2.c_str(), opts)) << sa::last_error();
  EXPECT_TRUE(opts.empty());
  EXPECT_EQ(-EEXIST, sa::clone(ioctx, p.name.c_str(), ioctx, child2.c_str(), opts));
  EXPECT_TRUE(opts.empty());
}

// ------------------------------------------------------------ 3. errors ---

TEST_F(StandaloneClone, ErrorParentMissing) {
  std::string child = unique("child");
  librbd::ImageOptions opts;
  expect_error(-ENOENT, sa::clone(ioctx, "no-such-parent", ioctx, child.c_str(), opts),
               {"no-such-parent", "parent"});
  EXPECT_FALSE(exists(ioctx, child));
  rbd_image_options_t copts;
  rbd_image_options_create(&copts);
  expect_error(-ENOENT, rbd_clone_standalone(c_ioctx, "no-such-parent", c_ioctx,
                                             child.c_str(), copts),
               {"no-such-parent"});
  rbd_image_options_destroy(copts);
  EXPECT_FALSE(exists(ioctx, child));
}

TEST_F(StandaloneClone, ErrorParentIsASnapshotSpec) {
  Parent p = make_parent(ioctx);
  {
    librbd::RBD rbd;
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, p.name.c_str(), nullptr));
    ASSERT_EQ(0, image.snap_create("snap"));
  }
  auto op_before = op_features(ioctx, p.id);
  std::string child = unique("child");
  std::string spec = p.name + "@snap";
  librbd::ImageOptions opts;
  expect_error(-EINVAL, sa::clone(ioctx, spec.c_str(), ioctx, child.c_str(), opts),
               {"HEAD", "@snap"});
  expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
}

TEST_F(StandaloneClone, ErrorChildExists) {
  Parent p = make_parent(ioctx);
  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  std::string child_id = image_id(ioctx, child);
  auto op_before = op_features(ioctx, p.id);
  ASSERT_TRUE(is_fenced(ioctx, p.id));

  // The same child again, and a name taken by an unrelated image.
  librbd::ImageOptions opts;
  expect_error(-EEXIST, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
               {child, "already exists"});
  EXPECT_EQ(child_id, image_id(ioctx, child));
  EXPECT_EQ(op_before, op_features(ioctx, p.id));
  EXPECT_EQ(1u, count(ioctx, p.name));
  expect_same_data(ioctx, child, p);

  std::string other = unique("other");
  std::string other_id = create_image(ioctx, other, MiB);
  expect_error(-EEXIST, sa::clone(ioctx, p.name.c_str(), ioctx, other.c_str(), opts),
               {other, "already exists"});
  EXPECT_EQ(other_id, image_id(ioctx, other));
  EXPECT_EQ(1u, count(ioctx, p.name));
  librbd::RBD rbd;
  librbd::Image image;
  ASSERT_EQ(0, rbd.open_read_only(ioctx, image, other.c_str(), nullptr));
  sa::ParentInfo info;
  EXPECT_EQ(-ENOENT, sa::get_parent(image, &info));
}

TEST_F(StandaloneClone, ErrorUnknownOrInternalFeatures) {
  Parent p = make_parent(ioctx);
  auto op_before = op_features(ioctx, p.id);
  struct Case {
    uint64_t features;
    const char* words;
  } cases[] = {
      {DEFAULT_FEATURES | (1ULL << 20), "unknown"},
      {DEFAULT_FEATURES | (1ULL << 63), "unknown"},
      {DEFAULT_FEATURES | RBD_FEATURE_OPERATIONS, "internal"},
      {DEFAULT_FEATURES | RBD_FEATURE_MIGRATING, "internal"},
      {DEFAULT_FEATURES | RBD_FEATURE_NON_PRIMARY, "internal"},
      {DEFAULT_FEATURES | RBD_FEATURE_DIRTY_CACHE, "internal"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.features);
    std::string child = unique("child");
    librbd::ImageOptions opts;
    opts.set(RBD_IMAGE_OPTION_FEATURES, c.features);
    expect_error(-EINVAL, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
                 {c.words, "feature"});
    expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  }
}

TEST_F(StandaloneClone, ErrorNoObjectMapUnlessAllowedAtPoolLevel) {
  Parent p = make_parent(ioctx);
  auto op_before = op_features(ioctx, p.id);
  const uint64_t no_om = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK;
  std::string child = unique("child");
  librbd::ImageOptions opts;
  opts.set(RBD_IMAGE_OPTION_FEATURES, no_om);
  expect_error(-EINVAL, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
               {"object-map", REQUIRE_OM});
  expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);

  // A parent without object-map: its default features are refused too.
  Parent q = make_parent(ioctx, 8 * MiB, no_om, 22, {0});
  librbd::ImageOptions none;
  expect_error(-EINVAL, sa::clone(ioctx, q.name.c_str(), ioctx, child.c_str(), none),
               {"object-map"});
  expect_nothing_changed(ioctx, child, ioctx, q, std::nullopt, 0);

  ASSERT_EQ(0, config::set(ioctx, "", REQUIRE_OM, "false"));
  Defer reset{[] { config::remove(ioctx, "", REQUIRE_OM); }};
  ASSERT_EQ(0, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts)) << sa::last_error();
  EXPECT_EQ(no_om | RBD_FEATURE_OPERATIONS, header_u64(ioctx, image_id(ioctx, child), "features"));
  expect_same_data(ioctx, child, p);
  EXPECT_TRUE(is_fenced(ioctx, p.id));
  std::string child2 = unique("child");
  ASSERT_EQ(0, clone(ioctx, q.name, ioctx, child2)) << sa::last_error();
  EXPECT_EQ(no_om | RBD_FEATURE_OPERATIONS, header_u64(ioctx, image_id(ioctx, child2), "features"));
  expect_same_data(ioctx, child2, q);
}

TEST_F(StandaloneClone, ErrorDisabledAtPoolLevel) {
  Parent p = make_parent(ioctx);
  auto op_before = op_features(ioctx, p.id);
  ASSERT_EQ(0, config::set(ioctx, "", ENABLED, "false"));
  {
    Defer reset{[] { config::remove(ioctx, "", ENABLED); }};
    std::string child = unique("child");
    librbd::ImageOptions opts;
    expect_error(-EOPNOTSUPP, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
                 {"disabled", ENABLED, p.name});
    expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
    // The parent's pool decides: a child in another pool is refused too.
    expect_error(-EOPNOTSUPP, sa::clone(ioctx, p.name.c_str(), ioctx2, child.c_str(), opts),
                 {ENABLED});
    expect_nothing_changed(ioctx2, child, ioctx, p, op_before, 0);
  }
  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
}

TEST_F(StandaloneClone, ErrorDisabledAtParentImageLevel) {
  Parent p = make_parent(ioctx);
  Parent other = make_parent(ioctx, 4 * MiB, DEFAULT_FEATURES, 22, {0});
  ASSERT_EQ(0, config::set(ioctx, p.id, ENABLED, "false"));
  auto op_before = op_features(ioctx, p.id);
  std::string child = unique("child");
  librbd::ImageOptions opts;
  expect_error(-EOPNOTSUPP, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
               {"disabled", ENABLED});
  expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  // Image level wins over a pool-level true, and only for that image.
  ASSERT_EQ(0, config::set(ioctx, "", ENABLED, "true"));
  Defer reset{[] { config::remove(ioctx, "", ENABLED); }};
  expect_error(-EOPNOTSUPP, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
               {ENABLED});
  expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  ASSERT_EQ(0, clone(ioctx, other.name, ioctx, child)) << sa::last_error();
  expect_same_data(ioctx, child, other);
  // And image-level true wins over a pool-level false.
  ASSERT_EQ(0, config::set(ioctx, "", ENABLED, "false"));
  ASSERT_EQ(0, config::set(ioctx, p.id, ENABLED, "true"));
  std::string child2 = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child2)) << sa::last_error();
  expect_same_data(ioctx, child2, p);
}

TEST_F(StandaloneClone, ErrorDisabledAtPoolLevelForAParentInANamespace) {
  // Pool settings live in the pool's rbd_info (default namespace), where
  // the stock librbd reads them for images of every namespace.
  librados::IoCtx nsio;
  std::string ns;
  ASSERT_NO_FATAL_FAILURE(new_namespace(ioctx2, &nsio, &ns));
  Parent p = make_parent(nsio, 4 * MiB, DEFAULT_FEATURES, 22, {0}, 4 * KiB);
  ASSERT_EQ(0, config::set(ioctx2, "", ENABLED, "false"));
  Defer reset{[] { config::remove(ioctx2, "", ENABLED); }};
  config::Value v;
  ASSERT_EQ(0, config::get(nsio, p.id, ENABLED, &v));
  EXPECT_EQ("false", v.value);
  EXPECT_EQ(config::Source::POOL, v.source);
  std::string child = unique("child");
  librbd::ImageOptions opts;
  expect_error(-EOPNOTSUPP, sa::clone(nsio, p.name.c_str(), nsio, child.c_str(), opts),
               {ENABLED});
  expect_nothing_changed(nsio, child, nsio, p, std::nullopt, 0);
  // Setting through a namespaced ioctx is the same pool setting.
  ASSERT_EQ(0, config::remove(ioctx2, "", ENABLED));
  ASSERT_EQ(0, config::set(nsio, "", ENABLED, "false"));
  ASSERT_EQ(0, config::get(ioctx2, "", ENABLED, &v));
  EXPECT_EQ(config::Source::POOL, v.source);
  EXPECT_EQ("false", v.value);
}

TEST_F(StandaloneClone, ErrorParentOpenForWritingByAnotherClient) {
  Parent p = make_parent(ioctx);
  auto op_before = op_features(ioctx, p.id);

  librados::Rados other;
  ASSERT_EQ(0, other.init(nullptr));
  ASSERT_EQ(0, other.conf_read_file(nullptr));
  ASSERT_EQ(0, other.conf_parse_env(nullptr));
  ASSERT_EQ(0, other.connect());
  librados::IoCtx oio;
  ASSERT_EQ(0, other.ioctx_create(pool.c_str(), oio));
  librbd::RBD rbd;
  librbd::Image writer;
  ASSERT_EQ(0, rbd.open(oio, writer, p.name.c_str(), nullptr));
  std::string child = unique("child");
  std::string client = "client." + std::to_string(other.get_instance_id());
  librbd::ImageOptions opts;

  // Open read-write but idle: its watch makes it a writer.
  expect_error(-EBUSY, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
               {"open for writing", client, p.name});
  EXPECT_FALSE(is_fenced(ioctx, p.id));
  expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);

  // Writing: it holds the exclusive lock too.
  std::string w = pattern(4 * KiB, 4242);
  librados::bufferlist bl;
  bl.append(w);
  ASSERT_EQ(static_cast<ssize_t>(w.size()), writer.write(6 * MiB, w.size(), bl));
  bool owner = false;
  ASSERT_EQ(0, writer.is_exclusive_lock_owner(&owner));
  ASSERT_TRUE(owner);
  expect_error(-EBUSY, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
               {"open for writing", client, "(lock owner)", p.name});
  EXPECT_FALSE(is_fenced(ioctx, p.id));
  expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  EXPECT_EQ(0u, count(ioctx, p.name));
  // A read-only user elsewhere does not block (no watch).

  // The writer keeps writing.
  ASSERT_EQ(static_cast<ssize_t>(w.size()), writer.write(7 * MiB, w.size(), bl));
  ASSERT_EQ(0, writer.close());
  oio.close();
  other.shutdown();
  EXPECT_TRUE(same_bytes(w, read(ioctx, p.name, 6 * MiB, w.size())));
  EXPECT_TRUE(same_bytes(w, read(ioctx, p.name, 7 * MiB, w.size())));

  // Once the writer is gone the clone works and sees its writes.
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  expect_same_data(ioctx, child, p);
  EXPECT_TRUE(same_bytes(w, read(ioctx, child, 6 * MiB, w.size())));
  EXPECT_TRUE(is_fenced(ioctx, p.id));
}

// ---------------------------------------------------------- 4. rollback ---

TEST_F(StandaloneClone, RollbackAfterInjectedFailureAtEachStep) {
  Parent p = make_parent(ioctx);
  auto op_before = op_features(ioctx, p.id);
  for (int s = CloneRequest::VALIDATE; s < CloneRequest::STEP_COUNT; ++s) {
    auto step = static_cast<CloneRequest::Step>(s);
    SCOPED_TRACE(CloneRequest::step_name(step));
    std::string child = clone_failing_at(p.name, ioctx, step, -EIO);
    EXPECT_FALSE(exists(ioctx, child));
    EXPECT_EQ(0u, count(ioctx, p.name));
    EXPECT_FALSE(is_fenced(ioctx, p.id));
    EXPECT_EQ(op_before, op_features(ioctx, p.id));

    // The same names work afterwards.
    ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
    expect_same_data(ioctx, child, p);
    EXPECT_EQ(1u, count(ioctx, p.name));
    EXPECT_TRUE(is_fenced(ioctx, p.id));
    ASSERT_EQ(0, sa::remove(ioctx, child)) << sa::last_error();
    EXPECT_EQ(0u, count(ioctx, p.name));
    EXPECT_FALSE(is_fenced(ioctx, p.id));
  }
}

TEST_F(StandaloneClone, RollbackAcrossPoolsAtEachStep) {
  Parent p = make_parent(ioctx);
  for (int s = CloneRequest::VALIDATE; s < CloneRequest::STEP_COUNT; ++s) {
    auto step = static_cast<CloneRequest::Step>(s);
    SCOPED_TRACE(CloneRequest::step_name(step));
    std::string child = clone_failing_at(p.name, ioctx2, step, -ETIMEDOUT);
    EXPECT_FALSE(exists(ioctx2, child));
    EXPECT_EQ(0u, count(ioctx, p.name));
    EXPECT_FALSE(is_fenced(ioctx, p.id));
  }
}

TEST_F(StandaloneClone, RollbackKeepsTheMarkerOfAParentWithAChild) {
  Parent p = make_parent(ioctx);
  std::string first = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, first)) << sa::last_error();
  auto op_before = op_features(ioctx, p.id);
  ASSERT_TRUE(is_fenced(ioctx, p.id));
  for (int s = CloneRequest::VALIDATE; s < CloneRequest::STEP_COUNT; ++s) {
    auto step = static_cast<CloneRequest::Step>(s);
    SCOPED_TRACE(CloneRequest::step_name(step));
    std::string child = clone_failing_at(p.name, ioctx, step, -EIO);
    EXPECT_FALSE(exists(ioctx, child));
    EXPECT_TRUE(is_fenced(ioctx, p.id));
    EXPECT_EQ(op_before, op_features(ioctx, p.id));
    EXPECT_EQ(1u, count(ioctx, p.name));
    EXPECT_EQ((std::set<std::string>{first}), child_names(ioctx, p.name));
  }
  expect_same_data(ioctx, first, p);
  // The still-fenced parent is still read-only.
  expect_read_only_for_stock(ioctx, p.name);
}

// ------------------------------------------------ 5. pools, namespaces ---

TEST_F(StandaloneClone, CrossPoolClone) {
  Parent p = make_parent(ioctx);
  std::string child = unique("xchild");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx2, child)) << sa::last_error();
  EXPECT_TRUE(exists(ioctx2, child));
  EXPECT_FALSE(exists(ioctx, child));
  expect_same_data(ioctx2, child, p);

  auto list = children(ioctx, p.name);
  ASSERT_EQ(1u, list.size());
  EXPECT_EQ(ioctx2.get_id(), list[0].pool_id);
  EXPECT_EQ(pool2, list[0].pool_name);
  EXPECT_EQ("", list[0].pool_namespace);
  EXPECT_EQ(child, list[0].image_name);
  EXPECT_EQ(image_id(ioctx2, child), list[0].image_id);
  EXPECT_EQ(RBD_CHILD_STATE_OK, list[0].state);

  librbd::RBD rbd;
  librbd::Image image;
  ASSERT_EQ(0, rbd.open_read_only(ioctx2, image, child.c_str(), nullptr));
  sa::ParentInfo info;
  ASSERT_EQ(0, sa::get_parent(image, &info));
  EXPECT_EQ(ioctx.get_id(), info.pool_id);
  EXPECT_EQ(pool, info.pool_name);
  EXPECT_EQ(p.name, info.image_name);
  image.close();

  ASSERT_EQ(0, sa::remove(ioctx2, child)) << sa::last_error();
  EXPECT_EQ(0u, count(ioctx, p.name));
  EXPECT_FALSE(is_fenced(ioctx, p.id));
}

TEST_F(StandaloneClone, NamespaceClones) {
  librados::IoCtx nsio;
  std::string ns;
  ASSERT_NO_FATAL_FAILURE(new_namespace(ioctx2, &nsio, &ns));
  librbd::RBD rbd;

  // Parent in pool 1's default namespace, child in pool 2's namespace.
  Parent p = make_parent(ioctx);
  std::string child = unique("nschild");
  ASSERT_EQ(0, clone(ioctx, p.name, nsio, child)) << sa::last_error();
  EXPECT_TRUE(exists(nsio, child));
  EXPECT_FALSE(exists(ioctx2, child));
  expect_same_data(nsio, child, p);
  auto list = children(ioctx, p.name);
  ASSERT_EQ(1u, list.size());
  EXPECT_EQ(pool2, list[0].pool_name);
  EXPECT_EQ(ns, list[0].pool_namespace);
  EXPECT_EQ(child, list[0].image_name);
  EXPECT_EQ(RBD_CHILD_STATE_OK, list[0].state);

  // Parent in the namespace, child in pool 1: the child's parent info names it.
  Parent q = make_parent(nsio);
  std::string child2 = unique("child");
  ASSERT_EQ(0, clone(nsio, q.name, ioctx, child2)) << sa::last_error();
  expect_same_data(ioctx, child2, q);
  librbd::Image image;
  ASSERT_EQ(0, rbd.open_read_only(ioctx, image, child2.c_str(), nullptr));
  sa::ParentInfo info;
  ASSERT_EQ(0, sa::get_parent(image, &info));
  EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, info.parent_type);
  EXPECT_EQ(ioctx2.get_id(), info.pool_id);
  EXPECT_EQ(pool2, info.pool_name);
  EXPECT_EQ(ns, info.pool_namespace);
  EXPECT_EQ(q.name, info.image_name);
  EXPECT_EQ(q.id, info.image_id);
  image.close();
  auto list2 = children(nsio, q.name);
  ASSERT_EQ(1u, list2.size());
  EXPECT_EQ(pool, list2[0].pool_name);
  EXPECT_EQ("", list2[0].pool_namespace);
  EXPECT_EQ(child2, list2[0].image_name);
  EXPECT_TRUE(is_fenced(nsio, q.id));

  // Same namespace on both sides, and a sibling in another namespace.
  std::string child3 = unique("nschild");
  ASSERT_EQ(0, clone(nsio, q.name, nsio, child3)) << sa::last_error();
  expect_same_data(nsio, child3, q);
  EXPECT_EQ(2u, count(nsio, q.name));
  EXPECT_EQ((std::set<std::string>{child2, child3}), child_names(nsio, q.name));

  // Clean up in order: children detach, the namespace empties.
  ASSERT_EQ(0, sa::remove(nsio, child)) << sa::last_error();
  ASSERT_EQ(0, sa::remove(ioctx, child2)) << sa::last_error();
  EXPECT_EQ(-EBUSY, sa::remove(nsio, q.name));
  ASSERT_EQ(0, sa::remove(nsio, child3)) << sa::last_error();
  EXPECT_FALSE(is_fenced(nsio, q.id));
  ASSERT_EQ(0, sa::remove(nsio, q.name)) << sa::last_error();
  EXPECT_TRUE(image_names(nsio).empty());
  EXPECT_EQ(0, rbd.namespace_remove(ioctx2, ns.c_str()));
}

// ------------------------------------------------------- 6. descendants ---

TEST_F(StandaloneClone, GrandchildrenAndMixedSnapshotClones) {
  Parent p = make_parent(ioctx);
  std::string child = unique("c");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  // Write to the child and snapshot it while it is still writable.
  std::string mine = pattern(4 * KiB, 31337);
  write(ioctx, child, 12 * MiB, mine);
  librbd::RBD rbd;
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, child.c_str(), nullptr));
    ASSERT_EQ(0, image.snap_create("s1"));
  }
  std::string snapclone = unique("s");
  librbd::ImageOptions sopts = options(DEFAULT_FEATURES);
  sopts.set(RBD_IMAGE_OPTION_CLONE_FORMAT, static_cast<uint64_t>(2));
  ASSERT_EQ(0, rbd.clone3(ioctx, child.c_str(), "s1", ioctx, snapclone.c_str(), sopts));
  std::string grandchild = unique("g");
  ASSERT_EQ(0, clone(ioctx, child, ioctx, grandchild)) << sa::last_error();

  // Data through both levels.
  expect_same_data(ioctx, grandchild, p);
  expect_same_data(ioctx, snapclone, p);
  EXPECT_TRUE(same_bytes(mine, read(ioctx, grandchild, 12 * MiB, mine.size())));
  EXPECT_TRUE(same_bytes(mine, read(ioctx, snapclone, 12 * MiB, mine.size())));

  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open_read_only(ioctx, image, grandchild.c_str(), nullptr));
    sa::ParentInfo info;
    ASSERT_EQ(0, sa::get_parent(image, &info));
    EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, info.parent_type);
    EXPECT_EQ(child, info.image_name);
  }

  // Direct children only.
  auto direct = children(ioctx, p.name);
  ASSERT_EQ(1u, direct.size());
  EXPECT_EQ(child, direct[0].image_name);
  EXPECT_EQ(1, direct[0].depth);

  // HEAD descendants: two levels.
  auto desc = children(ioctx, p.name, RBD_LIST_CHILDREN_DESCENDANTS);
  ASSERT_EQ(2u, desc.size());
  EXPECT_EQ(child, desc[0].image_name);
  EXPECT_EQ(1, desc[0].depth);
  EXPECT_EQ(p.name, desc[0].parent_image_name);
  EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, desc[0].parent_type);
  EXPECT_EQ(grandchild, desc[1].image_name);
  EXPECT_EQ(2, desc[1].depth);
  EXPECT_EQ(child, desc[1].parent_image_name);
  EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, desc[1].parent_type);
  EXPECT_EQ(CEPH_NOSNAP_ID, desc[1].parent_snap_id);
  EXPECT_EQ(RBD_CHILD_STATE_OK, desc[1].state);

  // With snapshot children: the stock clone v2 appears at depth 2.
  auto all = children(ioctx, p.name, RBD_LIST_CHILDREN_DESCENDANTS | RBD_LIST_CHILDREN_SNAPSHOTS);
  ASSERT_EQ(3u, all.size());
  EXPECT_EQ(child, all[0].image_name);
  EXPECT_EQ(1, all[0].depth);
  std::map<std::string, sa::ChildInfo> level2;
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_EQ(2, all[i].depth);
    EXPECT_EQ(child, all[i].parent_image_name);
    level2[all[i].image_name] = all[i];
  }
  ASSERT_EQ(1u, level2.count(grandchild));
  ASSERT_EQ(1u, level2.count(snapclone));
  EXPECT_EQ(RBD_PARENT_TYPE_STANDALONE, level2[grandchild].parent_type);
  EXPECT_EQ("", level2[grandchild].parent_snap_name);
  EXPECT_EQ(RBD_PARENT_TYPE_SNAPSHOT, level2[snapclone].parent_type);
  EXPECT_EQ("s1", level2[snapclone].parent_snap_name);
  EXPECT_NE(CEPH_NOSNAP_ID, level2[snapclone].parent_snap_id);
  EXPECT_EQ(image_id(ioctx, snapclone), level2[snapclone].image_id);

  // The C listing agrees.
  std::vector<rbd_standalone_child_t> c(8);
  size_t max = c.size();
  ASSERT_EQ(0, rbd_standalone_list_children(
                   c_ioctx, p.name.c_str(),
                   RBD_LIST_CHILDREN_DESCENDANTS | RBD_LIST_CHILDREN_SNAPSHOTS, c.data(), &max));
  ASSERT_EQ(3u, max);
  for (size_t i = 0; i < max; ++i) {
    EXPECT_EQ(all[i].image_name, c[i].image_name);
    EXPECT_EQ(all[i].depth, c[i].depth);
    EXPECT_EQ(all[i].parent_type, c[i].parent_type);
    EXPECT_EQ(all[i].parent_snap_name, c[i].parent_snap_name);
  }
  rbd_standalone_list_children_cleanup(c.data(), max);

  // The child is a parent itself now: marked, counted.
  EXPECT_TRUE(is_fenced(ioctx, image_id(ioctx, child)));
  EXPECT_EQ(1u, count(ioctx, child));
  EXPECT_EQ(1u, count(ioctx, p.name));
  auto of_child = children(ioctx, child, RBD_LIST_CHILDREN_SNAPSHOTS);
  ASSERT_EQ(2u, of_child.size());
  for (const auto& c1 : of_child) {
    EXPECT_EQ(1, c1.depth);
  }
}

// -------------------------------------------------- 7. flatten, remove ---

TEST_F(StandaloneClone, FlattenAndRemoveChildrenOneByOne) {
  Parent p = make_parent(ioctx);
  std::vector<std::string> kids{unique("k"), unique("k"), unique("k")};
  for (const auto& k : kids) {
    ASSERT_EQ(0, clone(ioctx, p.name, ioctx, k)) << sa::last_error();
  }
  librbd::RBD rbd;
  auto expect_parent_locked = [&](uint64_t n) {
    EXPECT_EQ(n, count(ioctx, p.name));
    EXPECT_TRUE(is_fenced(ioctx, p.id));
    expect_error(-EBUSY, sa::remove(ioctx, p.name),
                 {"image has " + std::to_string(n) + " standalone child(ren) - not removing"});
    EXPECT_EQ(-EBUSY, rbd_standalone_remove(c_ioctx, p.name.c_str()));
    expect_read_only_for_stock(ioctx, p.name);
    EXPECT_TRUE(exists(ioctx, p.name));
    EXPECT_EQ(p.id, image_id(ioctx, p.name));
  };
  expect_parent_locked(3);
  EXPECT_EQ((std::set<std::string>(kids.begin(), kids.end())), child_names(ioctx, p.name));

  // Stock flatten asks the parent to detach the child; the OSD cannot see
  // the child, so the entry stays until a client checks it: listing the
  // children completes the detach.
  auto flatten = [&](const std::string& name) {
    uint64_t before = count(ioctx, p.name);
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, name.c_str(), nullptr));
    ASSERT_EQ(0, image.flatten());
    sa::ParentInfo info;
    EXPECT_EQ(-ENOENT, sa::get_parent(image, &info));
    ASSERT_EQ(0, image.close());
    expect_same_data(ioctx, name, p);  // the data is the child's own now
    EXPECT_EQ(before, count(ioctx, p.name));
    EXPECT_TRUE(is_fenced(ioctx, p.id));
    children(ioctx, p.name);
    EXPECT_EQ(before - 1, count(ioctx, p.name));
  };

  // 1: flatten, then remove.
  flatten(kids[0]);
  expect_parent_locked(2);
  EXPECT_EQ((std::set<std::string>{kids[1], kids[2]}), child_names(ioctx, p.name));
  ASSERT_EQ(0, sa::remove(ioctx, kids[0])) << sa::last_error();
  EXPECT_FALSE(exists(ioctx, kids[0]));
  expect_parent_locked(2);

  // 2: removed while still a child (the stock removal detaches it).
  ASSERT_EQ(0, sa::remove(ioctx, kids[1])) << sa::last_error();
  EXPECT_FALSE(exists(ioctx, kids[1]));
  expect_parent_locked(1);
  EXPECT_EQ((std::set<std::string>{kids[2]}), child_names(ioctx, p.name));

  // 3: the last one; flatten clears the marker.
  flatten(kids[2]);
  EXPECT_EQ(0u, count(ioctx, p.name));
  EXPECT_TRUE(children(ioctx, p.name).empty());
  EXPECT_FALSE(is_fenced(ioctx, p.id));
  EXPECT_EQ(std::nullopt, op_features(ioctx, p.id));
  EXPECT_EQ(0u, header_u64(ioctx, p.id, "features").value_or(0) & RBD_FEATURE_OPERATIONS);
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, p.name.c_str(), nullptr));
    std::string w = pattern(4 * KiB, 1);
    librados::bufferlist bl;
    bl.append(w);
    ASSERT_EQ(static_cast<ssize_t>(w.size()), image.write(0, w.size(), bl));
    ASSERT_EQ(0, image.close());
  }
  // The flattened child keeps the data it had.
  EXPECT_TRUE(same_bytes(p.data[0], read(ioctx, kids[2], 0, MiB)));
  ASSERT_EQ(0, sa::remove(ioctx, kids[2])) << sa::last_error();
  ASSERT_EQ(0, sa::remove(ioctx, p.name)) << sa::last_error();
  EXPECT_FALSE(exists(ioctx, p.name));
}

// ------------------------------------------------------------- 8. prune ---

TEST_F(StandaloneClone, StaleRegistrationsAreReportedAndPruned) {
  Parent p = make_parent(ioctx);
  std::string real1 = unique("real"), real2 = unique("real");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, real1)) << sa::last_error();
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx2, real2)) << sa::last_error();
  const std::string oid = "rbd_header." + p.id;

  // A registration whose image does not exist.
  ASSERT_EQ(0, cl::child_attach(ioctx, oid, cls::rbd::standalone::NOSNAP,
                                {ioctx.get_id(), "", "deadbeef1234"}));
  // A real image registered but not linked (it does not read from the parent).
  std::string unlinked = unique("unlinked");
  std::string unlinked_id = create_image(ioctx, unlinked, 16 * MiB);
  ASSERT_EQ(0, cl::child_attach(ioctx, oid, cls::rbd::standalone::NOSNAP,
                                {ioctx.get_id(), "", unlinked_id}));
  EXPECT_EQ(4u, count(ioctx, p.name));

  auto list = children(ioctx, p.name);
  ASSERT_EQ(4u, list.size());
  std::map<std::string, sa::ChildInfo> by_id;
  for (const auto& c : list) {
    by_id[c.image_id] = c;
  }
  ASSERT_EQ(1u, by_id.count("deadbeef1234"));
  EXPECT_EQ(RBD_CHILD_STATE_MISSING, by_id["deadbeef1234"].state);
  EXPECT_EQ("", by_id["deadbeef1234"].image_name);
  ASSERT_EQ(1u, by_id.count(unlinked_id));
  EXPECT_EQ(RBD_CHILD_STATE_NOT_LINKED, by_id[unlinked_id].state);
  EXPECT_EQ(unlinked, by_id[unlinked_id].image_name);
  EXPECT_EQ(RBD_CHILD_STATE_OK, by_id[image_id(ioctx, real1)].state);
  EXPECT_EQ(RBD_CHILD_STATE_OK, by_id[image_id(ioctx2, real2)].state);

  size_t pruned = 0;
  ASSERT_EQ(0, sa::prune_children(ioctx, p.name, &pruned)) << sa::last_error();
  EXPECT_EQ(2u, pruned);
  EXPECT_EQ(2u, count(ioctx, p.name));
  auto after = children(ioctx, p.name);
  ASSERT_EQ(2u, after.size());
  std::set<std::string> names;
  for (const auto& c : after) {
    EXPECT_EQ(RBD_CHILD_STATE_OK, c.state);
    names.insert(c.image_name);
  }
  EXPECT_EQ((std::set<std::string>{real1, real2}), names);
  EXPECT_TRUE(is_fenced(ioctx, p.id));
  expect_same_data(ioctx, real1, p);
  expect_same_data(ioctx2, real2, p);
  EXPECT_TRUE(exists(ioctx, unlinked));  // pruning unregisters, never removes

  // Nothing left to prune; the C call agrees.
  size_t again = 99;
  ASSERT_EQ(0, rbd_standalone_prune_children(c_ioctx, p.name.c_str(), &again));
  EXPECT_EQ(0u, again);
  EXPECT_EQ(2u, count(ioctx, p.name));
}

// A clone between REGISTER and LINK (prepared intent, not expired) is in
// progress: listed as such, never pruned.  Once its intent has expired a
// prune revokes it first, so the clone can no longer link.
TEST_F(StandaloneClone, PruneNeverDropsACloneInProgress) {
  namespace cs = cls::rbd::standalone;
  Parent p = make_parent(ioctx);
  std::string first = unique("real");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, first)) << sa::last_error();
  const std::string oid = "rbd_header." + p.id;
  cs::ParentImageSpec parent{ioctx.get_id(), "", p.id, cs::NOSNAP};
  auto half_made = [&](const std::string& name, uint64_t timeout) {
    std::string id = create_image(ioctx, name, 16 * MiB);
    EXPECT_EQ(0, cl::standalone_parent_prepare(ioctx, "rbd_header." + id, parent, timeout));
    EXPECT_EQ(0, cl::standalone_child_attach(ioctx, oid, {ioctx.get_id(), "", id}));
    return id;
  };
  std::string running = unique("running"), dead = unique("dead");
  std::string running_id = half_made(running, 300);
  std::string dead_id = half_made(dead, 1);
  sleep(2);
  std::map<std::string, sa::ChildInfo> by_id;
  for (const auto& c : children(ioctx, p.name)) {
    by_id[c.image_id] = c;
  }
  EXPECT_EQ(RBD_CHILD_STATE_IN_PROGRESS, by_id[running_id].state);
  EXPECT_EQ(RBD_CHILD_STATE_NOT_LINKED, by_id[dead_id].state);
  size_t pruned = 0;
  ASSERT_EQ(0, sa::prune_children(ioctx, p.name, &pruned)) << sa::last_error();
  EXPECT_EQ(1u, pruned);
  EXPECT_EQ(2u, count(ioctx, p.name));
  // The pruned clone can no longer link; the running one still can.
  EXPECT_EQ(-ESTALE, cl::standalone_parent_attach(ioctx, "rbd_header." + dead_id, parent,
                                                  16 * MiB));
  ASSERT_EQ(0, cl::standalone_parent_attach(ioctx, "rbd_header." + running_id, parent,
                                            16 * MiB));
  expect_same_data(ioctx, running, p);
  EXPECT_TRUE(is_fenced(ioctx, p.id));
  ASSERT_EQ(0, sa::remove(ioctx, running)) << sa::last_error();
  ASSERT_EQ(0, sa::remove(ioctx, first)) << sa::last_error();
  EXPECT_FALSE(is_fenced(ioctx, p.id));
  EXPECT_EQ(0u, count(ioctx, p.name));
}

TEST_F(StandaloneClone, PruneOfLastStaleRegistrationClearsTheMarker) {
  Parent p = make_parent(ioctx);
  const std::string oid = "rbd_header." + p.id;
  ASSERT_EQ(0, cl::standalone_child_attach(ioctx, oid, {ioctx.get_id(), "", "deadbeef5678"}));
  EXPECT_TRUE(is_fenced(ioctx, p.id));
  expect_read_only_for_stock(ioctx, p.name);
  librbd::RBD rbd;
  librbd::Image image;
  size_t pruned = 0;
  ASSERT_EQ(0, sa::prune_children(ioctx, p.name, &pruned)) << sa::last_error();
  EXPECT_EQ(1u, pruned);
  EXPECT_FALSE(is_fenced(ioctx, p.id));
  ASSERT_EQ(0, rbd.open(ioctx, image, p.name.c_str(), nullptr));
  librados::bufferlist bl;
  bl.append(std::string(4096, 'w'));
  EXPECT_EQ(4096, image.write(0, bl.length(), bl));
}

// ------------------------------------------------------ 9. object states ---

TEST_F(StandaloneClone, ObjectStates) {
  // 4 objects of 1 MiB; the parent has data in objects 0 and 2.
  Parent p = make_parent(ioctx, 4 * MiB, DEFAULT_FEATURES, 20, {0, 2 * MiB + 512 * KiB},
                         64 * KiB);
  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  using V = std::vector<uint8_t>;
  const uint8_t N = RBD_OBJECT_STATE_NONEXISTENT, E = RBD_OBJECT_STATE_EXISTS,
                P = RBD_OBJECT_STATE_EXISTS_PARENT, C = RBD_OBJECT_STATE_COPIEDUP;
  V states;
  ASSERT_EQ(0, sa::object_states(ioctx, child, &states)) << sa::last_error();
  EXPECT_EQ((V{P, N, P, N}), states);
  // The parent itself: its own objects.
  ASSERT_EQ(0, sa::object_states(ioctx, p.name, &states)) << sa::last_error();
  EXPECT_EQ((V{E, N, E, N}), states);

  write(ioctx, child, 100, pattern(512, 8));
  ASSERT_EQ(0, sa::object_states(ioctx, child, &states)) << sa::last_error();
  EXPECT_EQ((V{C, N, P, N}), states);

  write(ioctx, child, MiB + 100, pattern(512, 9));
  ASSERT_EQ(0, sa::object_states(ioctx, child, &states)) << sa::last_error();
  EXPECT_EQ((V{C, E, P, N}), states);

  // Data: copied-up object keeps the parent's bytes around the write.
  std::string obj0 = read(ioctx, child, 0, 64 * KiB);
  std::string expect0 = p.data[0];
  expect0.replace(100, 512, pattern(512, 8));
  EXPECT_TRUE(expect0 == obj0);

  // The C call, with -ERANGE on a short buffer.
  uint8_t c_states[4] = {9, 9, 9, 9};
  size_t num = 2;
  EXPECT_EQ(-ERANGE, rbd_standalone_object_states(c_ioctx, child.c_str(), c_states, &num));
  EXPECT_EQ(4u, num);
  ASSERT_EQ(0, rbd_standalone_object_states(c_ioctx, child.c_str(), c_states, &num));
  EXPECT_EQ((V{C, E, P, N}), V(c_states, c_states + 4));

  EXPECT_EQ(-ENOENT, sa::object_states(ioctx, "no-such-image", &states));
  EXPECT_FALSE(sa::last_error().empty());
}

// ------------------------------------------------------------ 10. config ---

TEST_F(StandaloneClone, ConfigResolutionOrder) {
  Parent p = make_parent(ioctx, 4 * MiB, DEFAULT_FEATURES, 22, {0}, 4 * KiB);
  config::Value v;
  for (const char* opt : {ENABLED, REQUIRE_OM}) {
    SCOPED_TRACE(opt);
    ASSERT_EQ(0, config::get(ioctx, p.id, opt, &v));
    EXPECT_EQ("true", v.value);
    EXPECT_EQ(config::Source::DEFAULT, v.source);
  }

  Defer cleanup{[&] {
    config::remove(ioctx, "", ENABLED);
    config::remove(ioctx, p.id, ENABLED);
  }};
  bool b = true;

  // Pool metadata beats the default, and governs clones.
  ASSERT_EQ(0, config::set(ioctx, "", ENABLED, "false"));
  ASSERT_EQ(0, config::get(ioctx, p.id, ENABLED, &v));
  EXPECT_EQ("false", v.value);
  EXPECT_EQ(config::Source::POOL, v.source);
  std::string child = unique("child");
  librbd::ImageOptions opts;
  expect_error(-EOPNOTSUPP, sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts),
               {ENABLED});
  // Pool settings are per pool.
  ASSERT_EQ(0, config::get(ioctx2, "", ENABLED, &v));
  EXPECT_EQ(config::Source::DEFAULT, v.source);
  EXPECT_EQ("true", v.value);

  ASSERT_EQ(0, config::set(ioctx, "", ENABLED, "true"));
  ASSERT_EQ(0, config::get(ioctx, "", ENABLED, &v));  // pool only
  EXPECT_EQ(config::Source::POOL, v.source);

  // Image metadata beats the pool.
  ASSERT_EQ(0, config::set(ioctx, p.id, ENABLED, "off"));
  ASSERT_EQ(0, config::get(ioctx, p.id, ENABLED, &v));
  EXPECT_EQ("false", v.value);  // stored normalised
  EXPECT_EQ(config::Source::IMAGE, v.source);
  ASSERT_EQ(0, config::get(ioctx, "", ENABLED, &v));
  EXPECT_EQ(config::Source::POOL, v.source);
  ASSERT_EQ(0, config::get_bool(ioctx, p.id, ENABLED, &b));
  EXPECT_FALSE(b);

  // Removing each level falls back to the next.
  ASSERT_EQ(0, config::remove(ioctx, p.id, ENABLED));
  ASSERT_EQ(0, config::get(ioctx, p.id, ENABLED, &v));
  EXPECT_EQ(config::Source::POOL, v.source);
  ASSERT_EQ(0, config::remove(ioctx, "", ENABLED));
  ASSERT_EQ(0, config::get(ioctx, p.id, ENABLED, &v));
  EXPECT_EQ(config::Source::DEFAULT, v.source);
  EXPECT_EQ("true", v.value);

  // Bad names and values.
  EXPECT_EQ(-EINVAL, config::get(ioctx, p.id, "rbd_no_such_option", &v));
  EXPECT_EQ(-EINVAL, config::set(ioctx, "", ENABLED, "maybe"));
  EXPECT_EQ(-EINVAL, config::set(ioctx, "", "rbd_no_such_option", "true"));
  // The mgr module's threshold: a fraction, or a percentage, stored as a fraction.
  const char* THRESHOLD = "rbd_standalone_clone_auto_flatten_threshold";
  ASSERT_EQ(0, config::get(ioctx, p.id, THRESHOLD, &v));
  EXPECT_EQ("0", v.value);
  EXPECT_EQ(config::Source::DEFAULT, v.source);
  ASSERT_EQ(0, config::set(ioctx, p.id, THRESHOLD, "50%"));
  ASSERT_EQ(0, config::get(ioctx, p.id, THRESHOLD, &v));
  EXPECT_EQ("0.5", v.value);
  EXPECT_EQ(config::Source::IMAGE, v.source);
  for (const char* bad : {"1.5", "-0.1", "abc", "", "50%%", "0.5x"}) {
    EXPECT_EQ(-EINVAL, config::set(ioctx, p.id, THRESHOLD, bad)) << bad;
  }
  ASSERT_EQ(0, config::get(ioctx, p.id, THRESHOLD, &v));
  EXPECT_EQ("0.5", v.value);  // unchanged by the refused values
  ASSERT_EQ(0, config::remove(ioctx, p.id, THRESHOLD));
  ASSERT_EQ(0, config::get(ioctx, "", ENABLED, &v));
  EXPECT_EQ(config::Source::DEFAULT, v.source);
}

// ------------------------------------------------------------ extras ---

TEST_F(StandaloneClone, ErrorCreateFailuresChangeNothing) {
  Parent p = make_parent(ioctx);
  auto op_before = op_features(ioctx, p.id);
  std::string child = unique("child");
  {
    librbd::ImageOptions opts;
    opts.set(RBD_IMAGE_OPTION_DATA_POOL, std::string("no-such-pool-") + pool);
    int r = sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts);
    EXPECT_GT(0, r);
    expect_error(r, r, {"error creating child image", child});
    expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  }
  {
    librbd::ImageOptions opts;
    opts.set(RBD_IMAGE_OPTION_ORDER, static_cast<uint64_t>(40));
    int r = sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts);
    EXPECT_GT(0, r);
    expect_error(r, r, {"error creating child image"});
    expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  }
  {
    // A stripe unit that does not divide the object size.
    librbd::ImageOptions opts;
    opts.set(RBD_IMAGE_OPTION_STRIPE_UNIT, 3 * 64 * KiB);
    opts.set(RBD_IMAGE_OPTION_STRIPE_COUNT, static_cast<uint64_t>(2));
    int r = sa::clone(ioctx, p.name.c_str(), ioctx, child.c_str(), opts);
    EXPECT_GT(0, r);
    expect_error(r, r, {"error creating child image"});
    expect_nothing_changed(ioctx, child, ioctx, p, op_before, 0);
  }
  // An empty parent.
  std::string empty = unique("empty");
  std::string empty_id = create_image(ioctx, empty, 0);
  librbd::ImageOptions opts;
  expect_error(-EINVAL, sa::clone(ioctx, empty.c_str(), ioctx, child.c_str(), opts),
               {"empty"});
  EXPECT_FALSE(exists(ioctx, child));
  EXPECT_FALSE(is_fenced(ioctx, empty_id));
  // Missing names.
  expect_error(-EINVAL, sa::clone(ioctx, nullptr, ioctx, child.c_str(), opts), {"required"});
  expect_error(-EINVAL, sa::clone(ioctx, p.name.c_str(), ioctx, "", opts), {"required"});
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
}

TEST_F(StandaloneClone, ChildInTrashIsListedAndStillCounts) {
  Parent p = make_parent(ioctx);
  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  std::string child_id = image_id(ioctx, child);
  librbd::RBD rbd;
  ASSERT_EQ(0, rbd.trash_move(ioctx, child.c_str(), 0));
  EXPECT_FALSE(exists(ioctx, child));
  EXPECT_EQ(1u, count(ioctx, p.name));
  EXPECT_TRUE(is_fenced(ioctx, p.id));
  auto list = children(ioctx, p.name);
  ASSERT_EQ(1u, list.size());
  EXPECT_EQ(RBD_CHILD_STATE_TRASH, list[0].state);
  EXPECT_EQ(child, list[0].image_name);
  EXPECT_EQ(child_id, list[0].image_id);
  // Not stale: pruning keeps it.
  size_t pruned = 9;
  ASSERT_EQ(0, sa::prune_children(ioctx, p.name, &pruned)) << sa::last_error();
  EXPECT_EQ(0u, pruned);
  expect_error(-EBUSY, sa::remove(ioctx, p.name), {"image has 1 standalone child(ren)"});

  ASSERT_EQ(0, rbd.trash_restore(ioctx, child_id.c_str(), ""));
  list = children(ioctx, p.name);
  ASSERT_EQ(1u, list.size());
  EXPECT_EQ(RBD_CHILD_STATE_OK, list[0].state);
  expect_same_data(ioctx, child, p);

  // Removing it from the trash (stock) asks for the detach; the next
  // listing sees the child gone and completes it.
  ASSERT_EQ(0, rbd.trash_move(ioctx, child.c_str(), 0));
  ASSERT_EQ(0, rbd.trash_remove(ioctx, child_id.c_str(), false));
  EXPECT_EQ(1u, count(ioctx, p.name));
  EXPECT_TRUE(is_fenced(ioctx, p.id));
  EXPECT_TRUE(children(ioctx, p.name).empty());
  EXPECT_EQ(0u, count(ioctx, p.name));
  EXPECT_FALSE(is_fenced(ioctx, p.id));
}

TEST_F(StandaloneClone, ChildInADeletedPoolIsMissing) {
  std::string pool3 = pool + "-c";
  ASSERT_EQ(0, rados.pool_create(pool3.c_str()));
  Defer drop{[&] { rados.pool_delete(pool3.c_str()); }};  // if the test stops early
  librados::IoCtx io3;
  ASSERT_EQ(0, rados.ioctx_create(pool3.c_str(), io3));
  librbd::RBD rbd;
  ASSERT_EQ(0, rbd.pool_init(io3, true));
  Parent p = make_parent(ioctx);
  std::string child = unique("child"), kept = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, io3, child)) << sa::last_error();
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, kept)) << sa::last_error();
  io3.close();
  ASSERT_EQ(0, rados.pool_delete(pool3.c_str()));

  auto list = children(ioctx, p.name);
  ASSERT_EQ(2u, list.size());
  std::map<std::string, rbd_child_state_t> states;
  for (const auto& c : list) {
    states[c.image_name.empty() ? "<missing>" : c.image_name] = c.state;
  }
  EXPECT_EQ(RBD_CHILD_STATE_OK, states[kept]);
  EXPECT_EQ(RBD_CHILD_STATE_MISSING, states["<missing>"]);
  size_t pruned = 0;
  ASSERT_EQ(0, sa::prune_children(ioctx, p.name, &pruned)) << sa::last_error();
  EXPECT_EQ(1u, pruned);
  EXPECT_EQ((std::set<std::string>{kept}), child_names(ioctx, p.name));
}

TEST_F(StandaloneClone, ChildrenAreListedSortedByPoolNamespaceName) {
  Parent p = make_parent(ioctx, 4 * MiB, DEFAULT_FEATURES, 22, {0}, 4 * KiB);
  std::vector<std::pair<librados::IoCtx*, std::string>> made{
      {&ioctx2, "zz" + unique("c")}, {&ioctx, "bb" + unique("c")}, {&ioctx, "aa" + unique("c")},
      {&ioctx2, "aa" + unique("c")}};
  for (auto& [io, name] : made) {
    ASSERT_EQ(0, clone(ioctx, p.name, *io, name)) << sa::last_error();
  }
  auto list = children(ioctx, p.name);
  ASSERT_EQ(4u, list.size());
  std::vector<std::pair<std::string, std::string>> got, want;
  for (const auto& c : list) {
    got.emplace_back(c.pool_name, c.image_name);
  }
  for (auto& [io, name] : made) {
    want.emplace_back(io->get_pool_name(), name);
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(want, got);
}

TEST_F(StandaloneClone, ObjectStatesAfterShrinkAndRegrow) {
  Parent p = make_parent(ioctx, 4 * MiB, DEFAULT_FEATURES, 20, {0, 2 * MiB + 512 * KiB},
                         64 * KiB);
  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  using V = std::vector<uint8_t>;
  const uint8_t N = RBD_OBJECT_STATE_NONEXISTENT, P = RBD_OBJECT_STATE_EXISTS_PARENT;
  librbd::RBD rbd;
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, child.c_str(), nullptr));
    ASSERT_EQ(0, image.resize(2 * MiB));
    uint64_t overlap = 0;
    ASSERT_EQ(0, image.overlap(&overlap));
    EXPECT_EQ(2 * MiB, overlap);
  }
  V states;
  ASSERT_EQ(0, sa::object_states(ioctx, child, &states)) << sa::last_error();
  EXPECT_EQ((V{P, N}), states);
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, child.c_str(), nullptr));
    ASSERT_EQ(0, image.resize(4 * MiB));
  }
  ASSERT_EQ(0, sa::object_states(ioctx, child, &states)) << sa::last_error();
  EXPECT_EQ((V{P, N, N, N}), states);
  // The regrown range reads zeros, not the parent.
  EXPECT_TRUE(same_bytes(std::string(64 * KiB, '\0'), read(ioctx, child, 2 * MiB + 512 * KiB, 64 * KiB)));
  EXPECT_TRUE(same_bytes(p.data[0], read(ioctx, child, 0, 64 * KiB)));
}

TEST_F(StandaloneClone, ObjectStatesOfASnapshotCloneAndAGrandchild) {
  Parent p = make_parent(ioctx, 4 * MiB, DEFAULT_FEATURES, 20, {0, 2 * MiB + 512 * KiB},
                         64 * KiB);
  librbd::RBD rbd;
  {
    librbd::Image image;
    ASSERT_EQ(0, rbd.open(ioctx, image, p.name.c_str(), nullptr));
    ASSERT_EQ(0, image.snap_create("s"));
  }
  // Written after the snapshot: not part of what the snapshot clone sees.
  write(ioctx, p.name, MiB, pattern(4 * KiB, 3));
  std::string sclone = unique("sclone");
  librbd::ImageOptions sopts = options(DEFAULT_FEATURES, 20);
  sopts.set(RBD_IMAGE_OPTION_CLONE_FORMAT, static_cast<uint64_t>(2));
  ASSERT_EQ(0, rbd.clone3(ioctx, p.name.c_str(), "s", ioctx, sclone.c_str(), sopts));
  using V = std::vector<uint8_t>;
  const uint8_t N = RBD_OBJECT_STATE_NONEXISTENT, E = RBD_OBJECT_STATE_EXISTS,
                P = RBD_OBJECT_STATE_EXISTS_PARENT;
  V states;
  ASSERT_EQ(0, sa::object_states(ioctx, sclone, &states)) << sa::last_error();
  EXPECT_EQ((V{P, N, P, N}), states);

  // A standalone child of the snapshot clone: the whole chain shows through.
  std::string grandchild = unique("g");
  ASSERT_EQ(0, clone(ioctx, sclone, ioctx, grandchild)) << sa::last_error();
  write(ioctx, grandchild, 3 * MiB, pattern(4 * KiB, 4));
  ASSERT_EQ(0, sa::object_states(ioctx, grandchild, &states)) << sa::last_error();
  EXPECT_EQ((V{P, N, P, E}), states);
  EXPECT_TRUE(same_bytes(p.data[0], read(ioctx, grandchild, 0, 64 * KiB)));
  EXPECT_TRUE(same_bytes(std::string(4 * KiB, '\0'), read(ioctx, grandchild, MiB, 4 * KiB)));
  // A standalone child of the parent's HEAD sees the later write.
  std::string head = unique("h");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, head)) << sa::last_error();
  ASSERT_EQ(0, sa::object_states(ioctx, head, &states)) << sa::last_error();
  EXPECT_EQ((V{P, P, P, N}), states);
  EXPECT_TRUE(same_bytes(pattern(4 * KiB, 3), read(ioctx, head, MiB, 4 * KiB)));
}

TEST_F(StandaloneClone, ObjectStatesOfStripedImages) {
  // Stripe unit 64 KiB x 4 objects of 4 MiB: 320 KiB covers objects 0-3
  // (block 4 wraps back to object 0), so there are 4 objects, not 1.
  librbd::ImageOptions popts = options(DEFAULT_FEATURES, 22);
  popts.set(RBD_IMAGE_OPTION_STRIPE_UNIT, 64 * KiB);
  popts.set(RBD_IMAGE_OPTION_STRIPE_COUNT, static_cast<uint64_t>(4));
  Parent p;
  p.name = unique("striped");
  p.id = create_image(ioctx, p.name, 320 * KiB, popts);
  p.size = 320 * KiB;
  p.data[64 * KiB] = pattern(4 * KiB, 11);     // object 1
  p.data[256 * KiB] = pattern(4 * KiB, 12);    // object 0, second stripe
  for (const auto& [off, bytes] : p.data) {
    write(ioctx, p.name, off, bytes);
  }
  using V = std::vector<uint8_t>;
  const uint8_t N = RBD_OBJECT_STATE_NONEXISTENT, E = RBD_OBJECT_STATE_EXISTS,
                P = RBD_OBJECT_STATE_EXISTS_PARENT, C = RBD_OBJECT_STATE_COPIEDUP;
  V states;
  ASSERT_EQ(0, sa::object_states(ioctx, p.name, &states)) << sa::last_error();
  EXPECT_EQ((V{E, E, N, N}), states);

  std::string child = unique("child");
  ASSERT_EQ(0, clone(ioctx, p.name, ioctx, child)) << sa::last_error();
  expect_same_data(ioctx, child, p);
  ASSERT_EQ(0, sa::object_states(ioctx, child, &states)) << sa::last_error();
  EXPECT_EQ((V{P, P, N, N}), states);
  write(ioctx, child, 64 * KiB + 100, pattern(100, 13));   // object 1: copy-up
  write(ioctx, child, 192 * KiB, pattern(100, 14));        // object 3: new
  ASSERT_EQ(0, sa::object_states(ioctx, child, &states)) << sa::last_error();
  EXPECT_EQ((V{P, C, N, E}), states);

  // 16 MiB + 320 KiB: a full object set plus 4 more objects.
  Parent q;
  q.name = unique("striped");
  q.id = create_image(ioctx, q.name, 16 * MiB + 320 * KiB, popts);
  write(ioctx, q.name, 16 * MiB + 128 * KiB, pattern(4 * KiB, 15));  // object 6
  ASSERT_EQ(0, sa::object_states(ioctx, q.name, &states)) << sa::last_error();
  EXPECT_EQ((V{N, N, N, N, N, N, E, N}), states);
}

TEST_F(StandaloneClone, OverlayVersion) {
  Parent p = make_parent(ioctx, 4 * MiB, DEFAULT_FEATURES, 22, {0}, 4 * KiB);
  uint32_t v = 0;
  ASSERT_EQ(0, sa::overlay_version(ioctx, p.name, &v)) << sa::last_error();
  EXPECT_EQ(4u, v);
  v = 0;
  ASSERT_EQ(0, rbd_standalone_overlay_version(c_ioctx, p.name.c_str(), &v));
  EXPECT_EQ(4u, v);
  expect_error(-ENOENT, sa::overlay_version(ioctx, "no-such-image", &v), {"no-such-image"});
}

