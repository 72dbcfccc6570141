// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The project's `rbd`: the commands standalone clones add or extend, each
// declared once (command words, options, positional arguments) so that
// parsing, errors, `rbd help`, `rbd help <command>` and bash completion all
// come from that declaration, and every other command handed, unchanged, to
// the stock /usr/bin/rbd.

#ifndef RBD_STANDALONE_SHELL_H
#define RBD_STANDALONE_SHELL_H

#include <boost/program_options.hpp>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace rbd_standalone {

class Cluster;

// A command line after parsing and validation against the action's table.
struct Args {
  std::vector<std::string> argv;        // as given (for running stock rbd)
  std::vector<std::string> positional;  // command words, then arguments
  std::map<std::string, std::vector<std::string>> options;  // "--name" -> values
  std::set<std::string> flags;          // switches given ("--all")
  std::string default_pool;             // rbd_default_pool of the client

  bool has(const std::string& opt) const { return options.count(opt) || flags.count(opt); }
  std::string get(const std::string& opt, const std::string& fallback = "") const;
};

// Returns the process exit status.
using Execute = std::function<int(const Args&, Cluster&)>;

class Shell {
public:
  using Options = boost::program_options::options_description;
  using GetArguments = std::function<void(Options* positional, Options* options)>;
  // Whether the action serves this form of its command; others go to
  // stock rbd (e.g. `ls` without --long).
  using Serves = std::function<bool(const Args&)>;

  // Registers itself; actions are static objects of the action/ files.
  struct Action {
    Action(std::vector<std::string> command, std::vector<std::string> alias,
           std::string description, std::string help, GetArguments get_arguments,
           Execute execute, Serves serves = nullptr);

    std::vector<std::string> command;
    std::vector<std::string> alias;
    std::string description;  // one line in `rbd help`
    std::string help;         // printed after the options in `rbd help <command>`
    GetArguments get_arguments;
    Execute execute;
    Serves serves;
  };

  int execute(int argc, char** argv);

private:
  std::string m_app_name = "rbd";

  int print_help(const std::vector<std::string>& words);
  int print_completion(const std::vector<std::string>& words);
  // `words`: the command or alias asked for, as stock prints it.
  void print_action_help(const Action& action, const std::vector<std::string>& words);
  int run(const Action& action, const std::vector<std::string>& arguments, size_t command_words);
};

}  // namespace rbd_standalone

#endif  // RBD_STANDALONE_SHELL_H
