// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// rbd object-map view [--format F [--pretty-format]] IMAGE: each object's state in the
// seed's terms (exists, exists_parent, copied_up, nonexistent), derived
// from the stock 2-bit object maps of the image and its parent chain.
// Plain output gives runs of objects; json/xml the counts and every object.

#include <cerrno>
#include <iostream>
#include <map>

#include "rbd/standalone.hpp"
#include "tools/rbd/ArgumentTypes.h"
#include "tools/rbd/Formatter.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace {

const char* state_name(uint8_t s) {
  switch (s) {
  case RBD_OBJECT_STATE_EXISTS: return "exists";
  case RBD_OBJECT_STATE_EXISTS_PARENT: return "exists_parent";
  case RBD_OBJECT_STATE_COPIEDUP: return "copied_up";
  default: return "nonexistent";
  }
}

int execute(const Args& args, Cluster& cluster) {
  ImageSpec spec;
  std::string why;
  if (parse_image_spec(args, 2, "", &spec, &why) < 0) {
    return usage_error(why);
  }
  if (spec.has_snap) {
    // The states are read from the image's HEAD; showing them for a
    // snapshot would be wrong.
    return error("object-map view shows an image's HEAD, not a snapshot: " + spec.str(),
                 -EINVAL);
  }
  librados::IoCtx io;
  int r = cluster.ioctx(spec.pool, spec.ns, &io);
  if (r < 0) {
    return error("error opening pool '" + spec.pool + "'", r);
  }
  std::vector<uint8_t> states;
  r = librbd::standalone::object_states(io, spec.image, &states);
  if (r < 0) {
    return error(librbd::standalone::last_error(), r);
  }
  std::map<std::string, uint64_t> counts;
  for (uint8_t s : states) {
    ++counts[state_name(s)];
  }
  auto f = Formatter::create(args.get("--format", "plain"), args.has("--pretty-format"));
  if (f) {
    f->open_object("object_map");
    f->dump_unsigned("objects", states.size());
    f->open_object("counts");
    for (const auto& [name, n] : counts) {
      f->dump_unsigned(name, n);
    }
    f->close();
    f->open_array("states");
    for (uint8_t s : states) {
      f->dump_string("state", state_name(s));
    }
    f->close();
    f->close();
    f->flush(std::cout);
    return 0;
  }
  for (size_t i = 0; i < states.size();) {
    size_t j = i;
    while (j + 1 < states.size() && states[j + 1] == states[i]) ++j;
    std::cout << (i == j ? std::to_string(i) : std::to_string(i) + "-" + std::to_string(j))
              << "\t" << state_name(states[i]) << "\n";
    i = j + 1;
  }
  std::cout << states.size() << " objects:";
  for (const auto& [name, n] : counts) {
    std::cout << " " << n << " " << name;
  }
  std::cout << "\n";
  return 0;
}

void get_arguments(po::options_description* positional, po::options_description* options) {
  at::add_image_spec_positional(positional, at::Modifier::NONE);
  at::add_image_spec_options(options, at::Modifier::NONE);
  at::add_format_options(options);
}

Shell::Action action({"object-map", "view"}, {},
                     "Show each object's state: exists, exists_parent, copied_up.", "",
                     get_arguments, execute);

}  // namespace

}  // namespace rbd_standalone::action
