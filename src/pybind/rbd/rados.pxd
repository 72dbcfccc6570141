# The binary layout of python3-rados' Ioctx (Ceph 16.2.x), declared so that
# `from rados cimport Ioctx` reaches the rados_ioctx_t an Ioctx wraps, as
# the stock rbd binding does.  Debian does not ship rados.pxd.  Cython
# checks the object size when the module is imported, so a python3-rados
# with a different layout is reported, not misread.

cdef extern from "rados/librados.h" nogil:
    ctypedef void* rados_t
    ctypedef void* rados_ioctx_t


cdef class Ioctx(object):
    cdef:
        object rados
        rados_ioctx_t io
        public object name
        public object state
        public object locator_key
        public object nspace
        public object safe_completions
        public object complete_completions
        public object lock
