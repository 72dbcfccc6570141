// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/image/CloneRequest.h"

#include <cerrno>
#include <list>
#include <set>
#include <tuple>

#include "cls/rbd/cls_rbd_client.h"
#include "cls/rbd/cls_rbd_types.h"
#include "librbd/Utils.h"
#include "librbd/api/Overlay.h"
#include "librbd/api/Config.h"

namespace librbd::standalone::image {

namespace cl = cls::rbd::standalone::client;
using cls::rbd::standalone::NOSNAP;
using util::fail;

namespace {

constexpr uint64_t FEATURE_LAYERING = RBD_FEATURE_LAYERING;
constexpr uint64_t FEATURE_OBJECT_MAP = RBD_FEATURE_OBJECT_MAP;
// Features that describe an image's state, not what a new image may ask for.
constexpr uint64_t FEATURES_NOT_INHERITED =
    RBD_FEATURE_OPERATIONS | RBD_FEATURE_MIGRATING | RBD_FEATURE_NON_PRIMARY |
    RBD_FEATURE_DIRTY_CACHE;
// How long a clone may take from PREPARE_LINK to LINK_CHILD before a prune
// may revoke its intent (and so make it fail at LINK_CHILD).
constexpr uint64_t LINK_INTENT_SECONDS = 300;
// The first overlay that refuses parent loops and records which attach
// raised the fence (v3: the stored fence and link intents).
constexpr uint32_t MIN_OVERLAY_VERSION = 4;

// Deeper parent chains are refused as loops.
constexpr int MAX_PARENT_CHAIN = 256;

// -ELOOP if the parent chain starting at image `id` comes back to an image
// it passed (a loop written by hand or by an old overlay): stock librbd
// would open parents forever.  Walked with parent_get, without opening
// anything.
int check_parent_chain(librados::IoCtx& ioctx, const std::string& id) {
  std::set<std::tuple<int64_t, std::string, std::string>> seen;
  librados::IoCtx at = ioctx;
  std::string image_id = id;
  for (int depth = 0; depth <= MAX_PARENT_CHAIN; ++depth) {
    if (!seen.insert({at.get_id(), at.get_namespace(), image_id}).second) {
      return -ELOOP;
    }
    std::string reply;
    int r = cl::exec(at, util::header_oid(image_id), "parent_get", {}, &reply);
    if (r < 0) {
      return r == -ENOENT || r == -EOPNOTSUPP ? 0 : r;  // removed meanwhile / old OSD
    }
    cls::rbd::standalone::ParentImageSpec parent;
    try {
      parent = cls::rbd::standalone::decode_from_string<
          cls::rbd::standalone::ParentImageSpec>(reply);
    } catch (const cls::rbd::standalone::DecodeError&) {
      return -EBADMSG;
    }
    if (parent.pool_id < 0) {
      return 0;
    }
    librados::IoCtx next;
    r = util::ioctx_for(ioctx, parent.pool_id, parent.pool_namespace, &next);
    if (r < 0) {
      return 0;  // the parent's pool is gone: no loop through it
    }
    at = next;
    image_id = parent.image_id;
  }
  return -ELOOP;
}

// "client.N (lock owner) at ADDR, ..." for the image's exclusive lock.
std::string lock_owners(librados::IoCtx& ioctx, const std::string& oid) {
  int exclusive = 0;
  std::string tag, owners;
  std::list<librados::locker_t> lockers;
  ioctx.list_lockers(oid, "rbd_lock", &exclusive, &tag, &lockers);
  for (const auto& l : lockers) {
    owners += std::string(owners.empty() ? "" : ", ") + l.client + " (lock owner) at " +
              l.address;
  }
  return owners.empty() ? "another client (lock owner)" : owners;
}

std::string pool_spec(librados::IoCtx& ioctx) {
  std::string ns = ioctx.get_namespace();
  return ioctx.get_pool_name() + (ns.empty() ? "" : "/" + ns);
}

}  // namespace

const char* CloneRequest::step_name(Step step) {
  static const char* names[] = {"validate",        "check_parent_overlay",
                                "create_child",    "check_child_overlay",
                                "prepare_link",    "register_on_parent",
                                "check_writers",   "link_child",
                                "notify_parent"};
  return step < STEP_COUNT ? names[step] : "?";
}

CloneRequest::CloneRequest(librados::IoCtx& parent_ioctx, const std::string& parent_name,
                           librados::IoCtx& child_ioctx, const std::string& child_name,
                           librbd::ImageOptions& opts)
    : m_parent_ioctx(parent_ioctx), m_parent_name(parent_name),
      m_child_ioctx(child_ioctx), m_child_name(child_name), m_opts(opts) {}

int CloneRequest::send() {
  util::set_error("");
  using StepFn = std::function<int()>;
  const std::pair<Step, StepFn> steps[] = {
      {VALIDATE, [this] { return validate(); }},
      {CHECK_PARENT_OVERLAY, [this] { return check_overlay(m_parent_ioctx, m_parent_id, "parent"); }},
      {CREATE_CHILD, [this] { return create_child(); }},
      {CHECK_CHILD_OVERLAY, [this] { return check_overlay(m_child_ioctx, m_child_id, "child"); }},
      {PREPARE_LINK, [this] { return prepare_link(); }},
      {REGISTER_ON_PARENT, [this] { return register_on_parent(); }},
      {CHECK_WRITERS, [this] { return check_writers(); }},
      {LINK_CHILD, [this] { return link_child(); }},
      {NOTIFY_PARENT, [this] { return notify_parent(); }},
  };
  for (const auto& [step, fn] : steps) {
    auto fault = m_faults.find(step);
    int r = fault != m_faults.end()
                ? fail(fault->second, std::string("injected failure at ") + step_name(step))
                : fn();
    if (r < 0) {
      rollback();
      return r;
    }
  }
  return 0;
}

void CloneRequest::rollback() {
  for (auto it = m_undo.rbegin(); it != m_undo.rend(); ++it) {
    (*it)();
  }
  m_undo.clear();
}

int CloneRequest::validate() {
  if (m_parent_name.empty() || m_child_name.empty()) {
    return fail(-EINVAL, "parent and child image names are required");
  }
  if (m_parent_name.find('@') != std::string::npos) {
    return fail(-EINVAL, "standalone clones are made from an image's HEAD, not a "
                         "snapshot: drop '@" +
                             m_parent_name.substr(m_parent_name.find('@') + 1) +
                             "' (use 'rbd clone' for snapshot clones)");
  }
  // Before any open: opening an image opens its parents.
  std::string id;
  int r = util::image_id_by_name(m_parent_ioctx, m_parent_name, &id);
  if (r == 0 && (r = check_parent_chain(m_parent_ioctx, id)) == -ELOOP) {
    return fail(r, "the parent chain of " + m_parent_name + " loops back on itself (or is "
                   "deeper than " + std::to_string(MAX_PARENT_CHAIN) + "): cannot clone it");
  }
  librbd::RBD rbd;
  librbd::Image parent;
  r = rbd.open_read_only(m_parent_ioctx, parent, m_parent_name.c_str(), nullptr);
  if (r < 0) {
    return fail(r, "error opening parent image " + pool_spec(m_parent_ioctx) + "/" +
                       m_parent_name);
  }
  uint64_t& parent_features = m_parent_features;
  librbd::image_info_t info;
  if ((r = parent.get_id(&m_parent_id)) < 0 || (r = parent.stat(info, sizeof(info))) < 0 ||
      (r = parent.features(&parent_features)) < 0) {
    return fail(r, "error reading parent image " + m_parent_name);
  }
  uint64_t stripe_unit = parent.get_stripe_unit();
  uint64_t stripe_count = parent.get_stripe_count();
  m_parent_size = info.size;
  if ((parent_features & RBD_FEATURE_MIGRATING) != 0) {
    return fail(-EBUSY, "parent image " + m_parent_name + " is being migrated");
  }
  if (m_parent_size == 0) {
    return fail(-EINVAL, "parent image " + m_parent_name + " is empty (size 0)");
  }

  std::string existing;
  if (util::image_id_by_name(m_child_ioctx, m_child_name, &existing) == 0) {
    return fail(-EEXIST, "image " + pool_spec(m_child_ioctx) + "/" + m_child_name +
                             " already exists");
  }

  bool enabled = true, require_object_map = true;
  if ((r = api::get_bool(m_parent_ioctx, m_parent_id, "rbd_standalone_clone_enabled",
                         &enabled)) < 0 ||
      (r = api::get_bool(m_parent_ioctx, m_parent_id,
                         "rbd_standalone_clone_require_object_map",
                         &require_object_map)) < 0) {
    return r;
  }
  if (!enabled) {
    return fail(-EOPNOTSUPP, "standalone clones are disabled for " + m_parent_name +
                                 " (rbd_standalone_clone_enabled = false)");
  }

  // Options as stock clones take them; unset ones come from the parent.
  bool is_set = false;
  if (m_opts.is_set(RBD_IMAGE_OPTION_FEATURES, &is_set) == 0 && is_set) {
    m_opts.get(RBD_IMAGE_OPTION_FEATURES, &m_features);
    if ((m_features & ~static_cast<uint64_t>(RBD_FEATURES_ALL)) != 0) {
      return fail(-EINVAL, "unknown image features requested");
    }
    if ((m_features & FEATURES_NOT_INHERITED) != 0) {
      return fail(-EINVAL, "internal image features cannot be requested");
    }
  } else {
    m_features = parent_features & ~FEATURES_NOT_INHERITED;
    m_opts.set(RBD_IMAGE_OPTION_FEATURES, m_features);
  }
  m_features |= FEATURE_LAYERING;
  m_opts.set(RBD_IMAGE_OPTION_FEATURES, m_features);
  // The stock create applies FEATURES_SET / FEATURES_CLEAR on top of
  // FEATURES (a bit in both is ignored): check the features the child will
  // really have, or clearing object-map would bypass the requirement below
  // and clearing layering would only fail at LINK_CHILD (-ENOEXEC).
  uint64_t features_set = 0, features_clear = 0;
  m_opts.get(RBD_IMAGE_OPTION_FEATURES_SET, &features_set);
  m_opts.get(RBD_IMAGE_OPTION_FEATURES_CLEAR, &features_clear);
  const uint64_t conflict = features_set & features_clear;
  features_set &= ~conflict;
  features_clear &= ~conflict;
  if ((features_set & ~static_cast<uint64_t>(RBD_FEATURES_ALL)) != 0) {
    return fail(-EINVAL, "unknown image features requested");
  }
  if ((features_set & FEATURES_NOT_INHERITED) != 0) {
    return fail(-EINVAL, "internal image features cannot be requested");
  }
  if ((features_clear & FEATURE_LAYERING) != 0) {
    return fail(-EINVAL, "standalone clones need the layering feature: it cannot be cleared");
  }
  m_features = (m_features | features_set) & ~features_clear;
  if (require_object_map && (m_features & FEATURE_OBJECT_MAP) == 0) {
    return fail(-EINVAL, "standalone clones need the object-map feature "
                         "(rbd_standalone_clone_require_object_map = true), and the "
                         "requested features (or --image-shared) leave it out: set that "
                         "option to false on the parent or its pool to clone without it");
  }
  if (m_opts.is_set(RBD_IMAGE_OPTION_ORDER, &is_set) == 0 && !is_set) {
    m_opts.set(RBD_IMAGE_OPTION_ORDER, static_cast<uint64_t>(info.order));
  }
  bool su_set = false, sc_set = false;
  m_opts.is_set(RBD_IMAGE_OPTION_STRIPE_UNIT, &su_set);
  m_opts.is_set(RBD_IMAGE_OPTION_STRIPE_COUNT, &sc_set);
  if (!su_set && !sc_set && (stripe_count > 1 || stripe_unit != info.obj_size)) {
    m_opts.set(RBD_IMAGE_OPTION_STRIPE_UNIT, stripe_unit);
    m_opts.set(RBD_IMAGE_OPTION_STRIPE_COUNT, stripe_count);
  }
  m_opts.set(RBD_IMAGE_OPTION_FORMAT, static_cast<uint64_t>(2));
  return 0;
}

int CloneRequest::check_overlay(librados::IoCtx& ioctx, const std::string& image_id,
                                const std::string& which) {
  cl::OverlayInfo info;
  std::string oid = util::header_oid(image_id);
  int r = cl::overlay_info(ioctx, oid, &info);
  if (r == -EOPNOTSUPP || (r == 0 && info.version < MIN_OVERLAY_VERSION)) {
    int osd = -1;
    std::string server = api::primary_osd(ioctx, oid, &osd) == 0
                             ? "osd." + std::to_string(osd)
                             : std::string("the OSD");
    std::string what = server + " (serving the " + which + " image's header in pool " +
                       ioctx.get_pool_name() + ")";
    if (r == -EOPNOTSUPP) {
      return fail(-EOPNOTSUPP,
                  what + " does not run the cls_rbd standalone-clone overlay: point every "
                         "OSD's 'osd class dir' at the overlay's class directory and restart "
                         "the OSDs one at a time (the 'overlay status' command of the project's rbd lists them)");
    }
    return fail(-EOPNOTSUPP, what + " runs cls_rbd standalone-clone overlay v" +
                                 std::to_string(info.version) + "; this client needs v" +
                                 std::to_string(MIN_OVERLAY_VERSION) +
                                 " or later: upgrade the overlay and restart the OSDs");
  }
  if (r < 0) {
    return fail(r, "cannot query the cls_rbd overlay on the " + which + " image");
  }
  return 0;
}

int CloneRequest::create_child() {
  librbd::RBD rbd;
  int r = rbd.create4(m_child_ioctx, m_child_name.c_str(), m_parent_size, m_opts);
  if (r < 0) {
    return fail(r, "error creating child image " + pool_spec(m_child_ioctx) + "/" +
                       m_child_name);
  }
  m_undo.push_back([this] {
    librbd::RBD rbd;
    rbd.remove(m_child_ioctx, m_child_name.c_str());
  });
  r = util::image_id_by_name(m_child_ioctx, m_child_name, &m_child_id);
  if (r < 0) {
    return fail(r, "cannot read the new child's id");
  }
  return 0;
}

int CloneRequest::prepare_link() {
  cls::rbd::standalone::ParentImageSpec parent{m_parent_ioctx.get_id(),
                                               m_parent_ioctx.get_namespace(), m_parent_id,
                                               NOSNAP};
  int r = cl::standalone_parent_prepare(m_child_ioctx, util::header_oid(m_child_id), parent,
                                        LINK_INTENT_SECONDS);
  if (r < 0) {
    return fail(r, "error preparing child " + m_child_name + " for its link");
  }
  return 0;  // undone by removing the child
}

int CloneRequest::register_on_parent() {
  cls::rbd::standalone::ChildImageSpec child{m_child_ioctx.get_id(),
                                             m_child_ioctx.get_namespace(), m_child_id};
  std::string oid = util::header_oid(m_parent_id);
  // Whether this attach raises the fence: a concurrent first clone may
  // raise it too, and then both look for writers, which costs nothing.
  cl::FenceStatus before;
  int r = cl::standalone_fence_status(m_parent_ioctx, oid, &before);
  if (r < 0) {
    return fail(r, "cannot read the fence of parent " + m_parent_name);
  }
  m_raised_fence = !before.complete();
  r = cl::standalone_child_attach(m_parent_ioctx, oid, child);
  if (r == -EPERM) {
    // No write access to the parent's pool (e.g. profile rbd-read-only):
    // join the fence of a parent that already has standalone children.
    r = cl::child_attach(m_parent_ioctx, oid, NOSNAP, child);
    if (r == -EPERM || r == -ENOENT) {  // ENOENT: stock's answer, not fenced
      return fail(-EPERM, "cannot register the child on parent " + m_parent_name +
                         ": the first standalone clone of an image needs write access "
                         "to its pool (this client may only clone parents that already "
                         "have standalone children)");
    }
  }
  if (r == -EBUSY) {
    return fail(r, "parent image " + m_parent_name + " is open for writing by " +
                       lock_owners(m_parent_ioctx, oid) +
                       ": close it there and retry (if that client is gone, remove its "
                       "lock with 'rbd lock rm')");
  }
  if (r == -EINVAL && (m_parent_features & RBD_FEATURE_EXCLUSIVE_LOCK) == 0) {
    return fail(r, "parent image " + m_parent_name + " has no exclusive-lock feature: "
                       "standalone clones need it, so that a client writing to the parent "
                       "cannot race the clone; run 'rbd feature enable " + m_parent_name +
                       " exclusive-lock' and retry");
  }
  if (r == -EROFS) {
    return fail(r, "parent image " + m_parent_name + " is non-primary (mirrored): its "
                       "mirror daemon writes it, so it cannot be a standalone parent");
  }
  if (r < 0) {
    return fail(r, "error registering the child on parent " + m_parent_name);
  }
  // The last child's detach may have lowered the fence after `before` was
  // read, and then this attach raised it again: the fence says which
  // attach raised it.
  cl::FenceStatus after;
  if (!m_raised_fence && cl::standalone_fence_status(m_parent_ioctx, oid, &after) == 0 &&
      after.raised_for == cls::rbd::standalone::head_child_key(child)) {
    m_raised_fence = true;
  }
  m_undo.push_back([this, oid, child] {
    // Without write access, leave the entry for the owner's tools to drop
    // (the child is removed next, so the entry is a finished detach).
    if (cl::standalone_child_remove(m_parent_ioctx, oid, child) == -EPERM) {
      cl::child_detach(m_parent_ioctx, oid, NOSNAP, child);
    }
    if (m_raised_fence) {
      util::notify_header(m_parent_ioctx, oid);
    }
  });
  return 0;
}

int CloneRequest::check_writers() {
  if (!m_raised_fence) {
    // The fence was up before this clone: nobody can have been writing.
    return check_parent_unchanged();
  }
  std::string oid = util::header_oid(m_parent_id);
  // Open clients re-read the header and turn read-only; a client that
  // still watches it opened the parent read-write (read-only opens never
  // watch) and could have been writing up to now.
  util::notify_header(m_parent_ioctx, oid);

  std::list<obj_watch_t> watchers;
  int r = m_parent_ioctx.list_watchers(oid, &watchers);
  if (r < 0) {
    return fail(r, "cannot list the parent's watchers");
  }
  std::string writers;
  for (const auto& w : watchers) {
    writers += std::string(writers.empty() ? "" : ", ") + "client." +
               std::to_string(w.watcher_id) + " at " + w.addr;
  }
  if (!writers.empty()) {
    return fail(-EBUSY, "parent image " + m_parent_name +
                            " is open for writing by " + writers +
                            ": close it there (or wait for the watch to time out) and retry");
  }
  return check_parent_unchanged();
}

int CloneRequest::check_parent_unchanged() {
  // Nothing can change or remove the parent from here on; it must still be
  // the image the child was sized for, and still in the pool's directory: a
  // stock `rbd rm` moves it to the trash first (and only then removes it),
  // so a parent missing here is being removed, and a child linked to it
  // would strand it in the trash.
  std::string name;
  int r = util::image_name_by_id(m_parent_ioctx, m_parent_id, &name);
  if (r == -ENOENT) {
    return fail(-ENOENT, "parent image " + m_parent_name +
                             " was moved to the trash (being removed) while being cloned");
  }
  if (r < 0) {
    return fail(r, "cannot look the parent up in the pool's directory");
  }
  std::string oid = util::header_oid(m_parent_id);
  std::string reply_size;
  cls::rbd::standalone::Encoder e;
  e.u64(NOSNAP);
  r = cl::exec(m_parent_ioctx, oid, "get_size", e.bytes(), &reply_size);
  if (r < 0 || reply_size.size() < 9) {
    return fail(r < 0 ? r : -EBADMSG, "cannot re-read the parent's size");
  }
  cls::rbd::standalone::Decoder d(reply_size);
  d.u8();
  if (d.u64() != m_parent_size) {
    return fail(-EBUSY, "parent image " + m_parent_name +
                            " was resized while being cloned: retry");
  }
  return 0;
}

int CloneRequest::link_child() {
  cls::rbd::standalone::ParentImageSpec parent{m_parent_ioctx.get_id(),
                                               m_parent_ioctx.get_namespace(), m_parent_id,
                                               NOSNAP};
  std::string oid = util::header_oid(m_child_id);
  int r = cl::standalone_parent_attach(m_child_ioctx, oid, parent, m_parent_size);
  if (r == -ESTALE) {
    return fail(r, "the link of child " + m_child_name + " was revoked (its registration "
                   "was pruned while the clone stalled): retry the clone");
  }
  if (r < 0) {
    return fail(r, "error linking child " + m_child_name + " to its parent");
  }
  // Unlink before the registration goes, so the fence outlives the link.
  m_undo.push_back([this, oid, parent] {
    cl::standalone_parent_detach(m_child_ioctx, oid, parent);
  });
  return 0;
}

int CloneRequest::notify_parent() {
  if (m_raised_fence) {
    util::notify_header(m_parent_ioctx, util::header_oid(m_parent_id));
  }
  return 0;
}

}  // namespace librbd::standalone::image
