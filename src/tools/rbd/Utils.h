// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Parsing and output helpers of the project's rbd CLI.

#ifndef RBD_STANDALONE_CLI_UTILS_H
#define RBD_STANDALONE_CLI_UTILS_H

#include <cstdint>
#include <string>
#include <vector>

namespace rbd_standalone {

// "layering,exclusive-lock" (repeatable) or a number -> feature bits;
// -EINVAL with the offending word in *bad.
int parse_features(const std::vector<std::string>& values, uint64_t* features,
                   std::string* bad);
// "4M", "64K", "1G", plain bytes.
int parse_bytes(const std::string& text, uint64_t* bytes);
// Sizes as stock rbd prints them: "16 MiB", "1.5 GiB".
std::string format_bytes(uint64_t bytes);

// "rbd: <message>: (<errno>) <strerror>" on stderr; returns the exit
// status stock rbd uses: the errno, or 1 without one.
int error(const std::string& message, int r = 0);
// A missing or malformed argument: "rbd: <message>", exit status EINVAL
// (22), as stock rbd does.
int usage_error(const std::string& message);

std::string json_escape(const std::string& s);
std::string xml_escape(const std::string& s);

// A text table like stock rbd's (columns two spaces apart): headers
// left-aligned, cells left-aligned unless right[i] is set (stock's sizes
// and numbers).
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right = {});

}  // namespace rbd_standalone

#endif  // RBD_STANDALONE_CLI_UTILS_H
