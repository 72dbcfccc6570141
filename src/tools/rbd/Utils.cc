// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "tools/rbd/Utils.h"

#include <rbd/features.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>

namespace rbd_standalone {

int parse_features(const std::vector<std::string>& values, uint64_t* features,
                   std::string* bad) {
  static const std::map<std::string, uint64_t> names{
      {"layering", RBD_FEATURE_LAYERING},         {"striping", RBD_FEATURE_STRIPINGV2},
      {"exclusive-lock", RBD_FEATURE_EXCLUSIVE_LOCK}, {"object-map", RBD_FEATURE_OBJECT_MAP},
      {"fast-diff", RBD_FEATURE_FAST_DIFF},       {"deep-flatten", RBD_FEATURE_DEEP_FLATTEN},
      {"journaling", RBD_FEATURE_JOURNALING}};
  *features = 0;
  for (const auto& value : values) {
    std::stringstream ss(value);
    std::string word;
    while (std::getline(ss, word, ',')) {
      auto it = names.find(word);
      if (it != names.end()) {
        *features |= it->second;
        continue;
      }
      char* end = nullptr;
      unsigned long long n = strtoull(word.c_str(), &end, 0);
      if (word.empty() || *end != '\0' || (n & ~static_cast<uint64_t>(RBD_FEATURES_ALL)) != 0) {
        *bad = word;
        return -EINVAL;
      }
      *features |= n;
    }
  }
  return 0;
}

int parse_bytes(const std::string& text, uint64_t* bytes) {
  char* end = nullptr;
  unsigned long long n = strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) {
    return -EINVAL;
  }
  std::string unit(end);
  static const std::map<std::string, int> shifts{
      {"", 0}, {"B", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20},
      {"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40}};
  auto it = shifts.find(unit);
  if (it == shifts.end()) {
    return -EINVAL;
  }
  *bytes = static_cast<uint64_t>(n) << it->second;
  return 0;
}

std::string format_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  uint64_t whole = bytes;
  while (whole >= 1024 && u < 6) {
    whole /= 1024;
    ++u;
  }
  char buf[64];
  uint64_t unit = 1ULL << (10 * u);
  if (bytes % unit == 0) {
    std::snprintf(buf, sizeof(buf), "%llu %s", static_cast<unsigned long long>(whole), units[u]);
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g %s", static_cast<double>(bytes) / unit, units[u]);
  }
  return buf;
}

int error(const std::string& message, int r) {
  std::cerr << "rbd: " << message;
  if (r < 0) {
    std::cerr << ": (" << -r << ") " << strerror(-r);
  }
  std::cerr << std::endl;
  return r < 0 ? -r : 1;
}

int usage_error(const std::string& message) {
  std::cerr << "rbd: " << message << std::endl;
  return EINVAL;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  return out;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '&': out += "&amp;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&apos;"; break;
    default:
      // As Ceph's XMLFormatter: control characters but tab and newline.
      if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "&#x%02x;", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  return out;
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    width[i] = header[i].size();
    for (const auto& row : rows) {
      width[i] = std::max(width[i], i < row.size() ? row[i].size() : 0);
    }
  }
  auto line = [&](const std::vector<std::string>& cells, bool is_header) {
    std::string out;
    for (size_t i = 0; i < header.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      std::string pad(width[i] - cell.size(), ' ');
      bool align_right = !is_header && i < right.size() && right[i];
      out += align_right ? pad + cell : cell + pad;
      if (i + 1 < header.size()) {
        out += "  ";
      }
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    return out + "\n";
  };
  std::string out = line(header, true);
  for (const auto& row : rows) {
    out += line(row, false);
  }
  return out;
}

}  // namespace rbd_standalone
