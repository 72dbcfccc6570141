# Debian package (CPack DEB): `cpack -G DEB` in a build dir configured with
# -DCMAKE_INSTALL_PREFIX=/usr gives rbd-standalone_<version>-1_<arch>.deb,
# installable with `apt install ./rbd-standalone_*.deb`.  The package ships
# component Runtime only; the links to the stock classes are made by its
# postinst (and remade by a dpkg trigger whenever ceph-osd changes the stock
# class directory), removed by its prerm.

# The Ceph series this tree was built for: the packages it runs against
# must be that 16.2.y or a later 16.2 (the OSD overlay refuses other
# series at load time anyway).
string(REGEX MATCH "^[0-9]+\\.[0-9]+\\.[0-9]+" RBD_STANDALONE_CEPH_UPSTREAM "${CEPH_DEV_VERSION}")
string(REGEX MATCH "^[0-9]+\\.[0-9]+" _ceph_series "${RBD_STANDALONE_CEPH_UPSTREAM}")
string(REPLACE "." ";" _ceph_series_list "${_ceph_series}")
list(GET _ceph_series_list 0 _ceph_major)
list(GET _ceph_series_list 1 _ceph_minor)
math(EXPR _ceph_next_minor "${_ceph_minor} + 1")
set(_ceph_range "(>= ${RBD_STANDALONE_CEPH_UPSTREAM}), @PKG@ (<< ${_ceph_major}.${_ceph_next_minor})")

# The Cython module is built for this python3 (its ABI tag is in the name).
execute_process(COMMAND /usr/bin/python3 -c "import sys;print('%d.%d' % sys.version_info[:2])"
                OUTPUT_VARIABLE _py_version OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REPLACE "." ";" _py_list "${_py_version}")
list(GET _py_list 1 _py_minor)
math(EXPR _py_next_minor "${_py_minor} + 1")

set(_deps "")
foreach(pkg ceph-osd librbd1 librados2 python3-rbd)
  string(REPLACE "@PKG@" "${pkg}" _r "${_ceph_range}")
  list(APPEND _deps "${pkg} ${_r}")
endforeach()
list(APPEND _deps "python3 (>= ${_py_version})" "python3 (<< 3.${_py_next_minor})")
list(JOIN _deps ", " _deps)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rbd-standalone)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "rbd-standalone maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "standalone (parentless) clones for Ceph RBD (Pacific)")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "Copy-on-write clones of an RBD image's HEAD, with no snapshot to create\n"
  "or protect, for Ceph ${_ceph_series} (Pacific).  Contains:\n"
  " - the cls_rbd OSD class overlay, in a class directory of its own\n"
  "   (${CMAKE_INSTALL_FULL_LIBDIR}/rbd-standalone/rados-classes) that\n"
  "   links every other stock class; OSDs load it only once their\n"
  "   osd_class_dir points there (see rbd-standalone(8), DEPLOYMENT);\n"
  " - the client library librbd_standalone.so.1, its headers\n"
  "   (rbd/standalone.h, rbd/standalone.hpp) and pkg-config file;\n"
  " - the ${RBD_STANDALONE_CLI_NAME} command (clone-standalone, children,\n"
  "   ...; every other command runs the stock rbd);\n"
  " - the rbd_standalone Python 3 module (extends rbd.RBD).")
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};${PROJECT_NAME};Runtime;/")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_deps}")
# libc6, libstdc++6, libgcc-s1 (and librbd1/librados2 again) from the ELF
# files; the package's own librbd_standalone.so.1 is resolved inside it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Stripped like any Debian binary package (.dynsym stays: the overlay and
# the library resolve symbols through it).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
    ${CMAKE_BINARY_DIR}/lib)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(_deb_dir ${CMAKE_BINARY_DIR}/packaging/deb)
set(RBD_STANDALONE_FULL_CLASS_DIR ${CMAKE_INSTALL_FULL_LIBDIR}/rbd-standalone/rados-classes)
set(RBD_STANDALONE_LINK_SCRIPT ${CMAKE_INSTALL_FULL_LIBEXECDIR}/rbd-standalone/link-stock-classes)
foreach(f postinst prerm triggers)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/deb/${f}.in ${_deb_dir}/${f} @ONLY)
endforeach()
file(CHMOD ${_deb_dir}/postinst ${_deb_dir}/prerm
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_deb_dir}/postinst ${_deb_dir}/prerm ${_deb_dir}/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
