// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The project's rbd: the commands of tools/rbd/action/ (standalone clones,
// and the stock commands they extend); every other command line runs the
// stock /usr/bin/rbd.

#include "tools/rbd/Shell.h"

int main(int argc, char** argv) {
  rbd_standalone::Shell shell;
  return shell.execute(argc, argv);
}
