#!/usr/bin/python3
"""Checks librbd_standalone.so's dynamic symbol table against the public
headers: every function declared in rbd/standalone.h and rbd/standalone.hpp
carries CEPH_RBD_STANDALONE_API and is exported, nothing else is exported
(only rbd_* C functions and librbd::standalone:: C++ functions, in the
version node of librbd_standalone.map), and the SONAME is versioned.

usage: check_exports.py LIBRARY HEADER.h HEADER.hpp
"""
import re
import subprocess
import sys

MACRO = "CEPH_RBD_STANDALONE_API"
# A function declaration at the start of a line: return type, name, "(".
DECL = re.compile(r"^(?:const\s+)?[\w:]+(?:\s*[*&])?\s+[*&]?(\w+)\(")


def declared(path):
    """Names of the functions declared in a header, and those lacking MACRO."""
    names, unmarked = set(), []
    prev = ""
    for line in open(path, encoding="utf-8"):
        m = DECL.match(line)
        if m and not line.startswith(("typedef", "return", "#")):
            names.add(m.group(1))
            if not (prev.strip() == MACRO or line.startswith(MACRO)):
                unmarked.append(m.group(1))
        if line.strip():
            prev = line
    return names, unmarked


def main():
    lib, c_header, cxx_header = sys.argv[1:4]
    errors = []
    c_names, c_unmarked = declared(c_header)
    cxx_names, cxx_unmarked = declared(cxx_header)
    for n in c_unmarked + cxx_unmarked:
        errors.append("declared without %s: %s" % (MACRO, n))

    dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"SONAME\)\s+Library soname: \[([^\]]+)\]", dyn)
    if not m or not re.fullmatch(r"librbd_standalone\.so\.\d+", m.group(1)):
        errors.append("SONAME is %r, not librbd_standalone.so.N" % (m and m.group(1)))
    if "RPATH" in dyn or "RUNPATH" in dyn:
        errors.append("the library carries an RPATH/RUNPATH")

    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True,
                         text=True, check=True).stdout
    raw = [l.split()[-1] for l in out.splitlines() if l.strip()]
    demangled = subprocess.run(["c++filt"], input="\n".join(raw), capture_output=True,
                               text=True, check=True).stdout.splitlines()
    exported_c, exported_cxx = set(), set()
    for sym in demangled:
        name, _, version = sym.partition("@")
        if name.startswith("RBD_STANDALONE_"):
            continue  # the version node itself
        if not version.lstrip("@").startswith("RBD_STANDALONE_"):
            errors.append("exported outside the version node: %s" % sym)
        if re.fullmatch(r"rbd_\w+", name):
            exported_c.add(name)
            continue
        m = re.fullmatch(r"librbd::standalone::(\w+)(?:\[abi:cxx11\])?\(.*\)", name)
        if m:
            exported_cxx.add(m.group(1))
            continue
        errors.append("exported, not public API: %s" % sym)

    for n in sorted(c_names - exported_c):
        errors.append("declared in %s, not exported: %s" % (c_header, n))
    for n in sorted(exported_c - c_names):
        errors.append("exported, not declared in %s: %s" % (c_header, n))
    for n in sorted(cxx_names - exported_cxx):
        errors.append("declared in %s, not exported: %s" % (cxx_header, n))
    for n in sorted(exported_cxx - cxx_names):
        errors.append("exported, not declared in %s: librbd::standalone::%s" % (cxx_header, n))

    for e in errors:
        print("check_exports: " + e)
    print("check_exports: %s: %d C and %d C++ functions exported, %d problem(s)"
          % (lib, len(exported_c), len(exported_cxx), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
