// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/api/Image.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "cls/rbd/cls_rbd_client.h"
#include "librbd/Utils.h"

namespace librbd::standalone::api {

namespace cl = cls::rbd::standalone::client;
using cls::rbd::standalone::ChildImageSpec;
using cls::rbd::standalone::Decoder;
using cls::rbd::standalone::DecodeError;
using cls::rbd::standalone::Encoder;
using cls::rbd::standalone::NOSNAP;
using cls::rbd::standalone::HeadChildEntry;
using cls::rbd::standalone::LinkIntent;
using cls::rbd::standalone::LinkState;
using cls::rbd::standalone::LINK_HEAD;
using cls::rbd::standalone::LINK_NONE;
using cls::rbd::standalone::LINK_PREPARED;
using cls::rbd::standalone::LINK_PREPARED_EXPIRED;
using cls::rbd::standalone::LINK_SNAPSHOTS;
using cls::rbd::standalone::ParentImageSpec;

namespace {

constexpr uint64_t PAGE = 4096;
constexpr size_t MAX_IN_FLIGHT = 128;

struct ImageRef {
  librados::IoCtx ioctx;
  std::string id;
  std::string name;
};

// id -> name for every image of a pool namespace (stock `dir_list`), so
// naming N children costs N/PAGE round trips, not N.
int directory(librados::IoCtx& ioctx, std::map<std::string, std::string>* id_to_name) {
  std::string after;
  while (true) {
    Encoder e;
    e.str(after);
    e.u64(PAGE);
    std::string reply;
    int r = cl::exec(ioctx, "rbd_directory", "dir_list", e.bytes(), &reply);
    if (r == -ENOENT) {
      return 0;
    } else if (r < 0) {
      return r;
    }
    uint32_t n = 0;
    try {
      Decoder d(reply);
      n = d.u32();
      for (uint32_t i = 0; i < n; ++i) {
        std::string name = d.str();
        (*id_to_name)[d.str()] = name;
        after = name;
      }
    } catch (const DecodeError&) {
      return -EBADMSG;
    }
    if (n < PAGE) {
      return 0;
    }
  }
}

// Reads each registered child's link to `parent` (standalone_link_state on
// the child's header, MAX_IN_FLIGHT at a time) into (*states)[i]:
//   linked (HEAD or snapshots)  OK, or DETACHING if a detach was asked
//   clone in progress           IN_PROGRESS
//   expired clone intent        NOT_LINKED (prunable: --prune revokes it)
//   not linked                  NOT_LINKED, or DETACHED for a DETACHING entry
//   no header                   MISSING
//   cannot tell                 UNVERIFIED
// DETACHED is internal: a finished detach, dropped by the caller.
constexpr int CHILD_STATE_DETACHED = -1;

void verify_links(librados::IoCtx& any, const ParentImageSpec& parent,
                  const std::vector<HeadChildEntry>& entries, std::vector<int>* states) {
  struct Pending {
    size_t i;
    librados::IoCtx ioctx;
    librados::AioCompletion* c;
    librados::bufferlist out;
  };
  states->assign(entries.size(), RBD_CHILD_STATE_OK);
  std::vector<std::unique_ptr<Pending>> inflight;
  auto settle = [&](size_t i, int state) {
    bool detaching = entries[i].state == HeadChildEntry::DETACHING;
    if (state == RBD_CHILD_STATE_OK && detaching) {
      state = RBD_CHILD_STATE_DETACHING;
    } else if ((state == RBD_CHILD_STATE_NOT_LINKED || state == RBD_CHILD_STATE_MISSING) &&
               detaching) {
      state = CHILD_STATE_DETACHED;
    }
    (*states)[i] = state;
  };
  auto drain = [&] {
    for (auto& p : inflight) {
      p->c->wait_for_complete();
      int r = p->c->get_return_value();
      p->c->release();
      if (r == -ENOENT) {
        settle(p->i, RBD_CHILD_STATE_MISSING);
        continue;
      }
      if (r < 0 || p->out.length() != 1) {
        settle(p->i, RBD_CHILD_STATE_UNVERIFIED);
        continue;
      }
      switch (static_cast<LinkState>(p->out[0])) {
      case LINK_HEAD:
      case LINK_SNAPSHOTS:
        settle(p->i, RBD_CHILD_STATE_OK);
        break;
      case LINK_PREPARED:
        settle(p->i, RBD_CHILD_STATE_IN_PROGRESS);
        break;
      case LINK_PREPARED_EXPIRED:
        (*states)[p->i] = RBD_CHILD_STATE_NOT_LINKED;  // never "finished"
        break;
      case LINK_NONE:
        settle(p->i, RBD_CHILD_STATE_NOT_LINKED);
        break;
      default:
        settle(p->i, RBD_CHILD_STATE_UNVERIFIED);
      }
    }
    inflight.clear();
  };
  std::string in = cls::rbd::standalone::encode_to_string(parent);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& child = entries[i].child;
    auto p = std::make_unique<Pending>();
    p->i = i;
    if (util::ioctx_for(any, child.pool_id, child.pool_namespace, &p->ioctx) < 0) {
      settle(i, RBD_CHILD_STATE_MISSING);
      continue;
    }
    p->c = librados::Rados::aio_create_completion();
    librados::bufferlist inbl;
    inbl.append(in.data(), in.size());
    p->ioctx.aio_exec(util::header_oid(child.image_id), p->c, "rbd", "standalone_link_state",
                      inbl, &p->out);
    inflight.push_back(std::move(p));
    if (inflight.size() >= MAX_IN_FLIGHT) {
      drain();
    }
  }
  drain();
}

// A parent fenced by overlay v1/v2 keeps its guard only on OSDs with the
// overlay; converting stores the fence (non-primary, lock) on disk.  Also
// retakes a fence lock removed by hand.  Best effort: a read-only client
// or a writer holding the lock leaves it for the next call.
void complete_fence(librados::IoCtx& ioctx, const std::string& parent_id) {
  std::string oid = util::header_oid(parent_id);
  cl::FenceStatus status;
  if (cl::standalone_fence_status(ioctx, oid, &status) == 0 && status.has_children &&
      !status.complete()) {
    cl::standalone_fence_repair(ioctx, oid);
  }
}

int head_children(librados::IoCtx& ioctx, const ImageRef& parent, int depth,
                  std::vector<ChildInfo>* out) {
  std::vector<HeadChildEntry> entries;
  int r = list_head_children(ioctx, parent.id, &entries);
  if (r < 0) {
    return r;
  }
  if (entries.empty()) {
    return 0;
  }
  complete_fence(ioctx, parent.id);
  std::map<std::pair<int64_t, std::string>, std::map<std::string, std::string>> dirs;
  std::vector<ChildInfo> children;
  for (const auto& entry : entries) {
    const auto& spec = entry.child;
    ChildInfo c;
    c.pool_id = spec.pool_id;
    c.pool_name = util::pool_name(ioctx, spec.pool_id);
    c.pool_namespace = spec.pool_namespace;
    c.image_id = spec.image_id;
    c.parent_type = RBD_PARENT_TYPE_STANDALONE;
    c.parent_snap_id = NOSNAP;
    c.parent_image_name = parent.name;
    c.depth = depth;
    c.state_since = entry.since.sec;
    librados::IoCtx child_ioctx;
    auto key = std::make_pair(spec.pool_id, spec.pool_namespace);
    if (util::ioctx_for(ioctx, spec.pool_id, spec.pool_namespace, &child_ioctx) == 0) {
      if (dirs.count(key) == 0 && (r = directory(child_ioctx, &dirs[key])) < 0) {
        return r;
      }
      auto it = dirs[key].find(spec.image_id);
      if (it != dirs[key].end()) {
        c.image_name = it->second;
      } else if (util::trash_name_by_id(child_ioctx, spec.image_id, &c.image_name) == 0) {
        c.state = RBD_CHILD_STATE_TRASH;
      }
    }
    children.push_back(std::move(c));
  }
  std::vector<int> states;
  verify_links(ioctx, {ioctx.get_id(), ioctx.get_namespace(), parent.id, NOSNAP}, entries,
               &states);
  bool lowered = false;
  for (size_t i = 0; i < children.size(); ++i) {
    auto& c = children[i];
    if (states[i] == CHILD_STATE_DETACHED) {
      // A detach asked by stock flatten/rm (or ours) that has finished: the
      // child no longer reads through the parent, so its entry can go.
      r = cl::standalone_child_remove(ioctx, util::header_oid(parent.id),
                                      {c.pool_id, c.pool_namespace, c.image_id});
      if (r == 0 || r == -ENOENT) {
        lowered = true;
        continue;
      }
      states[i] = c.image_name.empty() ? RBD_CHILD_STATE_MISSING : RBD_CHILD_STATE_NOT_LINKED;
    }
    // A trashed child that still reads through the parent stays TRASH.
    if (!(c.state == RBD_CHILD_STATE_TRASH && states[i] == RBD_CHILD_STATE_OK)) {
      c.state = static_cast<rbd_child_state_t>(states[i]);
    }
    out->push_back(std::move(c));
  }
  if (lowered) {
    util::notify_header(ioctx, util::header_oid(parent.id));
  }
  return 0;
}

// Clone v1/v2 children of every snapshot, through the stock librbd.
int snapshot_children(librados::IoCtx& ioctx, const ImageRef& parent, int depth,
                      std::vector<ChildInfo>* out) {
  std::string reply;
  Encoder none;
  int r = cl::exec(ioctx, util::header_oid(parent.id), "get_snapcontext", none.bytes(), &reply);
  if (r < 0) {
    return r;
  }
  std::vector<uint64_t> snap_ids;
  try {
    Decoder d(reply);
    d.u64();  // snap_seq
    for (uint32_t n = d.u32(); n > 0; --n) {
      snap_ids.push_back(d.u64());
    }
  } catch (const DecodeError&) {
    return -EBADMSG;
  }
  if (snap_ids.empty()) {
    return 0;
  }
  librbd::RBD rbd;
  librbd::Image image;
  r = rbd.open_by_id_read_only(ioctx, image, parent.id.c_str(), nullptr);
  if (r < 0) {
    return r;
  }
  for (uint64_t snap_id : snap_ids) {
    std::string snap_name;
    std::vector<librbd::linked_image_spec_t> linked;
    if ((r = image.snap_set_by_id(snap_id)) < 0 ||
        (r = image.snap_get_name(snap_id, &snap_name)) < 0 ||
        (r = image.list_children3(&linked)) < 0) {
      return r;
    }
    for (const auto& l : linked) {
      ChildInfo c;
      c.pool_id = l.pool_id;
      c.pool_name = l.pool_name;
      c.pool_namespace = l.pool_namespace;
      c.image_id = l.image_id;
      c.image_name = l.image_name;
      c.parent_type = RBD_PARENT_TYPE_SNAPSHOT;
      c.parent_snap_id = snap_id;
      c.parent_snap_name = snap_name;
      c.parent_image_name = parent.name;
      c.depth = depth;
      c.state = l.trash ? RBD_CHILD_STATE_TRASH : RBD_CHILD_STATE_OK;
      out->push_back(std::move(c));
    }
  }
  return 0;
}

int children_of(librados::IoCtx& ioctx, const ImageRef& parent, int flags, int depth,
                std::set<std::tuple<int64_t, std::string, std::string>>* visited,
                std::vector<ChildInfo>* out) {
  std::vector<ChildInfo> level;
  int r = head_children(ioctx, parent, depth, &level);
  if (r < 0) {
    return r;
  }
  if ((flags & RBD_LIST_CHILDREN_SNAPSHOTS) != 0 &&
      (r = snapshot_children(ioctx, parent, depth, &level)) < 0) {
    return r;
  }
  std::sort(level.begin(), level.end(), [](const ChildInfo& a, const ChildInfo& b) {
    return std::tie(a.pool_name, a.pool_namespace, a.image_name, a.image_id) <
           std::tie(b.pool_name, b.pool_namespace, b.image_name, b.image_id);
  });
  for (const auto& c : level) {
    out->push_back(c);
    bool descend = (flags & RBD_LIST_CHILDREN_DESCENDANTS) != 0 &&
                   (c.state == RBD_CHILD_STATE_OK || c.state == RBD_CHILD_STATE_TRASH) &&
                   visited->insert({c.pool_id, c.pool_namespace, c.image_id}).second;
    if (!descend) {
      continue;
    }
    ImageRef child{{}, c.image_id, c.image_name};
    if ((r = util::ioctx_for(ioctx, c.pool_id, c.pool_namespace, &child.ioctx)) < 0 ||
        (r = children_of(child.ioctx, child, flags, depth + 1, visited, out)) < 0) {
      return r;
    }
  }
  return 0;
}

int resolve(librados::IoCtx& ioctx, const std::string& name, ImageRef* ref) {
  ref->name = name;
  int r = util::image_id_by_name(ioctx, name, &ref->id);
  if (r < 0) {
    return util::fail(r, "error opening image " + name);
  }
  return 0;
}

}  // namespace

int list_head_children(librados::IoCtx& ioctx, const std::string& image_id,
                       std::vector<HeadChildEntry>* children) {
  ChildImageSpec after;
  bool more = true;
  while (more) {
    std::vector<HeadChildEntry> page;
    int r = cl::standalone_children_list(ioctx, util::header_oid(image_id), after, PAGE,
                                         &page, &more);
    if (r == -EOPNOTSUPP) {
      return 0;  // no overlay: there can be no HEAD children
    } else if (r < 0) {
      return r;
    }
    if (page.empty()) {
      break;
    }
    children->insert(children->end(), page.begin(), page.end());
    after = page.back().child;
  }
  return 0;
}

int list_children(librados::IoCtx& ioctx, const std::string& name, int flags,
                  std::vector<ChildInfo>* children) {
  ImageRef parent{ioctx, {}, {}};
  int r = resolve(ioctx, name, &parent);
  if (r < 0) {
    return r;
  }
  std::set<std::tuple<int64_t, std::string, std::string>> visited{
      {ioctx.get_id(), ioctx.get_namespace(), parent.id}};
  r = children_of(ioctx, parent, flags, 1, &visited, children);
  return r < 0 ? util::fail(r, "error listing children of " + name) : 0;
}

int prune_children(librados::IoCtx& ioctx, const std::string& name, size_t* pruned) {
  std::vector<ChildInfo> children;
  int r = api::list_children(ioctx, name, 0, &children);
  if (r < 0) {
    return r;
  }
  std::string parent_id;
  util::image_id_by_name(ioctx, name, &parent_id);
  ParentImageSpec parent{ioctx.get_id(), ioctx.get_namespace(), parent_id, NOSNAP};
  std::string parent_oid = util::header_oid(parent_id);
  *pruned = 0;
  for (const auto& c : children) {
    if (c.state != RBD_CHILD_STATE_MISSING && c.state != RBD_CHILD_STATE_NOT_LINKED) {
      continue;  // IN_PROGRESS, DETACHING and UNVERIFIED entries are kept
    }
    librados::IoCtx child_ioctx;
    if (c.state == RBD_CHILD_STATE_NOT_LINKED &&
        util::ioctx_for(ioctx, c.pool_id, c.pool_namespace, &child_ioctx) == 0) {
      // A clone that died before linking left an expired intent: revoke it
      // (only if it expired, on the child's OSD clock), so that the clone
      // cannot link after its registration is gone.
      r = cl::standalone_parent_abort(child_ioctx, util::header_oid(c.image_id), parent, true);
      if (r == -EBUSY) {
        continue;  // renewed meanwhile: a clone is running after all
      } else if (r < 0 && r != -ENOENT) {
        return util::fail(r, "error revoking the link intent of child " + c.image_id);
      }
    }
    r = cl::standalone_child_remove(ioctx, parent_oid, {c.pool_id, c.pool_namespace, c.image_id});
    if (r < 0 && r != -ENOENT) {
      return util::fail(r, "error pruning child " + c.image_id);
    }
    ++*pruned;
  }
  if (*pruned > 0) {
    util::notify_header(ioctx, parent_oid);
  }
  return 0;
}

int some_head_child_linked(librados::IoCtx& ioctx, const std::string& image_id,
                           uint64_t max, bool* linked) {
  std::vector<HeadChildEntry> page;
  bool more = false;
  int r = cl::standalone_children_list(ioctx, util::header_oid(image_id), {}, max, &page,
                                       &more);
  if (r < 0) {
    return r;
  }
  std::vector<int> states;
  verify_links(ioctx, {ioctx.get_id(), ioctx.get_namespace(), image_id, NOSNAP}, page,
               &states);
  *linked = std::any_of(states.begin(), states.end(), [](int s) {
    return s != RBD_CHILD_STATE_NOT_LINKED && s != RBD_CHILD_STATE_MISSING &&
           s != CHILD_STATE_DETACHED;
  });
  return 0;
}

int count_head_children(librados::IoCtx& ioctx, const std::string& image_id,
                        uint64_t* count) {
  int r = cl::standalone_children_count(ioctx, util::header_oid(image_id), count);
  if (r != -EOPNOTSUPP) {
    return r;
  }
  // An overlay older than v2 (or none): count the listed pages.
  std::vector<HeadChildEntry> children;
  r = list_head_children(ioctx, image_id, &children);
  *count = children.size();
  return r;
}

int count_children(librados::IoCtx& ioctx, const std::string& name, uint64_t* count) {
  std::string id;
  int r = util::image_id_by_name(ioctx, name, &id);
  if (r < 0) {
    return util::fail(r, "error opening image " + name);
  }
  r = count_head_children(ioctx, id, count);
  if (r < 0) {
    return util::fail(r, "error counting the children of " + name);
  }
  return 0;
}

int find_standalone_link(librados::IoCtx& ioctx, const std::string& name,
                         StandaloneLink* link) {
  std::string id;
  int r = util::image_id_by_name(ioctx, name, &id);
  if (r < 0) {
    return r;
  }
  std::string reply;
  r = cl::exec(ioctx, util::header_oid(id), "parent_get", {}, &reply);
  if (r < 0) {
    return r;
  }
  ParentImageSpec spec;
  try {
    spec = cls::rbd::standalone::decode_from_string<ParentImageSpec>(reply);
    if (spec.pool_id < 0) {
      // A clone that died before linking left its intent: the parent may
      // hold its registration (and its fence) all the same.
      std::map<std::string, librados::bufferlist> vals;
      std::string key = cls::rbd::standalone::LINK_INTENT_KEY;
      r = ioctx.omap_get_vals_by_keys(util::header_oid(id), {key}, &vals);
      if (r == 0 && vals.count(key) == 1) {
        std::string raw(vals[key].c_str(), vals[key].length());
        spec = cls::rbd::standalone::decode_from_string<LinkIntent>(raw).parent;
      }
    }
  } catch (const DecodeError&) {
    return -EBADMSG;
  }
  if (spec.pool_id < 0 || spec.snap_id != NOSNAP) {
    return -ENOENT;
  }
  *link = {spec.pool_id, spec.pool_namespace, spec.image_id,
           ioctx.get_id(), ioctx.get_namespace(), id};
  return 0;
}

int complete_detach(librados::IoCtx& any, const StandaloneLink& link) {
  librados::IoCtx parent_ioctx, child_ioctx;
  int r = util::ioctx_for(any, link.parent_pool_id, link.parent_namespace, &parent_ioctx);
  if (r < 0) {
    return r == -ENOENT ? 0 : r;  // the parent's pool is gone: nothing to do
  }
  ParentImageSpec parent{link.parent_pool_id, link.parent_namespace, link.parent_id, NOSNAP};
  LinkState state = LINK_NONE;
  r = util::ioctx_for(any, link.child_pool_id, link.child_namespace, &child_ioctx);
  if (r == 0) {
    r = cl::standalone_link_state(child_ioctx, util::header_oid(link.child_id), parent, &state);
  }
  if (r < 0 && r != -ENOENT) {
    return r;
  }
  if (r == 0 && state != LINK_NONE) {
    return 0;  // still reads through the parent (snapshots without deep-flatten)
  }
  std::string oid = util::header_oid(link.parent_id);
  r = cl::standalone_child_remove(parent_ioctx, oid,
                                  {link.child_pool_id, link.child_namespace, link.child_id});
  if (r == -ENOENT) {
    return 0;
  } else if (r < 0) {
    return r;
  }
  util::notify_header(parent_ioctx, oid);
  return 0;
}

int get_parent(librbd::Image& image, ParentInfo* info) {
  librbd::linked_image_spec_t linked;
  librbd::snap_spec_t snap;
  int r = image.get_parent(&linked, &snap);
  if (r < 0) {
    return r;  // -ENOENT: no parent
  }
  info->parent_type = snap.id == NOSNAP ? RBD_PARENT_TYPE_STANDALONE : RBD_PARENT_TYPE_SNAPSHOT;
  info->pool_id = linked.pool_id;
  info->pool_name = linked.pool_name;
  info->pool_namespace = linked.pool_namespace;
  info->image_name = linked.image_name;
  info->image_id = linked.image_id;
  info->snap_id = snap.id;
  info->snap_name = snap.name;
  return image.overlap(&info->overlap);
}

}  // namespace librbd::standalone::api
