"""Loads the project's Cython binding ``rbd_standalone`` inside ceph-mgr.

This mgr module is itself named ``rbd_standalone``, so once the mgr has
imported it, ``import rbd_standalone`` yields this package, not the binding.
The binding is therefore looked up on ``sys.path`` (which includes the
mgr's ``PYTHONPATH``: see ``src/vstart.sh --mgr-python-path``) as an
extension module only, and loaded under its own name without entering it
in ``sys.modules``.  Loading it adds its methods to the stock ``rbd.RBD``.
"""

import importlib.machinery
import importlib.util
import os
import sys

_binding = None
_error = None


def load():
    """Returns the binding module; raises ImportError saying why not."""
    global _binding, _error
    if _binding is not None:
        return _binding
    existing = sys.modules.get('rbd_standalone')
    if existing is not None and hasattr(existing, 'list_children_standalone'):
        _binding = existing
        return _binding
    # The mgr's PYTHONPATH first: sys.path may list dist-packages before it,
    # where an installed package's binding (built for another library
    # version) would then win over the one the cluster was started with.
    pythonpath = [e for e in os.environ.get('PYTHONPATH', '').split(os.pathsep) if e]
    for entry in pythonpath + [e for e in sys.path if e not in pythonpath]:
        if not entry:
            continue
        try:
            spec = importlib.machinery.PathFinder.find_spec('rbd_standalone', [entry])
        except (ImportError, OSError, ValueError):
            continue
        if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            continue
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _binding = module
        return _binding
    _error = ('the rbd_standalone Python binding (rbd_standalone*.so) is not on the '
              "mgr's sys.path; put build/lib/python on the mgr's PYTHONPATH")
    raise ImportError(_error)


def has(name):
    """True if the loaded binding offers function ``name``."""
    try:
        return hasattr(load(), name)
    except ImportError:
        return False
