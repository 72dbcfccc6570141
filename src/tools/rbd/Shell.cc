// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Dispatch: find the command words, pick the action that serves them (the
// longest registered command or alias they start with), else run stock
// rbd.  Help pages and completion follow stock rbd 16.2's layout: lines of
// 80 columns, usage options broken before '[', descriptions from the
// column after the longest option (at least 20, at most 42).

#include "tools/rbd/Shell.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "tools/rbd/ArgumentTypes.h"
#include "tools/rbd/Cluster.h"
#include "tools/rbd/ParentRefusal.h"
#include "tools/rbd/StockRbd.h"
#include "tools/rbd/Utils.h"

namespace rbd_standalone {

namespace po = boost::program_options;

namespace {

constexpr size_t LINE_WIDTH = 80;
constexpr size_t MIN_NAME_WIDTH = 20;
constexpr size_t MAX_DESCRIPTION_OFFSET = LINE_WIDTH / 2 + 2;
constexpr size_t COMMAND_COLUMN = 38;  // descriptions in `rbd help`

std::vector<Shell::Action*>& registry() {
  static std::vector<Shell::Action*> actions;
  return actions;
}

// Writes text wrapped at LINE_WIDTH: continuation lines start at column
// `indent`; the first line's text follows `offset` columns the caller has
// already written.  A line is broken before the last `delimiter` it holds
// ('[' keeps usage options whole), or at its last space.
class Wrapper {
public:
  Wrapper(std::ostream& out, size_t indent, size_t offset)
      : m_out(out), m_indent(indent), m_offset(offset) {}

  void set_delimiter(char d) { m_delimiter = d; }
  Wrapper& operator<<(const std::string& text) {
    for (char c : text) {
      put(c == '\t' ? ' ' : c);
    }
    return *this;
  }

private:
  std::ostream& m_out;
  size_t m_indent;
  size_t m_offset;
  char m_delimiter = ' ';
  std::string m_line;

  void start_line() {
    if (m_offset >= m_indent) {
      m_out << '\n';
      m_offset = 0;
    }
    m_out << std::string(m_indent - m_offset, ' ');
    m_offset = 0;
  }
  void put(char c) {
    if (c == '\n') {
      start_line();
      m_out << m_line << '\n';
      m_line.clear();
      return;
    }
    if (m_indent + m_line.size() >= LINE_WIDTH) {
      size_t at = m_line.find_last_of(m_delimiter);
      bool space = m_delimiter == ' ';
      if (at == std::string::npos && !space) {
        at = m_line.find_last_of(' ');
      }
      start_line();
      if (at == std::string::npos) {
        m_out << m_line;
        m_line.clear();
      } else {
        m_out << m_line.substr(0, at);
        m_line.erase(0, at + (space ? 1 : 0));
      }
      m_out << '\n';
    }
    m_line += c;
  }
};

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) {
    s += (s.empty() ? "" : " ") + w;
  }
  return s;
}

bool is_switch(const po::option_description& o) { return o.semantic()->max_tokens() == 0; }

// Every switch any action or the shell knows, so that the command words can
// be told from option values before the action is known.
std::set<std::string> known_switches() {
  std::set<std::string> switches{"-h", "--help"};
  for (const Shell::Action* a : registry()) {
    po::options_description pos, opts;
    a->get_arguments(&pos, &opts);
    for (const auto& o : opts.options()) {
      if (is_switch(*o)) {
        switches.insert("--" + o->long_name());
        std::string shortn = o->canonical_display_name(po::command_line_style::allow_dash_for_short);
        if (shortn.size() == 2) {
          switches.insert(shortn);
        }
      }
    }
  }
  return switches;
}

// The non-option words of a command line, in order.
std::vector<std::string> positional_words(const std::vector<std::string>& arguments) {
  static const std::set<std::string> switches = known_switches();
  std::vector<std::string> words;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& w = arguments[i];
    if (w == "--") {
      words.insert(words.end(), arguments.begin() + i + 1, arguments.end());
      break;
    }
    if (w.size() > 1 && w[0] == '-') {
      if (w.find('=') == std::string::npos && !switches.count(w)) {
        ++i;  // its value
      }
      continue;
    }
    words.push_back(w);
  }
  return words;
}

bool starts_with(const std::vector<std::string>& words, const std::vector<std::string>& prefix) {
  return !prefix.empty() && words.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), words.begin());
}

// The action whose command (or alias) the words start with, the longest
// one winning; with `exact`, only one the words are.  *length = its words.
const Shell::Action* find_action(const std::vector<std::string>& words, bool exact,
                                 size_t* length) {
  const Shell::Action* found = nullptr;
  *length = 0;
  for (const Shell::Action* a : registry()) {
    for (const auto* spec : {&a->command, &a->alias}) {
      if (starts_with(words, *spec) && spec->size() > *length &&
          (!exact || spec->size() == words.size())) {
        found = a;
        *length = spec->size();
      }
    }
  }
  return found;
}

// "[--pool <pool>] [--all] " ... then "<image-spec> ", stock's usage line.
void print_usage(std::ostream& out, const po::options_description& pos,
                 const po::options_description& opts, size_t offset) {
  std::vector<std::string> optional, positional;
  size_t widest = 0;
  for (const auto& o : opts.options()) {
    std::string s = "[--" + o->long_name() + (is_switch(*o) ? "" : " <" + o->long_name() + ">") + "]";
    widest = std::max(widest, s.size());
    optional.push_back(s);
  }
  for (const auto& o : pos.options()) {
    std::string s = "<" + o->long_name() + ">";
    widest = std::max(widest, s.size());
    positional.push_back(s);
  }
  size_t indent = std::min(offset, MAX_DESCRIPTION_OFFSET) + 1;
  if (indent + widest + 2 > LINE_WIDTH) {
    indent = LINE_WIDTH - widest - 2;
  }
  Wrapper w(out, indent, offset);
  w.set_delimiter('[');
  for (const auto& s : optional) {
    w << s << " ";
  }
  if (!optional.empty() || positional.empty()) {
    w << "\n";
  }
  if (!positional.empty()) {
    w.set_delimiter(' ');
    for (const auto& s : positional) {
      w << s << " ";
    }
    w << "\n";
  }
}

size_t name_width(const po::options_description& pos, const po::options_description& opts) {
  size_t width = MIN_NAME_WIDTH;
  for (const auto* d : {&pos, &opts}) {
    for (const auto& o : d->options()) {
      width = std::max(width, o->format_name().size() + o->format_parameter().size() + 1);
    }
  }
  return std::min(width + 2, MAX_DESCRIPTION_OFFSET) + 1;
}

void print_described(std::ostream& out, const std::string& name, const std::string& description,
                     size_t width) {
  out << name;
  Wrapper w(out, width, name.size());
  w << description << "\n";
}

void print_details(std::ostream& out, const po::options_description& pos,
                   const po::options_description& opts) {
  size_t width = name_width(pos, opts);
  if (!pos.options().empty()) {
    out << "Positional arguments\n";
    for (const auto& o : pos.options()) {
      print_described(out, "  <" + o->long_name() + ">", o->description(), width);
    }
    out << "\n";
  }
  if (!opts.options().empty()) {
    out << "Optional arguments\n";
    for (const auto& o : opts.options()) {
      if (o->description().find("deprecated") != std::string::npos) {
        continue;
      }
      print_described(out, "  " + o->format_name() + " " + o->format_parameter(),
                      o->description(), width);
    }
    out << "\n";
  }
}

// One command of `rbd help`'s list, as stock prints its own.
std::string command_line(const Shell::Action& a) {
  std::ostringstream out;
  std::string name = "    " + join(a.command);
  out << name;
  Wrapper w(out, COMMAND_COLUMN, name.size());
  w << a.description << "\n";
  return out.str();
}

// Stock's `rbd help` with this tool's commands added in order.
std::string merged_help() {
  std::string stock;
  run_stock({"rbd", "help"}, &stock);
  std::vector<const Shell::Action*> extra;
  for (const Shell::Action* a : registry()) {
    std::string entry = "\n    " + join(a->command) + " ";
    std::string alias = "\n    " + join(a->command) + " (";
    if (stock.find(entry) == std::string::npos && stock.find(alias) == std::string::npos) {
      extra.push_back(a);
    }
  }
  std::sort(extra.begin(), extra.end(),
            [](auto* x, auto* y) { return join(x->command) < join(y->command); });
  std::istringstream in(stock);
  std::string line, out;
  size_t next = 0;
  bool in_commands = false;
  while (std::getline(in, line)) {
    bool entry = line.size() > 4 && line.compare(0, 4, "    ") == 0 && line[4] != ' ';
    if (line == "Optional arguments:") {
      for (; next < extra.size(); ++next) {
        out += command_line(*extra[next]);
      }
    }
    in_commands = in_commands || entry;
    if (entry) {
      std::string name = line.substr(4, line.find("  ", 4) - 4);
      name = name.substr(0, name.find(" ("));
      for (; next < extra.size() && join(extra[next]->command) < name; ++next) {
        out += command_line(*extra[next]);
      }
    }
    out += line + "\n";
  }
  return out;
}

// Stock's global options in `rbd bash-completion` form.
const char* GLOBAL_COMPLETION =
    "|--conf path|-c path|--cluster arg|--id arg|--user arg|--name arg|-n arg"
    "|--mon_host host|-m host|--secret path|--keyfile path|-K path|--keyring path|-k path|";

void parse_error(const std::string& what) { std::cerr << "rbd: " << what << std::endl; }

}  // namespace

std::string Args::get(const std::string& opt, const std::string& fallback) const {
  auto it = options.find(opt);
  return it == options.end() || it->second.empty() ? fallback : it->second.back();
}

Shell::Action::Action(std::vector<std::string> command, std::vector<std::string> alias,
                      std::string description, std::string help, GetArguments get_arguments,
                      Execute execute, Serves serves)
    : command(std::move(command)),
      alias(std::move(alias)),
      description(std::move(description)),
      help(std::move(help)),
      get_arguments(std::move(get_arguments)),
      execute(std::move(execute)),
      serves(std::move(serves)) {
  registry().push_back(this);
}

void Shell::print_action_help(const Action& action, const std::vector<std::string>& words) {
  po::options_description pos, opts;
  action.get_arguments(&pos, &opts);
  std::string head = "usage: " + m_app_name + " " + join(words);
  std::cout << head;
  print_usage(std::cout, pos, opts, head.size());
  std::cout << "\n" << action.description << "\n\n";
  print_details(std::cout, pos, opts);
  if (!action.help.empty()) {
    std::cout << action.help << "\n";
  }
}

int Shell::print_help(const std::vector<std::string>& words) {
  if (words.empty()) {
    std::cout << merged_help();
    return 0;
  }
  size_t length = 0;
  const Action* action = find_action(words, true, &length);
  if (action == nullptr) {
    std::vector<std::string> argv{"rbd", "help"};
    argv.insert(argv.end(), words.begin(), words.end());
    exec_stock(argv);
  }
  print_action_help(*action, words);
  return 0;
}

int Shell::print_completion(const std::vector<std::string>& words) {
  size_t length = 0;
  const Action* action = words.empty() ? nullptr : find_action(words, true, &length);
  if (words.empty()) {
    std::string stock;
    run_stock({"rbd", "bash-completion"}, &stock);
    while (!stock.empty() && stock.back() == '\n') {
      stock.pop_back();
    }
    for (const Action* a : registry()) {
      if (stock.find("|" + join(a->command) + "|") == std::string::npos) {
        stock += join(a->command) + "|";
      }
    }
    std::cout << stock << "\n";
    return 0;
  }
  if (action == nullptr) {
    std::vector<std::string> argv{"rbd", "bash-completion"};
    argv.insert(argv.end(), words.begin(), words.end());
    exec_stock(argv);
  }
  po::options_description pos, opts;
  action->get_arguments(&pos, &opts);
  std::string out = GLOBAL_COMPLETION;
  for (const auto& o : opts.options()) {
    std::string arg = is_switch(*o) ? "" : " arg";
    out += "--" + o->long_name() + arg + "|";
    std::string shortn = o->canonical_display_name(po::command_line_style::allow_dash_for_short);
    if (shortn.size() == 2) {
      out += shortn + arg + "|";
    }
  }
  std::cout << out << "\n";
  return 0;
}

int Shell::run(const Action& action, const std::vector<std::string>& arguments,
               size_t command_words) {
  Cluster cluster;
  std::vector<std::string> rest = arguments;
  int r = cluster.init(&rest);
  if (r < 0) {
    return error("couldn't initialize the cluster handle", r);
  }
  po::options_description pos, opts, globals;
  action.get_arguments(&pos, &opts);
  at::add_global_options(&globals);
  po::options_description all;
  all.add(opts).add(globals);
  all.add_options()("positional", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("positional", -1);

  Args args;
  args.argv.push_back(m_app_name);
  args.argv.insert(args.argv.end(), arguments.begin(), arguments.end());
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(rest)
                  .style(po::command_line_style::default_style &
                         ~po::command_line_style::allow_guessing)
                  .options(all)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    parse_error(e.what());
    return 1;
  }
  for (const auto& [name, value] : vm) {
    if (name == "positional") {
      args.positional = value.as<std::vector<std::string>>();
      continue;
    }
    std::vector<std::string> values;
    if (const auto* b = boost::any_cast<bool>(&value.value())) {
      if (*b) {
        args.flags.insert("--" + name);
      }
      continue;
    }
    if (const auto* s = boost::any_cast<std::string>(&value.value())) {
      values.push_back(*s);
    } else if (const auto* v = boost::any_cast<std::vector<std::string>>(&value.value())) {
      values = *v;
    }
    for (const auto& v : values) {
      if (!at::valid_value(name, v)) {
        parse_error("the argument for option '--" + name + "' is invalid");
        return 1;
      }
    }
    args.options["--" + name] = values;
  }
  if (args.positional.size() > command_words + pos.options().size()) {
    parse_error("too many arguments");
    return 1;
  }
  args.default_pool = cluster.default_pool();
  if (action.serves && !action.serves(args)) {
    exec_stock(args.argv);
  }
  r = cluster.connect();
  if (r < 0) {
    return error("couldn't connect to the cluster", r);
  }
  return action.execute(args, cluster);
}

int Shell::execute(int argc, char** argv) {
  std::string app = argv[0];
  m_app_name = app.substr(app.rfind('/') + 1);
  std::vector<std::string> arguments(argv + 1, argv + argc);
  std::vector<std::string> words = positional_words(arguments);
  bool help = std::find_if(arguments.begin(), arguments.end(), [](const std::string& a) {
                return a == "-h" || a == "--help";
              }) != arguments.end();
  if (!words.empty() && words[0] == "help") {
    return print_help({words.begin() + 1, words.end()});
  }
  if (!words.empty() && words[0] == "bash-completion") {
    return print_completion({words.begin() + 1, words.end()});
  }
  if (help || arguments.empty()) {
    std::cout << merged_help();
    return 0;
  }
  size_t length = 0;
  const Action* action = find_action(words, false, &length);
  if (action == nullptr) {
    std::vector<std::string> stock_argv{m_app_name};
    stock_argv.insert(stock_argv.end(), arguments.begin(), arguments.end());
    return run_stock_explaining_refusals(stock_argv, words);
  }
  return run(*action, arguments, length);
}

}  // namespace rbd_standalone
