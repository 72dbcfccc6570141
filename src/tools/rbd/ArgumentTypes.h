// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// The options and positional arguments the project's actions declare, with
// stock rbd's names, help texts and value checks, so that one description
// gives parsing, errors, `rbd help <command>` and bash completion.

#ifndef RBD_STANDALONE_ARGUMENT_TYPES_H
#define RBD_STANDALONE_ARGUMENT_TYPES_H

#include <boost/program_options.hpp>

#include <string>

namespace rbd_standalone::at {

namespace po = boost::program_options;

// Whose pool/image an option names, as in stock's --pool vs --dest-pool.
enum class Modifier { NONE, SOURCE, DEST };

void add_pool_option(po::options_description* opts, Modifier m);
void add_namespace_option(po::options_description* opts, Modifier m);
void add_image_option(po::options_description* opts, Modifier m);
void add_snap_option(po::options_description* opts, Modifier m);
void add_image_id_option(po::options_description* opts);
void add_snap_id_option(po::options_description* opts);
// --pool, --namespace, --image (and --snap with `snap`).
void add_image_spec_options(po::options_description* opts, Modifier m, bool snap = false);
void add_format_options(po::options_description* opts);
void add_no_progress_option(po::options_description* opts);
// --order, --object-size, --image-feature, --image-shared, striping,
// --data-pool, and (with `journal`) mirroring/journal options.
void add_create_image_options(po::options_description* opts, bool journal);
// The "Image Features" legend stock prints under --image-feature.
extern const char* IMAGE_FEATURES_HELP;

// Positional arguments: their names and descriptions.
void add_image_spec_positional(po::options_description* pos, Modifier m);
void add_image_or_snap_spec_positional(po::options_description* pos, Modifier m);
void add_pool_spec_positional(po::options_description* pos);

// Stock's global options (connection and identity).
void add_global_options(po::options_description* opts);

// False when `value` is not a valid value of option `name` (for options
// that have a check: numbers, sizes, features, formats).
bool valid_value(const std::string& name, const std::string& value);

}  // namespace rbd_standalone::at

#endif  // RBD_STANDALONE_ARGUMENT_TYPES_H
