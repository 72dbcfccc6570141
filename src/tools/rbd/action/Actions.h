// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// What the action files share.  Each file registers its commands with a
// static Shell::Action: command words, options, positional arguments, and
// the function that runs them.

#ifndef RBD_STANDALONE_ACTIONS_H
#define RBD_STANDALONE_ACTIONS_H

#include "tools/rbd/Cluster.h"
#include "tools/rbd/Shell.h"
#include "tools/rbd/StockRbd.h"
#include "tools/rbd/Utils.h"

namespace rbd_standalone::action {

namespace po = boost::program_options;

// The parent type of the image ("standalone" or "snapshot"), or "" when it
// has no parent.
std::string parent_type_of(Cluster& cluster, const ImageSpec& spec);

}  // namespace rbd_standalone::action

#endif  // RBD_STANDALONE_ACTIONS_H
