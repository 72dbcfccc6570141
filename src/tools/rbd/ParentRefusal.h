// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Stock commands that change an image (snap create, resize, rename,
// feature, image-meta set, sparsify, ...) fail on a standalone parent with
// a bare "(30) Read-only file system".  This runs them and, after such a
// failure, says why the image is read-only and what makes it writable.

#ifndef RBD_STANDALONE_PARENT_REFUSAL_H
#define RBD_STANDALONE_PARENT_REFUSAL_H

#include <string>
#include <vector>

namespace rbd_standalone {

// Runs the stock rbd with argv; `words` are its non-option words.
// Returns stock's exit status.
int run_stock_explaining_refusals(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& words);

// The explanation for a parent with `children` standalone children.
std::string parent_refusal_message(const std::string& spec, uint64_t children);

}  // namespace rbd_standalone

#endif  // RBD_STANDALONE_PARENT_REFUSAL_H
