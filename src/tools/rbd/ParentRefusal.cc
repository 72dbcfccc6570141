// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "tools/rbd/ParentRefusal.h"

#include <cerrno>
#include <iostream>
#include <iterator>
#include <sstream>

#include "rbd/standalone.hpp"
#include "tools/rbd/Cluster.h"
#include "tools/rbd/Shell.h"
#include "tools/rbd/StockRbd.h"

namespace rbd_standalone {

namespace {

// How many of `words` form one of stock's commands (the longest match);
// 0 if none does.
size_t stock_command_length(const std::vector<std::string>& words) {
  std::string listing;
  if (run_stock({"rbd", "bash-completion"}, &listing) != 0) {
    return 0;
  }
  size_t length = 0;
  std::istringstream in(listing);
  std::string entry;
  while (std::getline(in, entry, '|')) {
    if (entry.empty() || entry[0] == '-') {
      continue;
    }
    std::istringstream ws(entry);
    std::vector<std::string> spec{std::istream_iterator<std::string>(ws), {}};
    if (spec.size() > length && words.size() >= spec.size() &&
        std::equal(spec.begin(), spec.end(), words.begin())) {
      length = spec.size();
    }
  }
  return length;
}

}  // namespace

std::string parent_refusal_message(const std::string& spec, uint64_t children) {
  return spec + " is the parent of " + std::to_string(children) +
         " standalone clone(s): it stays read-only while it has them; flatten or remove "
         "them first ('rbd children " + spec + "' lists them)";
}

int run_stock_explaining_refusals(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& words) {
  int status = run_stock(argv, nullptr);
  if (status != EROFS) {
    return status;
  }
  // The image is the first word after the command, or --pool/--image.
  size_t command = stock_command_length(words);
  Args args;
  args.positional = words;
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--pool" || argv[i] == "-p" || argv[i] == "--namespace" ||
        argv[i] == "--image") {
      args.options[argv[i] == "-p" ? "--pool" : argv[i]].push_back(argv[i + 1]);
    }
  }
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Cluster cluster;
  ImageSpec spec;
  std::string why;
  librados::IoCtx io;
  uint64_t children = 0;
  if (command == 0 || cluster.init(&rest) < 0) {
    return status;
  }
  args.default_pool = cluster.default_pool();
  if (parse_image_spec(args, command, "", &spec, &why) < 0 || cluster.connect() < 0 ||
      cluster.ioctx(spec.pool, spec.ns, &io) < 0 ||
      librbd::standalone::count_children(io, spec.image, &children) < 0 || children == 0) {
    return status;
  }
  spec.has_snap = false;
  std::cerr << "rbd: " << parent_refusal_message(spec.str(), children) << std::endl;
  return status;
}

}  // namespace rbd_standalone
