// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The commands this rbd adds or extends; every other command is the stock
// rbd's.  Each returns the process exit status.

#ifndef RBD_STANDALONE_ACTIONS_H
#define RBD_STANDALONE_ACTIONS_H

#include "tools/rbd/Shell.h"

namespace rbd_standalone::action {

int clone_standalone(const Args& args, Cluster& cluster);
int children(const Args& args, Cluster& cluster);
int info(const Args& args, Cluster& cluster);
int list_long(const Args& args, Cluster& cluster);
int remove(const Args& args, Cluster& cluster);
int flatten(const Args& args, Cluster& cluster);
int config(const Args& args, Cluster& cluster);
int object_map_view(const Args& args, Cluster& cluster);
// deep cp / migration prepare: refuse standalone children the stock
// tools cannot handle, pass everything else through.
int copy_guard(const Args& args, Cluster& cluster);

// The parent type of the open image, or "" when it has no parent.
std::string parent_type_of(Cluster& cluster, const ImageSpec& spec);

}  // namespace rbd_standalone::action

#endif  // RBD_STANDALONE_ACTIONS_H
