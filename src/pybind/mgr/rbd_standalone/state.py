"""The module's persisted state: one omap object per pool.

``rbd_standalone_mgr`` in the pool's default namespace holds

* ``parent_<namespace hex>.<image id>`` -> JSON ``{"ns", "id", "name",
  "found"}``: the index of known standalone parents of that pool (any
  namespace).  Discovery adds to it; the per-tick check drops a parent
  once its registry is empty.
* ``task_<sequence, 16 hex>`` -> JSON flatten task (see ``FlattenTask``),
  stored in the pool of the child it flattens.

Every change is one omap write (``set_omap``/``remove_omap_keys``), so a
mgr that fails over between two writes loses at most the change in
flight; a task is removed only after its flatten and detach completed,
so a task in flight when the mgr dies is found and run again by the next
active mgr.
"""

import json
import time

import rados

STATE_OID = 'rbd_standalone_mgr'
PARENT_PREFIX = 'parent_'
TASK_PREFIX = 'task_'


def parent_key(namespace, image_id):
    return '%s%s.%s' % (PARENT_PREFIX, namespace.encode('utf-8').hex(), image_id)


def task_key(sequence):
    return '%s%016x' % (TASK_PREFIX, sequence)


def read_all(ioctx, prefix, page=512):
    """Every (key, JSON value) under ``prefix`` in STATE_OID; {} if none."""
    out = {}
    start = ''
    while True:
        with rados.ReadOpCtx() as op:
            it, _ = ioctx.get_omap_vals(op, start, prefix, page)
            try:
                ioctx.operate_read_op(op, STATE_OID)
            except rados.ObjectNotFound:
                return out
            items = list(it)
        for k, v in items:
            start = k
            try:
                out[k] = json.loads(v.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                out[k] = None
        if len(items) < page:
            return out


def put(ioctx, key, value):
    with rados.WriteOpCtx() as op:
        ioctx.set_omap(op, (key,), (json.dumps(value, sort_keys=True).encode('utf-8'),))
        ioctx.operate_write_op(op, STATE_OID)


def remove(ioctx, key):
    try:
        with rados.WriteOpCtx() as op:
            ioctx.remove_omap_keys(op, (key,))
            ioctx.operate_write_op(op, STATE_OID)
    except rados.ObjectNotFound:
        pass


class FlattenTask:
    """One queued flatten of a standalone child, persisted in its pool."""

    FIELDS = ('sequence', 'id', 'pool', 'namespace', 'image', 'image_id',
              'parent_pool', 'parent_namespace', 'parent_image', 'parent_id',
              'reason', 'created', 'attempts', 'retry_at', 'last_error')

    def __init__(self, **kw):
        for f in self.FIELDS:
            setattr(self, f, kw.get(f))
        self.attempts = self.attempts or 0
        self.retry_at = self.retry_at or 0.0
        self.created = self.created or time.time()
        # Not persisted.
        self.running = False
        self.progress = 0.0
        self.progress_posted = False

    @property
    def key(self):
        return task_key(self.sequence)

    @property
    def spec(self):
        parts = [self.pool] + ([self.namespace] if self.namespace else []) + [self.image]
        return '/'.join(parts)

    @property
    def parent_spec(self):
        parts = [self.parent_pool] + ([self.parent_namespace] if self.parent_namespace else []) + \
            [self.parent_image]
        return '/'.join(parts)

    @property
    def event_id(self):
        return 'rbd_standalone/flatten/%s' % self.id

    def to_dict(self):
        return {f: getattr(self, f) for f in self.FIELDS}

    def status(self, now=None):
        now = now or time.time()
        d = self.to_dict()
        d['state'] = 'running' if self.running else (
            'waiting_retry' if self.retry_at > now else 'queued')
        if self.running:
            d['progress'] = round(self.progress, 4)
        if self.retry_at > now and not self.running:
            d['retry_in'] = round(self.retry_at - now, 1)
        return d

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict) or not d.get('image_id') or d.get('sequence') is None:
            raise ValueError('not a flatten task: %r' % (d,))
        return cls(**{f: d.get(f) for f in cls.FIELDS})
