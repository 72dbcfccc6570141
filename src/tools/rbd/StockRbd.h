// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Running the stock /usr/bin/rbd for the commands (and forms of commands)
// this tool does not serve itself.

#ifndef RBD_STANDALONE_STOCK_RBD_H
#define RBD_STANDALONE_STOCK_RBD_H

#include <string>
#include <vector>

namespace rbd_standalone {

// Always by absolute path, so a PATH that puts this tool first cannot make
// it call itself.
constexpr const char* STOCK_RBD = "/usr/bin/rbd";

// Runs the stock rbd with argv[1..] in place of this process.
[[noreturn]] void exec_stock(const std::vector<std::string>& argv);
// Runs the stock rbd with argv[1..] and captures its stdout (or leaves it
// alone, with out == nullptr); returns its exit status (128 + signal when
// it was killed, as a shell reports it).
int run_stock(const std::vector<std::string>& argv, std::string* out);

}  // namespace rbd_standalone

#endif  // RBD_STANDALONE_STOCK_RBD_H
