// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The project's `rbd`: the commands standalone clones add or extend, and
// every other command handed, unchanged, to the stock /usr/bin/rbd.

#ifndef RBD_STANDALONE_SHELL_H
#define RBD_STANDALONE_SHELL_H

#include <rados/librados.hpp>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace rbd_standalone {

// Always by absolute path, so a PATH that puts this tool first cannot make
// it call itself.
constexpr const char* STOCK_RBD = "/usr/bin/rbd";

// Parsed command line: positional words and --options.
struct Args {
  std::vector<std::string> argv;        // as given (for pass-through)
  std::vector<std::string> positional;  // command words, then arguments
  std::map<std::string, std::vector<std::string>> options;  // "--name" -> values
  std::set<std::string> flags;          // valueless options

  bool has(const std::string& opt) const { return options.count(opt) || flags.count(opt); }
  std::string get(const std::string& opt, const std::string& fallback = "") const;
};

// Options that take a value (all others are flags).
bool option_takes_value(const std::string& opt);
Args parse_args(int argc, char** argv);

// "pool/[namespace/]image[@snap]", with --pool/--namespace/--image/--snap
// as fallbacks, as the stock CLI resolves specs.
struct ImageSpec {
  std::string pool;
  std::string ns;
  std::string image;
  std::string snap;
  bool has_snap = false;
  std::string str() const;  // pool/[ns/]image[@snap]
};
int parse_image_spec(const Args& args, size_t index, const std::string& prefix,
                     ImageSpec* spec, std::string* error);

// A connected cluster handle per the global options (-c, --id, ...).
class Cluster {
public:
  int connect(const Args& args);
  int ioctx(const std::string& pool, const std::string& ns, librados::IoCtx* io);
  librados::Rados& rados() { return m_rados; }

private:
  librados::Rados m_rados;
};

// Runs the stock rbd with `argv` in place of this process.
[[noreturn]] void exec_stock(const std::vector<std::string>& argv);
// Runs the stock rbd and captures its stdout (or leaves it alone, with
// out == nullptr); returns its exit status.
int run_stock(const std::vector<std::string>& argv, std::string* out);

// "rbd: <message>: (<errno>) <strerror>" on stderr; returns the exit
// status stock rbd uses: the errno, or 1 without one.
int error(const std::string& message, int r = 0);

using Action = std::function<int(const Args&, Cluster&)>;

}  // namespace rbd_standalone

#endif  // RBD_STANDALONE_SHELL_H
