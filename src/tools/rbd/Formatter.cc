// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "tools/rbd/Formatter.h"

#include <sstream>

#include "tools/rbd/Utils.h"

namespace rbd_standalone {

namespace {

class JsonFormatter : public Formatter {
public:
  explicit JsonFormatter(bool pretty) : m_pretty(pretty) {}

  void open_object(const std::string& name) override { open(name, '{'); }
  void open_array(const std::string& name) override { open(name, '['); }
  void close() override {
    Level level = m_levels.back();
    m_levels.pop_back();
    if (m_pretty && level.members > 0) {
      newline();
    }
    m_out << (level.array ? ']' : '}');
  }
  void dump_string(const std::string& name, const std::string& value) override {
    member(name);
    m_out << '"' << json_escape(value) << '"';
  }
  void dump_unsigned(const std::string& name, uint64_t value) override {
    member(name);
    m_out << value;
  }
  void dump_bool(const std::string& name, bool value) override {
    member(name);
    m_out << (value ? "true" : "false");
  }
  void flush(std::ostream& out) override { out << m_out.str() << "\n"; }

private:
  struct Level {
    bool array;
    int members;
  };
  bool m_pretty;
  std::ostringstream m_out;
  std::vector<Level> m_levels;

  void newline() { m_out << "\n" << std::string(4 * m_levels.size(), ' '); }
  // Separator, indentation and (inside objects) the key of the next member.
  void member(const std::string& name) {
    if (m_levels.empty()) {
      return;
    }
    Level& level = m_levels.back();
    if (level.members++ > 0) {
      m_out << ',';
    }
    if (m_pretty) {
      newline();
    }
    if (!level.array) {
      m_out << '"' << json_escape(name) << (m_pretty ? "\": " : "\":");
    }
  }
  void open(const std::string& name, char bracket) {
    member(name);
    m_out << bracket;
    m_levels.push_back({bracket == '[', 0});
  }
};

class XmlFormatter : public Formatter {
public:
  explicit XmlFormatter(bool pretty) : m_pretty(pretty) {}

  void open_object(const std::string& name) override { open(name); }
  void open_array(const std::string& name) override { open(name); }
  void close() override {
    std::string name = m_names.back();
    m_names.pop_back();
    indent();
    m_out << "</" << name << ">";
    if (m_pretty) {
      m_out << "\n";
    }
  }
  void dump_string(const std::string& name, const std::string& value) override {
    element(name, xml_escape(value));
  }
  void dump_unsigned(const std::string& name, uint64_t value) override {
    element(name, std::to_string(value));
  }
  void dump_bool(const std::string& name, bool value) override {
    element(name, value ? "true" : "false");
  }
  // A pretty document already ends in a newline: stock rbd leaves a blank
  // line after it.
  void flush(std::ostream& out) override { out << m_out.str() << "\n"; }

private:
  bool m_pretty;
  std::ostringstream m_out;
  std::vector<std::string> m_names;

  void indent() {
    if (m_pretty) {
      m_out << std::string(m_names.size(), ' ');
    }
  }
  void open(const std::string& name) {
    indent();
    m_out << "<" << name << ">";
    if (m_pretty) {
      m_out << "\n";
    }
    m_names.push_back(name);
  }
  void element(const std::string& name, const std::string& text) {
    indent();
    m_out << "<" << name << ">" << text << "</" << name << ">";
    if (m_pretty) {
      m_out << "\n";
    }
  }
};

}  // namespace

std::unique_ptr<Formatter> Formatter::create(const std::string& format, bool pretty) {
  if (format == "json") {
    return std::make_unique<JsonFormatter>(pretty);
  }
  if (format == "xml") {
    return std::make_unique<XmlFormatter>(pretty);
  }
  return nullptr;
}

}  // namespace rbd_standalone
