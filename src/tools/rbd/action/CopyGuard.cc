// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// Stock `rbd deep cp` and `rbd migration prepare` re-create a source's
// parent link from a parent *snapshot*; given a standalone child (parent =
// HEAD) the stock librbd aborts on an assertion.  Refuse those cases with a
// clear error instead; `deep cp --flatten` copies the data and works.

#include <cerrno>

#include "tools/rbd/ArgumentTypes.h"
#include "tools/rbd/action/Actions.h"

namespace rbd_standalone::action {

namespace {

int copy_guard(const Args& args, Cluster& cluster) {
  bool migration = args.positional[0] == "migration";
  ImageSpec source;
  std::string why;
  if (args.positional.size() >= 3 && parse_image_spec(args, 2, "", &source, &why) == 0 &&
      (migration || !args.has("--flatten")) &&
      parent_type_of(cluster, source) == "standalone") {
    return error(source.str() + " is a standalone clone: " +
                     (migration ? std::string("'rbd migration' cannot carry a standalone parent "
                                              "link; flatten the image first")
                                : std::string("'rbd deep cp' cannot re-create a standalone "
                                              "parent link; add --flatten")),
                 -EINVAL);
  }
  exec_stock(args.argv);
}

void deep_copy_arguments(po::options_description* positional, po::options_description* options) {
  at::add_image_or_snap_spec_positional(positional, at::Modifier::SOURCE);
  at::add_image_spec_positional(positional, at::Modifier::DEST);
  at::add_image_spec_options(options, at::Modifier::SOURCE, true);
  at::add_image_spec_options(options, at::Modifier::DEST);
  at::add_create_image_options(options, true);
  options->add_options()("flatten", po::bool_switch(),
                         "fill clone with parent data (make it independent)");
  at::add_no_progress_option(options);
}

void migration_arguments(po::options_description* positional, po::options_description* options) {
  at::add_image_or_snap_spec_positional(positional, at::Modifier::SOURCE);
  at::add_image_spec_positional(positional, at::Modifier::DEST);
  options->add_options()("import-only", po::bool_switch(), "only import data from source")(
      "source-spec-path", po::value<std::string>(), "source-spec file (or '-' for stdin)")(
      "source-spec", po::value<std::string>(), "source-spec");
  at::add_image_spec_options(options, at::Modifier::SOURCE, true);
  at::add_image_spec_options(options, at::Modifier::DEST);
  options->add_options()("image-format", po::value<std::string>(), "image format [default: 2]")(
      "new-format", po::bool_switch(), "deprecated[:image-format 2]");
  at::add_create_image_options(options, true);
  options->add_options()("flatten", po::bool_switch(),
                         "fill clone with parent data (make it independent)");
}

Shell::Action deep_copy({"deep", "copy"}, {"deep", "cp"}, "Deep copy src image to dest.",
                        at::IMAGE_FEATURES_HELP, deep_copy_arguments, copy_guard);
Shell::Action migration_prepare({"migration", "prepare"}, {}, "Prepare image migration.",
                                at::IMAGE_FEATURES_HELP, migration_arguments, copy_guard);

}  // namespace

}  // namespace rbd_standalone::action
