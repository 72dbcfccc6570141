// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// JSON and XML output in the layout of stock rbd's --format json|xml
// [--pretty-format]: compact by default; pretty JSON indents by four
// spaces and writes `"key": value`, pretty XML indents by one space.

#ifndef RBD_STANDALONE_FORMATTER_H
#define RBD_STANDALONE_FORMATTER_H

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace rbd_standalone {

class Formatter {
public:
  // "json" or "xml"; nullptr for anything else (plain output).
  static std::unique_ptr<Formatter> create(const std::string& format, bool pretty);
  virtual ~Formatter() = default;

  // Arrays name their members in XML (<features><feature>...); JSON
  // ignores the member names inside arrays.
  virtual void open_object(const std::string& name) = 0;
  virtual void open_array(const std::string& name) = 0;
  virtual void close() = 0;
  virtual void dump_string(const std::string& name, const std::string& value) = 0;
  virtual void dump_unsigned(const std::string& name, uint64_t value) = 0;
  virtual void dump_bool(const std::string& name, bool value) = 0;
  // Writes the document and a newline.
  virtual void flush(std::ostream& out) = 0;
};

}  // namespace rbd_standalone

#endif  // RBD_STANDALONE_FORMATTER_H
