# cython: language_level=3, embedsignature=True, binding=True
"""Standalone (parentless) RBD clones for Python.

Importing this module adds methods to the stock ``rbd.RBD`` class::

    import rbd, rbd_standalone
    rbd.RBD().clone_standalone(p_ioctx, 'parent', c_ioctx, 'child',
                               features=None, order=None, stripe_unit=None,
                               stripe_count=None, data_pool=None)
    rbd.RBD().list_children_standalone(ioctx, 'parent', descendants=False)
    rbd.RBD().parent_info_standalone(ioctx, 'child')
    rbd.RBD().remove_standalone(ioctx, 'image')

Errors raise the stock ``rbd`` exception classes (ImageNotFound,
ImageExists, InvalidArgument, ImageBusy, OperationNotSupported, ...).
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from rados cimport Ioctx, rados_ioctx_t, rados_t

import errno as _errno
import rbd as _rbd

cdef extern from "rbd/librbd.h" nogil:
    ctypedef void* rbd_image_options_t
    ctypedef void* rbd_image_t
    int rbd_image_options_create(rbd_image_options_t* opts)
    void rbd_image_options_destroy(rbd_image_options_t opts)
    int rbd_image_options_set_uint64(rbd_image_options_t opts, int optname, uint64_t optval)
    int rbd_image_options_set_string(rbd_image_options_t opts, int optname, const char* optval)
    int rbd_open_read_only(rados_ioctx_t io, const char* name, rbd_image_t* image,
                           const char* snap_name)
    int rbd_close(rbd_image_t image)
    enum:
        RBD_IMAGE_OPTION_FEATURES
        RBD_IMAGE_OPTION_ORDER
        RBD_IMAGE_OPTION_STRIPE_UNIT
        RBD_IMAGE_OPTION_STRIPE_COUNT
        RBD_IMAGE_OPTION_DATA_POOL

cdef extern from "rbd/standalone.h" nogil:
    ctypedef enum rbd_parent_type_t:
        RBD_PARENT_TYPE_SNAPSHOT
        RBD_PARENT_TYPE_STANDALONE
    ctypedef enum rbd_child_state_t:
        RBD_CHILD_STATE_OK
        RBD_CHILD_STATE_TRASH
        RBD_CHILD_STATE_MISSING
        RBD_CHILD_STATE_NOT_LINKED
        RBD_CHILD_STATE_IN_PROGRESS
        RBD_CHILD_STATE_DETACHING
        RBD_CHILD_STATE_UNVERIFIED
    ctypedef struct rbd_standalone_child_t:
        int64_t pool_id
        char* pool_name
        char* pool_namespace
        char* image_id
        char* image_name
        rbd_parent_type_t parent_type
        uint64_t parent_snap_id
        char* parent_snap_name
        char* parent_image_name
        int depth
        rbd_child_state_t state
        uint64_t state_since
    ctypedef struct rbd_standalone_parent_info_t:
        rbd_parent_type_t parent_type
        int64_t pool_id
        char* pool_name
        char* pool_namespace
        char* image_name
        char* image_id
        uint64_t snap_id
        char* snap_name
        uint64_t overlap
    int RBD_LIST_CHILDREN_DESCENDANTS
    int RBD_LIST_CHILDREN_SNAPSHOTS
    int rbd_standalone_clone(rados_ioctx_t p_ioctx, const char* p_name,
                             rados_ioctx_t c_ioctx, const char* c_name,
                             rbd_image_options_t c_opts)
    int rbd_standalone_list_children(rados_ioctx_t ioctx, const char* name, int flags,
                                     rbd_standalone_child_t* children, size_t* max)
    void rbd_standalone_list_children_cleanup(rbd_standalone_child_t* children, size_t num)
    int rbd_standalone_get_parent(rbd_image_t image, rbd_standalone_parent_info_t* info)
    void rbd_standalone_parent_info_cleanup(rbd_standalone_parent_info_t* info)
    int rbd_standalone_remove(rados_ioctx_t ioctx, const char* name)
    int rbd_standalone_flatten(rados_ioctx_t ioctx, const char* name)
    int rbd_standalone_prune_children(rados_ioctx_t ioctx, const char* name, size_t* pruned)
    ctypedef struct rbd_standalone_osd_overlay_t:
        int osd
        int up
        int status
        uint32_t version
        char* ceph_version
        char* probe_pool
    int rbd_standalone_overlay_status(rados_t cluster, rbd_standalone_osd_overlay_t* osds,
                                      size_t* max)
    void rbd_standalone_overlay_status_cleanup(rbd_standalone_osd_overlay_t* osds, size_t num)
    const char* rbd_standalone_last_error()

cdef extern from "rados/librados.h" nogil:
    rados_t rados_ioctx_get_cluster(rados_ioctx_t io)


PARENT_TYPES = {RBD_PARENT_TYPE_SNAPSHOT: 'snapshot', RBD_PARENT_TYPE_STANDALONE: 'standalone'}
# The same words as `rbd children --format json`.
CHILD_STATES = {RBD_CHILD_STATE_OK: 'ok', RBD_CHILD_STATE_TRASH: 'trash',
                RBD_CHILD_STATE_MISSING: 'missing', RBD_CHILD_STATE_NOT_LINKED: 'not_linked',
                RBD_CHILD_STATE_IN_PROGRESS: 'in_progress',
                RBD_CHILD_STATE_DETACHING: 'detaching',
                RBD_CHILD_STATE_UNVERIFIED: 'unverified'}

_EXCEPTIONS = {
    _errno.ENOENT: _rbd.ImageNotFound,
    _errno.EEXIST: _rbd.ImageExists,
    _errno.EINVAL: _rbd.InvalidArgument,
    _errno.EBUSY: _rbd.ImageBusy,
    _errno.EOPNOTSUPP: _rbd.OperationNotSupported,
    _errno.ENOSYS: _rbd.FunctionNotSupported,
    _errno.EPERM: _rbd.PermissionError,
    _errno.EROFS: _rbd.ReadOnlyImage,
    _errno.ENOTEMPTY: _rbd.ImageHasSnapshots,
    _errno.ERANGE: _rbd.ArgumentOutOfRange,
    _errno.EDOM: _rbd.ArgumentOutOfRange,
    _errno.EIO: _rbd.IOError,
    _errno.ENOSPC: _rbd.NoSpace,
    _errno.EDQUOT: _rbd.DiskQuotaExceeded,
    _errno.ETIMEDOUT: _rbd.Timeout,
    _errno.ESHUTDOWN: _rbd.ConnectionShutdown,
    _errno.ECANCELED: _rbd.OperationCanceled,
}


def _raise(int ret, what):
    """Raises the stock rbd exception for -ret, with the library's message."""
    detail = rbd_standalone_last_error().decode('utf-8', 'replace')
    message = '%s: %s' % (what, detail) if detail else what
    cls = _EXCEPTIONS.get(-ret, _rbd.OSError)
    raise cls(message, errno=-ret)


cdef bytes _b(s):
    if isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise TypeError('expected str, got %r' % type(s).__name__)
    return s.encode('utf-8')


cdef str _s(const char* p):
    return p.decode('utf-8') if p != NULL else ''


cdef rados_ioctx_t _io(ioctx) except NULL:
    if not isinstance(ioctx, Ioctx):
        raise TypeError('expected rados.Ioctx, got %r' % type(ioctx).__name__)
    return (<Ioctx>ioctx).io


ctypedef int (*_image_op_t)(rados_ioctx_t, const char*) nogil


cdef _run_image_op(_image_op_t op, ioctx, name, what):
    """Runs the C call ``op(ioctx, name)`` without the GIL; a failure
    raises as ``_raise`` does, with ``what`` and the image's name."""
    cdef rados_ioctx_t io = _io(ioctx)
    cdef bytes n = _b(name)
    cdef const char* n_c = n
    cdef int ret
    with nogil:
        ret = op(io, n_c)
    if ret < 0:
        _raise(ret, '%s %s' % (what, name))


def clone_standalone(self, p_ioctx, p_name, c_ioctx, c_name, features=None, order=None,
                     stripe_unit=None, stripe_count=None, data_pool=None):
    """Clone the HEAD of image ``p_name`` (no snapshot) into a new image
    ``c_name``.  Unset options come from the parent, as ``rbd
    clone-standalone`` does.  The first clone of an image makes it read-only
    for every client until its last child is flattened or removed.

    :param p_ioctx: the parent's pool
    :type p_ioctx: :class:`rados.Ioctx`
    :param p_name: the parent image (a name, no ``@snapshot``)
    :type p_name: str
    :param c_ioctx: the child's pool
    :type c_ioctx: :class:`rados.Ioctx`
    :param c_name: the new image
    :type c_name: str
    :param features: ``RBD_FEATURE_*`` bits (default: the parent's)
    :type features: int
    :param order: object size as a power of two (default: the parent's)
    :type order: int
    :param stripe_unit: stripe unit in bytes (default: the parent's)
    :type stripe_unit: int
    :param stripe_count: objects to stripe over (default: the parent's)
    :type stripe_count: int
    :param data_pool: a pool for the child's data objects
    :type data_pool: str
    :raises: :class:`ImageNotFound` (no parent), :class:`ImageExists`,
        :class:`InvalidArgument` (bad options, a snapshot name),
        :class:`ArgumentOutOfRange` (order), :class:`ImageBusy` (the parent
        is open for writing), :class:`PermissionError` (a first clone
        without write access to the parent's pool),
        :class:`OperationNotSupported` (OSDs without the overlay, or
        standalone clones disabled), :class:`ReadOnlyImage` (a non-primary
        parent); nothing is left behind on error
    """
    cdef rados_ioctx_t p = _io(p_ioctx)
    cdef rados_ioctx_t c = _io(c_ioctx)
    cdef bytes pn = _b(p_name)
    cdef bytes cn = _b(c_name)
    cdef const char* pn_c = pn
    cdef const char* cn_c = cn
    cdef rbd_image_options_t opts
    cdef bytes dp
    cdef int ret
    rbd_image_options_create(&opts)
    try:
        if features is not None:
            rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, features)
        if order is not None:
            rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, order)
        if (stripe_unit is None) != (stripe_count is None):
            raise _rbd.InvalidArgument('stripe_unit and stripe_count go together',
                                       errno=_errno.EINVAL)
        if stripe_unit is not None:
            rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_STRIPE_UNIT, stripe_unit)
            rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_STRIPE_COUNT, stripe_count)
        if data_pool is not None:
            dp = _b(data_pool)
            rbd_image_options_set_string(opts, RBD_IMAGE_OPTION_DATA_POOL, dp)
        with nogil:
            ret = rbd_standalone_clone(p, pn_c, c, cn_c, opts)
        if ret < 0:
            _raise(ret, 'error creating standalone clone %s' % c_name)
    finally:
        rbd_image_options_destroy(opts)


def list_children_standalone(self, ioctx, name, descendants=False, snapshots=True):
    """Children of image ``name``: its standalone children, and those of its
    snapshots.  Detaches that stock clients asked and that have finished
    are completed on the way.

    :param ioctx: the image's pool
    :type ioctx: :class:`rados.Ioctx`
    :param name: the image
    :type name: str
    :param descendants: also the children's children, and so on
    :type descendants: bool
    :param snapshots: also the children of the image's snapshots
    :type snapshots: bool
    :returns: list of dicts with ``pool``, ``pool_namespace``, ``image``,
        ``id`` (as stock ``list_children2``), ``parent_type`` ('standalone'
        or 'snapshot'), ``parent_snapshot``, ``depth`` and ``state``: 'ok',
        'trash', 'in_progress' (a clone is making it), 'detaching' (a
        detach was asked; the child still reads through the parent),
        'unverified' (its header could not be read), or stale: 'missing',
        'not_linked'; ``state_since``: when a HEAD child's registry entry
        got that state (attach, or the detach asked), seconds since the
        epoch (0: unknown)
    :raises: :class:`ImageNotFound`
    """
    cdef rados_ioctx_t io = _io(ioctx)
    cdef bytes n = _b(name)
    cdef const char* n_c = n
    cdef int flags = (RBD_LIST_CHILDREN_DESCENDANTS if descendants else 0) | \
                     (RBD_LIST_CHILDREN_SNAPSHOTS if snapshots else 0)
    cdef size_t num = 16
    cdef rbd_standalone_child_t* children = NULL
    cdef int ret
    try:
        while True:
            free(children)
            children = <rbd_standalone_child_t*>calloc(num, sizeof(rbd_standalone_child_t))
            if children == NULL:
                raise MemoryError()
            with nogil:
                ret = rbd_standalone_list_children(io, n_c, flags, children, &num)
            if ret != -_errno.ERANGE:
                break
        if ret < 0:
            _raise(ret, 'error listing children of %s' % name)
        result = []
        for i in range(num):
            c = children[i]
            result.append({
                'pool': _s(c.pool_name), 'pool_namespace': _s(c.pool_namespace),
                'image': _s(c.image_name), 'id': _s(c.image_id),
                'parent_type': PARENT_TYPES[c.parent_type],
                'parent_snapshot': _s(c.parent_snap_name),
                'parent_image': _s(c.parent_image_name),
                'depth': c.depth, 'state': CHILD_STATES.get(c.state, 'unknown'),
                'state_since': c.state_since})
        rbd_standalone_list_children_cleanup(children, num)
        return result
    finally:
        free(children)


def parent_info_standalone(self, ioctx, name, snapshot=None):
    """The parent of image ``name`` (at ``snapshot``).

    :param ioctx: the image's pool
    :type ioctx: :class:`rados.Ioctx`
    :param name: the image
    :type name: str
    :param snapshot: read the parent of this snapshot of the image
    :type snapshot: str
    :returns: dict - the keys of stock ``Image.get_parent_image_spec()``
        (``pool_name``, ``pool_namespace``, ``image_name``, ``snap_name``:
        empty for a standalone parent), plus ``parent_type``
        ('standalone' or 'snapshot'), ``pool_id``, ``image_id``,
        ``snap_id`` and ``overlap``
    :raises: :class:`ImageNotFound` if the image has no parent (or does
        not exist)
    """
    cdef rados_ioctx_t io = _io(ioctx)
    cdef bytes n = _b(name)
    cdef bytes s
    cdef const char* n_c = n
    cdef const char* s_c = NULL
    cdef rbd_image_t image
    cdef rbd_standalone_parent_info_t info
    cdef int ret
    if snapshot is not None:
        s = _b(snapshot)
        s_c = s
    with nogil:
        ret = rbd_open_read_only(io, n_c, &image, s_c)
    if ret < 0:
        _raise(ret, 'error opening image %s' % name)
    try:
        with nogil:
            ret = rbd_standalone_get_parent(image, &info)
        if ret < 0:
            _raise(ret, 'image %s has no parent' % name if ret == -_errno.ENOENT
                   else 'error reading the parent of %s' % name)
        result = {'pool_name': _s(info.pool_name), 'pool_namespace': _s(info.pool_namespace),
                  'image_name': _s(info.image_name), 'snap_name': _s(info.snap_name),
                  'parent_type': PARENT_TYPES[info.parent_type], 'pool_id': info.pool_id,
                  'image_id': _s(info.image_id), 'snap_id': info.snap_id,
                  'overlap': info.overlap}
        rbd_standalone_parent_info_cleanup(&info)
        return result
    finally:
        rbd_close(image)


def remove_standalone(self, ioctx, name):
    """Removes image ``name``, as stock ``RBD.remove`` does; a standalone
    child is detached from its parent (the last one lifts the parent's
    fence).

    :param ioctx: the image's pool
    :type ioctx: :class:`rados.Ioctx`
    :param name: the image
    :type name: str
    :raises: :class:`ImageNotFound`, :class:`ImageBusy` (the image has
        standalone children, or watchers), :class:`ImageHasSnapshots`
    """
    _run_image_op(rbd_standalone_remove, ioctx, name, 'error removing image')


def flatten_standalone(self, ioctx, name):
    """Flattens image ``name`` (a standalone or a snapshot clone) like stock
    ``Image.flatten``, but without trusting its object map: a client killed
    during a copy-up can leave the map listing objects that were never
    written, which stock flatten skips and which then read as zeros.  The
    map is flagged invalid for the flatten and rebuilt after it; a
    standalone child is then detached from its parent.

    :param ioctx: the image's pool
    :type ioctx: :class:`rados.Ioctx`
    :param name: the image
    :type name: str
    :raises: :class:`ImageNotFound`, :class:`InvalidArgument` (no parent),
        :class:`ReadOnlyImage`
    """
    _run_image_op(rbd_standalone_flatten, ioctx, name, 'error flattening image')


def prune_children_standalone(self, ioctx, name):
    """Drops the stale registrations of image ``name``'s standalone
    children (the child is gone, or no longer reads from this parent), as
    ``rbd children --prune`` does; finished detaches are completed too.

    :param ioctx: the parent's pool
    :type ioctx: :class:`rados.Ioctx`
    :param name: the parent image
    :type name: str
    :returns: int - how many registrations were dropped
    :raises: :class:`ImageNotFound`, :class:`PermissionError`
    """
    cdef rados_ioctx_t io = _io(ioctx)
    cdef bytes n = _b(name)
    cdef const char* n_c = n
    cdef size_t pruned = 0
    cdef int ret
    with nogil:
        ret = rbd_standalone_prune_children(io, n_c, &pruned)
    if ret < 0:
        _raise(ret, 'error pruning the children of %s' % name)
    return pruned


# What `rbd overlay status --format json` says in "overlay".
_OVERLAY_STATES = {0: 'running', -_errno.EOPNOTSUPP: 'absent', -_errno.ENOENT: 'unknown'}


def overlay_status(cluster):
    """Which OSDs run the cls_rbd standalone-clone overlay, asked of each
    up OSD through an existing object it is primary for (nothing is
    written), as ``rbd overlay status`` prints it.

    :param cluster: a connected cluster handle, or an ioctx of it
    :type cluster: :class:`rados.Rados` or :class:`rados.Ioctx`
    :returns: list of dicts, one per OSD in id order: ``osd`` (int),
        ``up`` (bool), ``overlay`` ('running', 'absent': stock cls_rbd
        only, 'unknown': down or primary of no object, 'error'),
        ``version`` and ``ceph_version`` (when running), ``errno``
    :raises: :class:`rbd.Error` subclasses if the osdmap cannot be read
    """
    opened = None
    if not isinstance(cluster, Ioctx):
        pools = cluster.list_pools()
        if not pools:
            raise _rbd.ObjectNotFound('the cluster has no pool to reach it through',
                                      errno=_errno.ENOENT)
        opened = cluster.open_ioctx(pools[0])
    cdef rados_t handle = rados_ioctx_get_cluster(_io(opened if opened is not None else cluster))
    cdef size_t num = 16
    cdef rbd_standalone_osd_overlay_t* osds = NULL
    cdef int ret
    try:
        while True:
            free(osds)
            osds = <rbd_standalone_osd_overlay_t*>calloc(num, sizeof(rbd_standalone_osd_overlay_t))
            if osds == NULL:
                raise MemoryError()
            with nogil:
                ret = rbd_standalone_overlay_status(handle, osds, &num)
            if ret != -_errno.ERANGE:
                break
        if ret < 0:
            _raise(ret, 'error asking the OSDs for the overlay')
        result = []
        for i in range(num):
            o = {'osd': osds[i].osd, 'up': bool(osds[i].up),
                 'overlay': _OVERLAY_STATES.get(osds[i].status, 'error'),
                 'errno': -osds[i].status}
            if osds[i].status == 0:
                o['version'] = osds[i].version
                o['ceph_version'] = _s(osds[i].ceph_version)
            result.append(o)
        rbd_standalone_overlay_status_cleanup(osds, num)
        return result
    finally:
        free(osds)
        if opened is not None:
            opened.close()


def overlay_versions_by_osd(cluster):
    """:func:`overlay_status` as {osd id: overlay version, or None for an
    OSD that runs none (or could not be asked)}."""
    return {o['osd']: o.get('version') for o in overlay_status(cluster)}


for _f in (clone_standalone, list_children_standalone, parent_info_standalone,
           remove_standalone, prune_children_standalone, flatten_standalone):
    setattr(_rbd.RBD, _f.__name__, _f)
