"""
ceph-mgr module for standalone (parentless) RBD clones.

Runs in the active ceph-mgr and does the work that should not wait for a
user to run the project's ``rbd``:

* **Auto-flatten.**  ``rbd_standalone_clone_auto_flatten_threshold`` is
  resolved per child: the child's image metadata, then its pool's metadata
  (where the library keeps the project's options, ``conf_<name>``), then
  this module's option of the same name (cluster-wide); 0 (the default)
  is off.  When the copied-up fraction of a child's overlap (objects of the
  parent under the overlap of which the child holds its own copy, read
  from both object maps) reaches its threshold, the child is queued for a
  flatten.
* **Its own flatten queue.**  ``rbd_support``'s task queue does accept
  standalone children (checked: ``ceph rbd task add flatten`` flattens
  one), but it runs one task at a time for the whole cluster with no way
  to raise that, and it leaves the parent's registry entry marked until a
  client lists the parent.  So the module keeps its own queue with the
  same properties: tasks persisted in RADOS (``state.py``) and reloaded by
  the next active mgr, retried with exponential back-off
  (``flatten_retry_interval`` doubling up to
  ``flatten_retry_max_interval``), at most ``max_concurrent_flattens`` at a
  time, each a ``ceph progress`` event.  After a flatten the module lists
  the parent's children, which completes the detach; the last child's
  lifts the parent's fence.
* **Detach completion.**  Every tick lists the children of every known
  parent through the binding, which drops the entries of children that a
  stock ``flatten``/``rm`` detached and lifts the fence with the last.  A
  parent in the index is therefore completed within one
  ``scan_interval`` (plus the tick's own duration); a parent the module has
  not yet discovered within ceil(images / ``discovery_batch``) + 1 ticks.
* **Health.**  ``RBD_STANDALONE_STALE_REGISTRATION`` (registry entries
  whose child is gone or no longer linked, seen for longer than
  ``stale_registration_age``), ``RBD_STANDALONE_PARENT_MISSING``
  (standalone children whose parent's header is gone) and
  ``RBD_STANDALONE_OVERLAY_MISSING`` (OSDs without the cls_rbd overlay
  while standalone parents exist).  Each is recomputed every tick, so it
  clears with the next tick after the cause is fixed.

Schedule: one tick every ``scan_interval`` seconds (default 30).  A tick
reads at most ``discovery_batch`` image headers for discovery (an
incremental sweep over the image directories and trash of every rbd pool,
continued where the last tick stopped) plus the registries, headers and
object maps of the known parents' children; its cost does not grow with
the number of other images (see ``scanner.py``).  30 s keeps a stock
user's wait for a completed detach well under a minute while a tick of
10,000 children (measured: see the README) fits in it several times over.
"""

import errno
import json
import threading
import time
import traceback
import uuid

import rados
import rbd

from mgr_module import MgrModule, Option

from . import binding, formats, safe_flatten, scanner, state
from .state import FlattenTask

THRESHOLD_OPTION = formats.THRESHOLD_OPTION
STATE_OK = ('ok', 'trash')
STATE_PENDING = ('in_progress', 'detaching', 'unverified')

HEALTH_STALE = 'RBD_STANDALONE_STALE_REGISTRATION'
HEALTH_ORPHAN = 'RBD_STANDALONE_PARENT_MISSING'
HEALTH_OVERLAY = 'RBD_STANDALONE_OVERLAY_MISSING'


def image_spec(pool, ns, name):
    return '/'.join([pool] + ([ns] if ns else []) + [name or '?'])


def parse_scope(scope):
    """'global' | 'POOL' | 'POOL/' | 'POOL/IMAGE' | 'POOL/NS/IMAGE'."""
    if scope == 'global':
        return ('global', None, None, None)
    if not scope:
        raise ValueError('empty scope: use global, POOL or POOL[/NAMESPACE]/IMAGE')
    parts = scope.split('/')
    if len(parts) == 1 or (len(parts) == 2 and parts[1] == ''):
        return ('pool', parts[0], '', None)
    if len(parts) == 2:
        return ('image', parts[0], '', parts[1])
    if len(parts) == 3 and all(parts):
        return ('image', parts[0], parts[1], parts[2])
    raise ValueError('invalid scope %r: use global, POOL or POOL[/NAMESPACE]/IMAGE' % scope)


class Module(MgrModule):
    NOTIFY_TYPES = []  # the module polls on its own schedule
    COMMANDS = [
        {'cmd': 'rbd standalone status name=pool_spec,type=CephString,req=false',
         'desc': 'Show standalone parents, their children (copied-up fraction, '
                 'threshold, queued flattens), pending detaches, stale '
                 'registrations and health inputs',
         'perm': 'r'},
        {'cmd': 'rbd standalone flatten-threshold set '
                'name=scope,type=CephString name=value,type=CephString',
         'desc': 'Set rbd_standalone_clone_auto_flatten_threshold (0..1 or N%; '
                 '0 = off) for scope global, POOL or POOL[/NAMESPACE]/IMAGE',
         'perm': 'w'},
        {'cmd': 'rbd standalone flatten-threshold get name=scope,type=CephString',
         'desc': 'Show the auto-flatten threshold set at a scope and, for an '
                 'image, the one in effect',
         'perm': 'r'},
        {'cmd': 'rbd standalone flatten-threshold rm name=scope,type=CephString',
         'desc': 'Remove the auto-flatten threshold set at a scope',
         'perm': 'w'},
        {'cmd': 'rbd standalone scan',
         'desc': 'Run a scan tick now and wait for it to finish',
         'perm': 'w'},
    ]
    MODULE_OPTIONS = [
        Option(name=THRESHOLD_OPTION, type='float', default=0.0, min=0.0, max=1.0,
               desc='cluster-wide auto-flatten threshold (copied-up fraction of a '
                    'standalone child\'s overlap; 0 = off)', runtime=True),
        Option(name='scan_interval', type='secs', default=30, min=1,
               desc='seconds between scan ticks', runtime=True),
        Option(name='discovery_batch', type='int', default=2000, min=1,
               desc='image headers read per tick by the discovery sweep', runtime=True),
        Option(name='max_concurrent_flattens', type='int', default=2, min=0,
               desc='flattens the module runs at a time (0 pauses the queue: '
                    'tasks are still queued and persisted)', runtime=True),
        Option(name='stale_registration_age', type='secs', default=600, min=0,
               desc='seconds a stale registry entry is seen before '
                    'RBD_STANDALONE_STALE_REGISTRATION is raised', runtime=True),
        Option(name='flatten_retry_interval', type='secs', default=10, min=1,
               desc='first retry delay of a failed flatten (doubles per attempt)',
               runtime=True),
        Option(name='flatten_retry_max_interval', type='secs', default=300, min=1,
               desc='longest retry delay of a failed flatten', runtime=True),
    ]

    def __init__(self, *args, **kwargs):
        super(Module, self).__init__(*args, **kwargs)
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.dispatch_wake = threading.Event()
        self.tick_cond = threading.Condition(self.lock)
        self.ticks_done = 0
        self.ticking = False
        self.ready = False
        self.binding_error = None
        self.index = {}            # (pool_id, key) -> parent entry
        self.tasks = {}            # (pool_id, ns, image_id) -> FlattenTask
        self.sequence = 0
        self.orphans = {}          # (pool_id, ns, child_id) -> entry
        self.stale_seen = {}       # registration -> first seen
        self.report = {'parents': [], 'time': None, 'duration': None}
        self.overlay = {'checked': False}
        self.health = {}
        self.discovery = scanner.Discovery(self)
        self.workers = []
        self.completed = []        # last flattens done (for status)

    # ------------------------------------------------------------ helpers

    def opt(self, name):
        return self.get_module_option(name)

    def rbd_pools(self):
        osd_map = self.get('osd_map')
        return {p['pool']: p['pool_name'] for p in osd_map['pools']
                if 'rbd' in p.get('application_metadata', {})}

    def list_namespaces(self, ioctx):
        try:
            return list(rbd.RBD().namespace_list(ioctx))
        except (rbd.OperationNotSupported, rbd.ImageNotFound):
            return []

    def ioctx(self, pool, ns=''):
        io = self.rados.open_ioctx2(pool) if isinstance(pool, int) else self.rados.open_ioctx(pool)
        io.set_namespace(ns or '')
        return io

    def reset_rados(self):
        self.log.warning('rados client blocklisted or shut down; reconnecting')
        try:
            MgrModule.shutdown(self)
        except Exception:
            pass

    # --------------------------------------------------------------- state

    def load_state(self):
        pools = self.rbd_pools()
        for pool_id, pool_name in pools.items():
            try:
                with self.ioctx(pool_id) as io:
                    for k, v in state.read_all(io, state.PARENT_PREFIX).items():
                        if isinstance(v, dict) and v.get('id') is not None:
                            v.update(pool_id=pool_id, pool=pool_name)
                            self.index[(pool_id, k)] = v
                    for k, v in state.read_all(io, state.TASK_PREFIX).items():
                        try:
                            t = FlattenTask.from_dict(v)
                        except ValueError:
                            self.log.error('dropping malformed task %s in pool %s: %r',
                                           k, pool_name, v)
                            state.remove(io, k)
                            continue
                        t.pool = pool_name
                        self.tasks[(pool_id, t.namespace or '', t.image_id)] = t
                        self.sequence = max(self.sequence, t.sequence)
            except rados.Error as e:
                self.log.warning('cannot load state of pool %s: %s', pool_name, e)
        self.log.info('loaded %d known parents and %d queued flattens',
                      len(self.index), len(self.tasks))

    def add_parent(self, pool_id, pool_name, ns, image_id, name):
        key = (pool_id, state.parent_key(ns, image_id))
        with self.lock:
            entry = self.index.get(key)
            if entry is not None:
                if name and entry.get('name') != name:
                    entry['name'] = name
                else:
                    return
            else:
                if not name:
                    name = self.lookup_name(pool_id, ns, image_id)
                entry = {'pool_id': pool_id, 'pool': pool_name, 'ns': ns, 'id': image_id,
                         'name': name, 'found': time.time()}
                self.index[key] = entry
                self.log.info('discovered standalone parent %s (id %s)',
                              image_spec(pool_name, ns, name), image_id)
        try:
            with self.ioctx(pool_id) as io:
                state.put(io, key[1], {k: entry[k] for k in ('ns', 'id', 'name', 'found')})
        except rados.Error as e:
            self.log.warning('cannot persist parent %s: %s', image_id, e)

    def drop_parent(self, key):
        with self.lock:
            entry = self.index.pop(key, None)
        if entry is None:
            return
        self.log.info('standalone parent %s has no children any more',
                      image_spec(entry['pool'], entry['ns'], entry['name']))
        try:
            with self.ioctx(key[0]) as io:
                state.remove(io, key[1])
        except rados.Error:
            pass

    def lookup_name(self, pool_id, ns, image_id):
        try:
            with self.ioctx(pool_id, ns) as io:
                with rados.ReadOpCtx() as op:
                    it, _ = io.get_omap_vals_by_keys(op, ['id_' + image_id])
                    io.operate_read_op(op, 'rbd_directory')
                    for _, v in it:
                        return formats.decode_dir_name(v)
        except (rados.Error, ValueError):
            pass
        return None

    def header_exists(self, pool_id, ns, image_id):
        try:
            with self.ioctx(pool_id, ns) as io:
                io.stat(scanner.header_oid(image_id))
                return True
        except rados.ObjectNotFound:
            return False
        except rados.Error:
            return True  # unknown (pool gone is ObjectNotFound too); do not accuse

    # ---------------------------------------------------------- discovery

    def found_parent(self, pool_id, pool_name, ns, image_id, name):
        self.add_parent(pool_id, pool_name, ns, image_id, name)

    def found_child(self, pool_id, pool_name, ns, image_id, name, parent):
        pools = self.rbd_pools()
        ppool = parent['pool_id']
        if ppool in pools and self.header_exists(ppool, parent['namespace'], parent['image_id']):
            self.add_parent(ppool, pools[ppool], parent['namespace'], parent['image_id'], None)
            return
        with self.lock:
            self.orphans.setdefault((pool_id, ns, image_id), {
                'pool_id': pool_id, 'pool': pool_name, 'namespace': ns, 'id': image_id,
                'image': name, 'parent_pool_id': ppool, 'parent_namespace': parent['namespace'],
                'parent_id': parent['image_id'], 'since': time.time()})

    def recheck_orphans(self):
        with self.lock:
            orphans = list(self.orphans.items())
        for key, o in orphans:
            gone = False
            try:
                with self.ioctx(o['pool_id'], o['namespace']) as io:
                    heads = scanner.read_headers(io, [o['id']], keys=('parent',))
                ret, keys, _ = heads[o['id']]
                if ret < 0 or 'parent' not in keys:
                    gone = True
                else:
                    p = formats.decode_parent(keys['parent'])
                    gone = p['image_id'] != o['parent_id'] or \
                        self.header_exists(p['pool_id'], p['namespace'], p['image_id'])
            except (rados.Error, ValueError):
                gone = False
            if gone:
                with self.lock:
                    self.orphans.pop(key, None)

    # --------------------------------------------------------------- tick

    def tick(self):
        t0 = time.time()
        pools = self.rbd_pools()
        budget = int(self.opt('discovery_batch'))
        self.discovery.step(pools, budget, self.found_parent, self.found_child)
        parents = []
        thresholds = {}
        for key, entry in sorted(self.index.items(), key=lambda kv: kv[0]):
            if entry['pool_id'] not in pools:
                self.drop_parent(key)
                continue
            try:
                parents.append(self.check_parent(key, entry, thresholds))
            except (rados.ConnectionShutdown, rbd.ConnectionShutdown):
                raise
            except Exception as e:
                self.log.error('checking parent %s: %s\n%s', entry.get('id'), e,
                               traceback.format_exc())
                parents.append({'pool': entry['pool'], 'namespace': entry['ns'],
                                'image': entry.get('name'), 'id': entry['id'],
                                'error': str(e), 'children': []})
        self.recheck_orphans()
        self.check_overlay()
        with self.lock:
            self.report = {'parents': parents, 'time': t0,
                           'duration': round(time.time() - t0, 3)}
        self.update_health()

    def check_parent(self, key, entry, thresholds):
        R = rbd.RBD()
        pool_id, ns, pid = entry['pool_id'], entry['ns'], entry['id']
        out = {'pool': entry['pool'], 'namespace': ns, 'image': entry.get('name'),
               'id': pid, 'children': []}
        with self.ioctx(pool_id, ns) as pio:
            heads = scanner.read_headers(pio, [pid], registry=True)
            ret, pkeys, has_reg = heads[pid]
            if ret == -errno.ENOENT:
                # The parent's header is gone: its last known children are orphans.
                last = self.last_children(pool_id, pid)
                with self.lock:
                    for c in last:
                        if c.get('state') in STATE_OK + ('detaching',):
                            self.orphans.setdefault((c['pool_id'], c['namespace'], c['id']), {
                                'pool_id': c['pool_id'], 'pool': c['pool'],
                                'namespace': c['namespace'], 'id': c['id'],
                                'image': c['image'], 'parent_pool_id': pool_id,
                                'parent_namespace': ns, 'parent_id': pid,
                                'since': time.time()})
                self.drop_parent(key)
                out['error'] = 'parent image is gone'
                return out
            layout = scanner.image_layout(pkeys) if ret >= 0 else None
            out['fenced'] = bool(layout and layout[2] & formats.RBD_FEATURE_NON_PRIMARY)
            name = entry.get('name') or self.lookup_name(pool_id, ns, pid)
            if not name:
                out['error'] = 'parent has no name in the image directory (trash?)'
                return out
            out['image'] = name
            if self.binding_error:
                out['error'] = self.binding_error
                return out
            children = R.list_children_standalone(pio, name, snapshots=False)
            pmap = None
            if layout and scanner.usable_map(layout):
                objects = formats.object_count(layout[0], layout[1])
                data = scanner.read_object_maps(pio, {pid: objects}).get(pid)
                if data:
                    try:
                        pmap = formats.decode_object_map(data)
                    except ValueError:
                        pmap = None
        head = [c for c in children if c.get('parent_type') == 'standalone'
                and c.get('depth', 1) == 1]
        if not head and not out['fenced']:
            self.drop_parent(key)
            out['children'] = []
            out['dropped'] = True
            return out
        # Group the linked children by pool/namespace for batched reads.
        groups = {}
        for c in head:
            groups.setdefault((c['pool'], c['pool_namespace']), []).append(c)
        now = time.time()
        seen_stale = set()
        for (cpool, cns), members in groups.items():
            try:
                cio = self.ioctx(cpool, cns)
            except rados.Error as e:
                for c in members:
                    out['children'].append(self.child_row(c, None, None, None, str(e)))
                continue
            with cio:
                cpool_id = cio.get_pool_id()
                linked = [c for c in members if c['state'] in STATE_OK + ('detaching',)]
                heads = scanner.read_headers(cio, [c['id'] for c in linked])
                wanted, layouts = {}, {}
                for c in linked:
                    r, keys, _ = heads.get(c['id'], (-errno.ENOENT, {}, False))
                    if r < 0:
                        continue
                    lay = scanner.image_layout(keys)
                    overlap = 0
                    if 'parent' in keys:
                        try:
                            overlap = formats.decode_parent(keys['parent'])['overlap'] or 0
                        except ValueError:
                            overlap = 0
                    layouts[c['id']] = (lay, overlap, keys)
                    if scanner.usable_map(lay):
                        wanted[c['id']] = formats.object_count(lay[0], lay[1])
                maps = scanner.read_object_maps(cio, wanted) if wanted else {}
                if cpool_id not in thresholds:
                    thresholds[cpool_id] = self.pool_threshold(cpool_id)
                for c in members:
                    c['pool_id'] = cpool_id
                    if c['state'] not in STATE_OK + STATE_PENDING:
                        reg = (pool_id, pid, cpool_id, cns, c['id'])
                        seen_stale.add(reg)
                        with self.lock:
                            first = self.stale_seen.setdefault(reg, now)
                        row = self.child_row(c, None, None, None, None)
                        row['stale_since'] = first
                        out['children'].append(row)
                        continue
                    info = layouts.get(c['id'])
                    frac = basis = None
                    copied = total = None
                    threshold, source = thresholds[cpool_id]
                    if info is not None:
                        lay, overlap, keys = info
                        if formats.THRESHOLD_OMAP_KEY in keys:
                            try:
                                threshold = formats.parse_threshold(
                                    keys[formats.THRESHOLD_OMAP_KEY].decode('utf-8', 'replace'))
                                source = 'image'
                            except ValueError:
                                pass
                        data = maps.get(c['id'])
                        if data:
                            try:
                                cmap = formats.decode_object_map(data)
                                objects = formats.object_count(overlap, lay[1])
                                same = pmap is not None and layout and lay[1] == layout[1]
                                frac, copied, total = formats.copied_fraction(
                                    cmap, pmap if same else None, objects)
                                basis = 'parent_objects' if same else 'overlap_objects'
                            except ValueError:
                                frac = None
                    row = self.child_row(c, frac, threshold, source, None)
                    row.update(copied_objects=copied, basis_objects=total, basis=basis)
                    out['children'].append(row)
                    if c['state'] == 'ok' and threshold and frac is not None and \
                            frac >= threshold:
                        self.enqueue(c, cpool_id, entry, name, frac, threshold, source)
        with self.lock:
            for reg in [r for r in self.stale_seen if r[0] == pool_id and r[1] == pid]:
                if reg not in seen_stale:
                    del self.stale_seen[reg]
        return out

    def last_children(self, pool_id, pid):
        with self.lock:
            for p in self.report.get('parents', []):
                if p.get('id') == pid:
                    return [dict(c, pool_id=c.get('pool_id', pool_id)) for c in p['children']]
        return []

    def child_row(self, c, frac, threshold, source, error):
        with self.lock:
            task = self.tasks.get((c.get('pool_id'), c['pool_namespace'], c['id']))
            tstat = task.status() if task else None
        row = {'pool': c['pool'], 'namespace': c['pool_namespace'], 'image': c['image'],
               'id': c['id'], 'state': c['state'],
               'copied_fraction': None if frac is None else round(frac, 4),
               'threshold': threshold, 'threshold_source': source,
               'flatten': tstat and tstat['state']}
        if error:
            row['error'] = error
        return row

    def pool_threshold(self, pool_id):
        """(threshold, source) from the pool's metadata, else the module's."""
        try:
            with self.ioctx(pool_id) as io:
                with rados.ReadOpCtx() as op:
                    it, _ = io.get_omap_vals_by_keys(op, [formats.THRESHOLD_OMAP_KEY])
                    io.operate_read_op(op, formats.POOL_METADATA_OID)
                    for _, v in it:
                        return formats.parse_threshold(v.decode('utf-8', 'replace')), 'pool'
        except (rados.Error, ValueError):
            pass
        return float(self.opt(THRESHOLD_OPTION) or 0.0), 'global'

    # ------------------------------------------------------------- overlay

    def check_overlay(self):
        if not self.index:
            self.overlay = {'checked': False, 'reason': 'no standalone parents'}
            return
        if not binding.has('overlay_versions_by_osd'):
            self.overlay = {'checked': False,
                            'reason': 'binding lacks rbd_standalone.overlay_versions_by_osd'}
            return
        try:
            versions = binding.load().overlay_versions_by_osd(self.rados)
        except Exception as e:
            self.overlay = {'checked': False, 'reason': 'overlay query failed: %s' % e}
            return
        missing = sorted(int(o) for o, v in versions.items() if v is None)
        self.overlay = {'checked': True, 'versions': {str(k): v for k, v in versions.items()},
                        'missing': missing}

    # -------------------------------------------------------------- health

    def update_health(self):
        checks = {}
        now = time.time()
        age = float(self.opt('stale_registration_age'))
        with self.lock:
            report = self.report
            orphans = list(self.orphans.values())
            overlay = dict(self.overlay)
        stale = []
        for p in report['parents']:
            for c in p['children']:
                if 'stale_since' in c and now - c['stale_since'] >= age:
                    stale.append('%s: child %s (id %s) is %s, seen stale for %ds' % (
                        image_spec(p['pool'], p['namespace'], p['image']),
                        image_spec(c['pool'], c['namespace'], c['image'] or c['id']),
                        c['id'], c['state'], now - c['stale_since']))
        if stale:
            checks[HEALTH_STALE] = {
                'severity': 'warning',
                'summary': '%d stale standalone-child registration(s) older than %ds' % (
                    len(stale), age),
                'count': len(stale), 'detail': stale}
        if orphans:
            checks[HEALTH_ORPHAN] = {
                'severity': 'warning',
                'summary': '%d standalone child(ren) whose parent is missing' % len(orphans),
                'count': len(orphans),
                'detail': ['%s (id %s): parent id %s in pool %s is gone' % (
                    image_spec(o['pool'], o['namespace'], o['image'] or o['id']), o['id'],
                    o['parent_id'], o['parent_pool_id']) for o in orphans]}
        if overlay.get('checked') and overlay.get('missing'):
            checks[HEALTH_OVERLAY] = {
                'severity': 'warning',
                'summary': '%d OSD(s) do not run the cls_rbd standalone overlay while '
                           'standalone parents exist' % len(overlay['missing']),
                'count': len(overlay['missing']),
                'detail': ['osd.%d has no standalone overlay' % o for o in overlay['missing']]}
        if checks != self.health:
            self.health = checks
            self.set_health_checks(checks)

    # --------------------------------------------------------- flatten queue

    def enqueue(self, c, cpool_id, parent, parent_name, frac, threshold, source):
        key = (cpool_id, c['pool_namespace'], c['id'])
        with self.lock:
            if key in self.tasks:
                return
            self.sequence += 1
            t = FlattenTask(sequence=self.sequence, id=str(uuid.uuid4()), pool=c['pool'],
                            namespace=c['pool_namespace'], image=c['image'], image_id=c['id'],
                            parent_pool=parent['pool'], parent_namespace=parent['ns'],
                            parent_image=parent_name, parent_id=parent['id'],
                            reason='copied %.1f%% >= threshold %.1f%% (%s)' % (
                                frac * 100, threshold * 100, source))
            self.tasks[key] = t
        try:
            with self.ioctx(cpool_id) as io:
                state.put(io, t.key, t.to_dict())
        except rados.Error as e:
            self.log.error('cannot persist flatten task for %s: %s', t.spec, e)
        self.log.info('queued auto-flatten of %s: %s', t.spec, t.reason)
        self.post_progress(t, 0.0)
        self.dispatch_wake.set()

    def post_progress(self, t, fraction):
        try:
            self.remote('progress', 'update', t.event_id,
                        'Auto-flattening standalone child %s' % t.spec, fraction,
                        refs=['rbd_standalone', t.spec])
            t.progress_posted = True
        except (ImportError, RuntimeError, NameError):
            pass

    def end_progress(self, t, error=None):
        try:
            if error:
                self.remote('progress', 'fail', t.event_id, error)
            else:
                self.remote('progress', 'complete', t.event_id)
        except (ImportError, RuntimeError, NameError):
            pass

    def dispatch_loop(self):
        while not self.stop_event.is_set():
            try:
                now = time.time()
                limit = int(self.opt('max_concurrent_flattens'))
                with self.lock:
                    self.workers = [w for w in self.workers if w.is_alive()]
                    running = sum(1 for t in self.tasks.values() if t.running)
                    due = sorted((t for t in self.tasks.values()
                                  if not t.running and t.retry_at <= now),
                                 key=lambda t: t.sequence)
                    for t in due[:max(0, limit - running)]:
                        t.running = True
                        t.progress = 0.0
                        w = threading.Thread(target=self.run_task, args=(t,),
                                             name='rbd_standalone flatten %s' % t.image_id)
                        self.workers.append(w)
                        w.start()
            except Exception as e:
                self.log.error('flatten dispatcher: %s\n%s', e, traceback.format_exc())
            self.dispatch_wake.wait(1.0)
            self.dispatch_wake.clear()

    def run_task(self, t):
        last_post = [0.0]

        def on_progress(current, total):
            if self.stop_event.is_set():
                return -errno.ECANCELED
            t.progress = float(current) / float(total) if total else 1.0
            if time.time() - last_post[0] >= 1.0:
                last_post[0] = time.time()
                self.post_progress(t, t.progress)
            return 0

        outcome, error = 'done', None
        self.log.info('flattening %s (attempt %d)', t.spec, t.attempts + 1)
        self.post_progress(t, 0.0)
        try:
            with self.ioctx(t.pool, t.namespace) as io:
                try:
                    # Never stock Image.flatten alone: it skips objects the
                    # map says exist, and a copy-up killed part-way (this
                    # module's own, after a mgr kill, or any client's) leaves
                    # EXISTS on a missing object, which would then read as
                    # zeros once the parent is detached (safe_flatten.py).
                    safe_flatten.flatten(io, t.image_id, expected_parent_id=t.parent_id,
                                         on_progress=on_progress)
                except rbd.ImageNotFound:
                    pass  # the child is gone: nothing to flatten
            self.complete_detach(t)
        except rbd.OperationCanceled:
            outcome = 'interrupted'
        except (rados.ConnectionShutdown, rbd.ConnectionShutdown) as e:
            outcome, error = 'interrupted', str(e)
        except Exception as e:
            outcome, error = 'retry', str(e)
        if self.stop_event.is_set() and outcome != 'done':
            outcome = 'interrupted'
        with self.lock:
            t.running = False
            if outcome == 'done':
                self.tasks.pop(self.task_key_of(t), None)
            elif outcome == 'retry':
                t.attempts += 1
                delay = min(float(self.opt('flatten_retry_interval')) * 2 ** (t.attempts - 1),
                            float(self.opt('flatten_retry_max_interval')))
                t.retry_at = time.time() + delay
                t.last_error = error
        try:
            with self.ioctx(t.pool) as io:
                if outcome == 'done':
                    state.remove(io, t.key)
                elif outcome == 'retry':
                    state.put(io, t.key, t.to_dict())
        except rados.Error as e:
            self.log.warning('cannot update task %s: %s', t.key, e)
        if outcome == 'done':
            self.log.info('flattened %s; detach completed', t.spec)
            self.end_progress(t)
            with self.lock:
                self.completed = (self.completed + [{'image': t.spec, 'time': time.time()}])[-20:]
            self.wake.set()
        elif outcome == 'retry':
            self.log.warning('flatten of %s failed (attempt %d, retry in %.0fs): %s',
                             t.spec, t.attempts, t.retry_at - time.time(), error)
            self.post_progress(t, 0.0)
        self.dispatch_wake.set()

    def task_key_of(self, t):
        for k, v in self.tasks.items():
            if v is t:
                return k
        return None

    def complete_detach(self, t):
        """Lists the parent's children: the binding drops the entry of the
        child just flattened and lifts the fence with the last one."""
        if self.binding_error:
            return
        try:
            with self.ioctx(t.parent_pool, t.parent_namespace) as pio:
                rbd.RBD().list_children_standalone(pio, t.parent_image, snapshots=False)
        except rbd.ImageNotFound:
            pass

    # -------------------------------------------------------------- serve

    def serve(self):
        try:
            binding.load()
        except Exception as e:
            self.binding_error = str(e)
            self.log.error('rbd_standalone binding unavailable: %s', e)
        while not self.stop_event.is_set():
            try:
                self.rados.wait_for_latest_osdmap()
                self.load_state()
                break
            except Exception as e:
                self.log.error('loading state: %s', e)
                self.reset_rados()
                self.stop_event.wait(5)
        dispatcher = threading.Thread(target=self.dispatch_loop, name='rbd_standalone dispatch')
        dispatcher.start()
        self.ready = True
        while not self.stop_event.is_set():
            t0 = time.time()
            with self.lock:
                self.ticking = True
            try:
                self.tick()
            except (rados.ConnectionShutdown, rbd.ConnectionShutdown):
                self.reset_rados()
            except Exception as e:
                self.log.error('tick: %s\n%s', e, traceback.format_exc())
            with self.lock:
                self.ticking = False
                self.ticks_done += 1
                self.tick_cond.notify_all()
            interval = float(self.opt('scan_interval'))
            self.wake.wait(max(0.2, interval - (time.time() - t0)))
            self.wake.clear()
        self.dispatch_wake.set()
        dispatcher.join()
        for w in list(self.workers):
            w.join()

    def shutdown(self):
        self.log.info('rbd_standalone: shutting down')
        self.stop_event.set()
        self.wake.set()
        self.dispatch_wake.set()
        super(Module, self).shutdown()

    # ------------------------------------------------------------ commands

    def handle_command(self, inbuf, cmd):
        if not self.ready:
            return -errno.EAGAIN, '', 'rbd_standalone module is not ready, try again'
        prefix = cmd['prefix']
        fmt = cmd.get('format')
        try:
            if prefix == 'rbd standalone status':
                return self.cmd_status(cmd.get('pool_spec'), fmt)
            if prefix == 'rbd standalone scan':
                return self.cmd_scan()
            if prefix.startswith('rbd standalone flatten-threshold '):
                return self.cmd_threshold(prefix.split()[-1], cmd['scope'],
                                          cmd.get('value'), fmt)
        except ValueError as e:
            return -errno.EINVAL, '', str(e)
        except rbd.ImageNotFound as e:
            return -errno.ENOENT, '', str(e)
        except rados.ObjectNotFound as e:
            return -errno.ENOENT, '', str(e)
        except (rados.Error, rbd.Error) as e:
            return -getattr(e, 'errno', errno.EIO) or -errno.EIO, '', str(e)
        return -errno.EINVAL, '', 'unknown command %s' % prefix

    def cmd_scan(self):
        with self.lock:
            want = self.ticks_done + (2 if self.ticking else 1)
            self.wake.set()
            deadline = time.time() + 300
            while self.ticks_done < want and time.time() < deadline:
                self.tick_cond.wait(1.0)
            report = self.report
        return 0, '', 'scan done in %.3fs: %d parent(s)' % (
            report['duration'] or 0, len(report['parents']))

    def status_dict(self, pool_spec):
        with self.lock:
            report = json.loads(json.dumps(self.report))
            tasks = [t.status() for t in sorted(self.tasks.values(), key=lambda t: t.sequence)]
            orphans = [dict(o) for o in self.orphans.values()]
            overlay = dict(self.overlay)
            completed = list(self.completed)
        parents = report['parents']
        if pool_spec:
            pool, _, ns = pool_spec.partition('/')
            parents = [p for p in parents if (p['pool'] == pool and (not ns or p['namespace'] == ns))
                       or any(c['pool'] == pool and (not ns or c['namespace'] == ns)
                              for c in p['children'])]
            tasks = [t for t in tasks if t['pool'] == pool or t['parent_pool'] == pool]
            orphans = [o for o in orphans if o['pool'] == pool]
        parents = [p for p in parents if not p.get('dropped')]
        pending, stale = [], []
        for p in parents:
            for c in p['children']:
                c['parent'] = image_spec(p['pool'], p['namespace'], p['image'])
                if c['state'] in ('detaching', 'unverified'):
                    pending.append(c)
                if 'stale_since' in c:
                    stale.append(c)
        return {'parents': parents, 'pending_detaches': pending,
                'stale_registrations': stale, 'orphans': orphans, 'flatten_queue': tasks,
                'recently_flattened': completed, 'overlay': overlay,
                'discovery': self.discovery.status(),
                'last_scan': {'time': report['time'], 'duration': report['duration']},
                'health': sorted(self.health)}

    def cmd_status(self, pool_spec, fmt):
        d = self.status_dict(pool_spec)
        if fmt in ('json', 'json-pretty'):
            return 0, json.dumps(d, indent=4 if fmt == 'json-pretty' else None,
                                 sort_keys=True), ''
        lines = []
        for p in d['parents']:
            lines.append('parent %s (id %s)%s: %d child(ren)%s' % (
                image_spec(p['pool'], p['namespace'], p['image']), p['id'],
                ' fenced' if p.get('fenced') else '', len(p['children']),
                ' ERROR: ' + p['error'] if p.get('error') else ''))
            for c in p['children']:
                frac = '-' if c.get('copied_fraction') is None else \
                    '%.1f%%' % (c['copied_fraction'] * 100)
                thr = '-' if not c.get('threshold') else '%s%% (%s)' % (
                    formats.format_threshold(c['threshold'] * 100), c['threshold_source'])
                lines.append('  child %-32s %-11s copied %-7s threshold %-14s flatten %s' % (
                    image_spec(c['pool'], c['namespace'], c['image'] or c['id']), c['state'],
                    frac, thr, c.get('flatten') or '-'))
        if not d['parents']:
            lines.append('no standalone parents found')
        lines.append('pending detaches: %d' % len(d['pending_detaches']))
        for c in d['pending_detaches']:
            lines.append('  %s -> %s (%s)' % (c['parent'], image_spec(
                c['pool'], c['namespace'], c['image'] or c['id']), c['state']))
        lines.append('stale registrations: %d' % len(d['stale_registrations']))
        for c in d['stale_registrations']:
            lines.append('  %s -> %s (id %s, %s, seen for %ds)' % (
                c['parent'], image_spec(c['pool'], c['namespace'], c['image'] or c['id']),
                c['id'], c['state'], time.time() - c['stale_since']))
        lines.append('children with a missing parent: %d' % len(d['orphans']))
        for o in d['orphans']:
            lines.append('  %s (parent id %s)' % (
                image_spec(o['pool'], o['namespace'], o['image'] or o['id']), o['parent_id']))
        lines.append('flatten queue: %d' % len(d['flatten_queue']))
        for t in d['flatten_queue']:
            extra = ''
            if t['state'] == 'running':
                extra = ' %.0f%%' % (t.get('progress', 0) * 100)
            elif t['state'] == 'waiting_retry':
                extra = ' retry in %.0fs after %d attempt(s): %s' % (
                    t['retry_in'], t['attempts'], t['last_error'])
            lines.append('  %s %s%s (%s)' % (image_spec(t['pool'], t['namespace'], t['image']),
                                             t['state'], extra, t['reason']))
        ov = d['overlay']
        if ov.get('checked'):
            lines.append('overlay: %d OSD(s), missing on: %s' % (
                len(ov['versions']), ', '.join('osd.%d' % o for o in ov['missing']) or 'none'))
        else:
            lines.append('overlay: not checked (%s)' % ov.get('reason'))
        disc = d['discovery']
        lines.append('discovery: %d sweep(s) completed, %d image(s) read in the current one' % (
            disc['sweeps_completed'], disc['current_sweep_images_read']))
        if d['last_scan']['time']:
            lines.append('last scan: %.1fs ago, took %.3fs' % (
                time.time() - d['last_scan']['time'], d['last_scan']['duration']))
        return 0, '\n'.join(lines) + '\n', ''

    # ---------------------------------------------------------- thresholds

    def image_header(self, pool, ns, name):
        io = self.ioctx(pool, ns)
        try:
            with rbd.Image(io, name, read_only=True) as image:
                return io, scanner.header_oid(image.id())
        except Exception:
            io.close()
            raise

    def metadata_object(self, kind, pool, ns, image):
        """(ioctx, oid) holding a pool's or an image's metadata: the pool's
        rbd_info (default namespace, as the library keeps it) or the image's
        header."""
        if kind == 'pool':
            return self.ioctx(pool), formats.POOL_METADATA_OID
        return self.image_header(pool, ns, image)

    def cmd_threshold(self, action, scope, value, fmt):
        kind, pool, ns, image = parse_scope(scope)
        key = formats.THRESHOLD_META_KEY
        if action == 'set':
            if value is None:
                raise ValueError('missing value')
            v = formats.parse_threshold(value)
            text = formats.format_threshold(v)
            if kind == 'global':
                self.set_module_option(THRESHOLD_OPTION, text)
            else:
                io, oid = self.metadata_object(kind, pool, ns, image)
                with io:
                    io.execute(oid, 'rbd', 'metadata_set', formats.encode_metadata_set({key: text}))
            self.wake.set()
            return 0, '', '%s = %s at %s' % (THRESHOLD_OPTION, text, scope)
        if action == 'rm':
            if kind == 'global':
                self.set_module_option(THRESHOLD_OPTION, None)
            else:
                io, oid = self.metadata_object(kind, pool, ns, image)
                with io:
                    try:
                        io.execute(oid, 'rbd', 'metadata_remove',
                                   formats.encode_metadata_remove(key))
                    except rados.ObjectNotFound:
                        pass
            return 0, '', 'removed %s at %s' % (THRESHOLD_OPTION, scope)
        if action == 'get':
            here = None
            result = {'scope': scope}
            if kind == 'global':
                here = float(self.opt(THRESHOLD_OPTION) or 0.0)
                result.update(value=here, source='global')
            else:
                io, oid = self.metadata_object(kind, pool, ns, image)
                with io:
                    with rados.ReadOpCtx() as op:
                        it, _ = io.get_omap_vals_by_keys(op, [formats.THRESHOLD_OMAP_KEY])
                        try:
                            io.operate_read_op(op, oid)
                            for _, v in it:
                                here = formats.parse_threshold(v.decode('utf-8', 'replace'))
                        except rados.ObjectNotFound:
                            pass
                    result['value'] = here
                    if kind == 'image':
                        if here is not None:
                            eff = (here, 'image')
                        else:
                            eff = self.pool_threshold(io.get_pool_id())
                        result.update(effective=eff[0], effective_source=eff[1])
            if fmt in ('json', 'json-pretty'):
                return 0, json.dumps(result, sort_keys=True), ''
            text = 'not set' if result.get('value') is None else \
                formats.format_threshold(result['value'])
            if 'effective' in result:
                text += ' (in effect: %s from %s)' % (
                    formats.format_threshold(result['effective']), result['effective_source'])
            return 0, text + '\n', ''
        raise ValueError('unknown action %s' % action)
