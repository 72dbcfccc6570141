// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "librbd/api/Overlay.h"

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <cerrno>
#include <chrono>
#include <thread>
#include <map>
#include <set>
#include <sstream>

#include "cls/rbd/cls_rbd_client.h"
#include "librbd/Utils.h"

namespace librbd::standalone::api {

namespace {

namespace pt = boost::property_tree;
namespace cl = cls::rbd::standalone::client;

int mon_json(librados::Rados& rados, const std::string& command, pt::ptree* out) {
  librados::bufferlist in, reply;
  std::string status;
  // Right after connect the mon may answer EPERM (about 1 in 10 on a
  // loopback cluster, before the session's caps are in place): wait for
  // them up to 5 s; caps that really lack "osd dump" keep failing.
  int r = -EPERM;
  for (int attempt = 0; attempt < 20 && r == -EPERM; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    reply.clear();
    r = rados.mon_command(command, in, &reply, &status);
  }
  if (r < 0) {
    return r;
  }
  try {
    std::istringstream ss(reply.to_str());
    pt::read_json(ss, *out);
  } catch (const pt::ptree_error&) {
    return -EBADMSG;
  }
  return 0;
}

std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      q += '\\';
    }
    q += c;
  }
  return q + "\"";
}

}  // namespace

int primary_osd(librados::IoCtx& ioctx, const std::string& oid, int* osd) {
  librados::Rados rados(ioctx);
  pt::ptree map;
  int r = mon_json(rados,
                   "{\"prefix\": \"osd map\", \"pool\": " + quoted(ioctx.get_pool_name()) +
                       ", \"object\": " + quoted(oid) + ", \"nspace\": " +
                       quoted(ioctx.get_namespace()) + ", \"format\": \"json\"}",
                   &map);
  if (r < 0) {
    return r;
  }
  *osd = map.get<int>("acting_primary", -1);
  return *osd < 0 ? -ENOENT : 0;
}

int overlay_status(librados::Rados& rados, std::vector<OsdOverlay>* osds) {
  pt::ptree dump;
  int r = mon_json(rados, "{\"prefix\": \"osd dump\", \"format\": \"json\"}", &dump);
  if (r < 0) {
    return util::fail(r, "cannot read the osdmap (osd dump)");
  }
  std::map<int, OsdOverlay> by_id;  // OsdOverlay: rbd/standalone.hpp
  size_t up = 0;
  for (const auto& [_, o] : dump.get_child("osds", pt::ptree())) {
    OsdOverlay s;
    s.osd = o.get<int>("osd", -1);
    s.up = o.get<int>("up", 0) != 0;
    up += s.up ? 1 : 0;
    by_id[s.osd] = s;
  }
  // A read-only class call on a missing object fails before the method is
  // looked up, so each OSD is asked through an object that exists.  Listing
  // from hash position p starts at the first object of PG p in the pool's
  // sort order (or, PG p being empty, of a PG after it in that order, not
  // p + 1): so every p is tried once, each object at most once.
  size_t probed = 0;
  std::set<std::string> tried;
  for (const auto& [_, pool] : dump.get_child("pools", pt::ptree())) {
    std::string name = pool.get<std::string>("pool_name", "");
    uint32_t pg_num = pool.get<uint32_t>("pg_num", 0);
    librados::IoCtx io;
    if (probed == up || rados.ioctx_create(name.c_str(), io) < 0) {
      continue;
    }
    io.set_namespace(librados::all_nspaces);
    try {
      for (uint32_t pg = 0; pg < pg_num && probed < up; ++pg) {
        auto it = io.nobjects_begin(pg);
        if (it == io.nobjects_end() || !it->get_locator().empty() ||
            !tried.insert(name + "/" + it->get_nspace() + "/" + it->get_oid()).second) {
          continue;  // (an object with a locator key is placed by it, not its name)
        }
        librados::IoCtx obj_io;
        obj_io.dup(io);
        obj_io.set_namespace(it->get_nspace());
        int osd = -1;
        if (primary_osd(obj_io, it->get_oid(), &osd) < 0) {
          continue;
        }
        auto s = by_id.find(osd);
        if (s == by_id.end() || !s->second.up || !s->second.probe_pool.empty()) {
          continue;
        }
        cl::OverlayInfo info;
        s->second.status = cl::overlay_info(obj_io, it->get_oid(), &info);
        s->second.version = info.version;
        s->second.ceph_version = info.ceph_version;
        s->second.probe_pool = name;
        ++probed;
      }
    } catch (const std::exception&) {
      continue;  // no listing access to this pool: try the next
    }
  }
  osds->clear();
  for (auto& [_, s] : by_id) {
    osds->push_back(s);
  }
  return 0;
}

}  // namespace librbd::standalone::api
