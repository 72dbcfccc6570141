"""Finding standalone parents and measuring their children.

Cost per tick (the schedule is in module.py):

* **Discovery** reads at most ``discovery_batch`` image headers per tick,
  continuing an incremental sweep over every rbd pool's ``rbd_directory``
  and ``rbd_trash`` (and their namespaces) where the last tick stopped.
  Each header costs one read op (the first ``head_child_`` registry key
  and the ``parent`` record), issued ``AIO_WINDOW`` at a time.  A header
  with registry keys is a parent; one whose parent record names an image's
  HEAD (``CEPH_NOSNAP``) is a standalone child, whose parent joins the
  index too (or, if that parent's header is gone, is reported as an
  orphan).  A full sweep of N images takes ceil(N / discovery_batch)
  ticks; it never makes a tick cost more than the batch.
* **Known parents** (the persisted index) are checked every tick: one
  ``list_children_standalone`` per parent (the binding reads the registry
  in pages, checks each child's link with parallel class calls, and
  completes the detaches stock clients asked for, lifting the fence with
  the last), then one read op per child (header keys and the auto-flatten
  threshold) and one read of its object map, again ``AIO_WINDOW`` at a
  time, plus the parent's object map once.  This costs O(children of known
  parents), independent of how many other images the cluster holds.
"""

import errno
import time

import rados

from . import formats
from .state import parent_key

AIO_WINDOW = 128
HEADER_KEYS = ('size', 'order', 'features', 'flags', 'parent', 'stripe_unit',
               'stripe_count', formats.THRESHOLD_OMAP_KEY)


def header_oid(image_id):
    return 'rbd_header.' + image_id


def object_map_oid(image_id):
    return 'rbd_object_map.' + image_id


def read_headers(ioctx, image_ids, keys=HEADER_KEYS, registry=False):
    """{id: (ret, {key: bytes}, has_registry)} in windows of AIO_WINDOW."""
    out = {}
    ids = list(image_ids)
    for start in range(0, len(ids), AIO_WINDOW):
        pending = []
        for image_id in ids[start:start + AIO_WINDOW]:
            op = ioctx.create_read_op()
            vals, _ = ioctx.get_omap_vals_by_keys(op, list(keys))
            reg = None
            if registry:
                reg, _ = ioctx.get_omap_vals(op, '', formats.REGISTRY_PREFIX, 1)
            comp = ioctx.operate_aio_read_op(op, header_oid(image_id))
            pending.append((image_id, op, vals, reg, comp))
        for image_id, op, vals, reg, comp in pending:
            comp.wait_for_complete()
            ret = comp.get_return_value()
            got, has_reg = {}, False
            if ret >= 0:
                got = {k: v for k, v in vals}
                if reg is not None:
                    has_reg = any(True for _ in reg)
            out[image_id] = (ret, got, has_reg)
            ioctx.release_read_op(op)
    return out


def read_object_maps(ioctx, wanted):
    """{id: bytes or None} for {id: expected object count}."""
    out = {}
    items = list(wanted.items())
    for start in range(0, len(items), AIO_WINDOW):
        pending = []
        for image_id, objects in items[start:start + AIO_WINDOW]:
            length = (objects + 3) // 4 + 4096
            box = {}

            def done(comp, data, box=box):
                box['data'] = data

            comp = ioctx.aio_read(object_map_oid(image_id), length, 0, done)
            pending.append((image_id, comp, box))
        for image_id, comp, box in pending:
            comp.wait_for_complete_and_cb()
            ret = comp.get_return_value()
            out[image_id] = box.get('data') if ret >= 0 else None
    return out


def image_layout(keys):
    """(size, order, features, flags, simple layout?) from header keys."""
    size = formats.u64(keys['size']) if 'size' in keys else 0
    order = keys['order'][0] if keys.get('order') else 22
    features = formats.u64(keys['features']) if 'features' in keys else 0
    flags = formats.u64(keys['flags']) if 'flags' in keys else 0
    simple = True
    if features & formats.RBD_FEATURE_STRIPINGV2 and 'stripe_count' in keys:
        simple = formats.u64(keys['stripe_count']) <= 1
    return size, order, features, flags, simple


def usable_map(keys_layout):
    _, _, features, flags, simple = keys_layout
    return bool(features & formats.RBD_FEATURE_OBJECT_MAP) and \
        not flags & formats.RBD_FLAG_OBJECT_MAP_INVALID and simple


class Discovery:
    """The incremental sweep over every rbd pool's images (see above)."""

    def __init__(self, module):
        self.module = module
        self.queue = []       # (pool_id, pool_name, namespace, object) still to sweep
        self.cursor = ''      # last omap key read in queue[0]
        self.sweeps = 0       # completed sweeps
        self.swept = 0        # headers read in the current sweep
        self.sweep_started = None
        self.last_sweep_seconds = None
        self.last_sweep_images = None

    def _restart(self, pools):
        self.queue = []
        for pool_id, pool_name in sorted(pools.items()):
            try:
                with self.module.rados.open_ioctx2(pool_id) as ioctx:
                    namespaces = [''] + self.module.list_namespaces(ioctx)
            except rados.Error:
                continue
            for ns in namespaces:
                self.queue.append((pool_id, pool_name, ns, 'rbd_directory'))
                self.queue.append((pool_id, pool_name, ns, 'rbd_trash'))
        self.cursor = ''
        self.swept = 0
        self.sweep_started = time.time()

    def step(self, pools, budget, on_parent, on_child):
        """Reads up to ``budget`` headers; calls back for each find."""
        if not self.queue:
            if self.sweep_started is not None:
                self.sweeps += 1
                self.last_sweep_seconds = time.time() - self.sweep_started
                self.last_sweep_images = self.swept
            self._restart(pools)
        read = 0
        while self.queue and read < budget:
            pool_id, pool_name, ns, oid = self.queue[0]
            want = min(1024, budget - read)
            if pool_id not in pools:
                self.queue.pop(0)
                self.cursor = ''
                continue
            try:
                with self.module.rados.open_ioctx2(pool_id) as ioctx:
                    ioctx.set_namespace(ns)
                    with rados.ReadOpCtx() as op:
                        it, _ = ioctx.get_omap_vals(op, self.cursor, 'id_', want)
                        try:
                            ioctx.operate_read_op(op, oid)
                            page = list(it)
                        except rados.ObjectNotFound:
                            page = []
                    ids = [k[3:] for k, _ in page]
                    names = {}
                    for k, v in page:
                        try:
                            names[k[3:]] = formats.decode_dir_name(v) if oid == 'rbd_directory' else None
                        except ValueError:
                            names[k[3:]] = None
                    heads = read_headers(ioctx, ids, keys=('parent',), registry=True)
            except rados.Error as e:
                self.module.log.warning('discovery of %s/%s %s: %s', pool_name, ns, oid, e)
                page, heads, ids = [], {}, []
            read += len(ids)
            self.swept += len(ids)
            for image_id in ids:
                ret, keys, has_reg = heads.get(image_id, (-errno.ENOENT, {}, False))
                if ret < 0:
                    continue
                if has_reg:
                    on_parent(pool_id, pool_name, ns, image_id, names.get(image_id))
                if 'parent' in keys:
                    try:
                        parent = formats.decode_parent(keys['parent'])
                    except ValueError:
                        continue
                    if parent['snap_id'] == formats.CEPH_NOSNAP and parent['image_id']:
                        on_child(pool_id, pool_name, ns, image_id, names.get(image_id), parent)
            if len(page) < want:
                self.queue.pop(0)
                self.cursor = ''
            else:
                self.cursor = page[-1][0]
        return read

    def status(self):
        return {'sweeps_completed': self.sweeps,
                'current_sweep_images_read': self.swept,
                'current_sweep_objects_left': len(self.queue),
                'last_sweep_seconds': None if self.last_sweep_seconds is None
                else round(self.last_sweep_seconds, 1),
                'last_sweep_images': self.last_sweep_images}


def index_entry_key(entry):
    return (entry['pool_id'], parent_key(entry['ns'], entry['id']))
