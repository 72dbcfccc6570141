# ceph-mgr module for standalone (parentless) RBD clones; see module.py.
from .module import Module

__all__ = ['Module']
