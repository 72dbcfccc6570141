#!/usr/bin/python3
"""Clone one parent many times at once while its other children go away.

One parent P (a pattern distinct per 4 KiB block of every object, two
holes, a half-written last object) in a pool of its own goes through:

  1 clone   N clones at once: half `rbd clone-standalone` processes of the
            project's CLI, half threads of this process calling
            rbd_standalone's clone_standalone.  All must succeed; then the
            registry holds exactly these N children, all ATTACHED, and the
            fence is up.
  2 race    (per round) M more clones while existing children are removed
            (stock `/usr/bin/rbd rm`, project `rbd rm`) and flattened (stock
            and project `flatten`) and `rbd children --prune P` loops; some
            children are left alone, so the count never reaches 0.  Every
            existing child first writes its markers (a new one right after
            its clone).  Then, after the project's `rbd children P` (which
            completes the detaches the stock tools left): the registry (ids,
            ATTACHED, count, children_list(CEPH_NOSNAP)), `rbd children` and
            the Python API (names), the images that really link to P, and
            this script's book are one and the same set; flattened children
            are unlinked and report no parent; removed ones are gone (id
            object, header, directory and trash entry); the fence is up.
  2 drain   the last round (with --rounds >= 2): every existing child is
            removed or flattened, and the new clones start while the last of
            these runs, so the fence may be lowered at 0 and raised again.
  3 data    (after each round) every child left, linked or flattened, reads
            P's pattern except where it wrote, and its own bytes there; P
            still reads its pattern.
  4 remove  every linked child removed at once (stock and project rm) while
            the project's `rbd children P` loops.  Then 0 entries and the
            whole fence down.
  5 parent  P's data never changed (sha256 as written and now); stock python
            rbd writes it; the project's `rbd rm P` removes it; the flattened
            children still read their data without it, and go.

Two threads, each with its own librados client, sample P the whole time:

  fence poll    the fence status (one OSD read, which also says whether the
                registry has entries), then the count.  The fence must be
                whole (non-primary, marker, fence lock) when there are
                entries and wholly down when there are none, never partly
                up.  In stage 4, once down it must stay down, and a count
                read after a fence-down status must be 0.
  link monitor  every image's link to P, then the fence and the registry,
                then the links again.  A child never links again once
                unlinked, so one linked at both reads was linked in between:
                it must be registered, with the fence up.  In stage 4 no
                clone runs, so a child linked at the second read was linked
                at the fence read: the fence must have been up, and with
                the fence down the registry must be empty.

A failure of a racing operation is allowed only for a documented reason
(printed; the state must still be exact, the child kept and removed
later): rm (stock or project) exiting 16 (EBUSY) "image has watchers"
(stock rm refuses an image another client has open).  Any other failure,
an operation still running after --op-timeout (a hang), a wrong count or
set, a partly raised, missing or early lowered fence, or wrong data is a
violation.

Prints a table of stages (operations started/ok/failed by errno or exit
code, peak concurrency, registry count expected/seen, fence, samples, data
checks, elapsed), the operations per kind, and "N passed, M failed"; exits
1 on any violation.  --inject KIND breaks one thing on purpose, to see the
checks fail: registry (drops an entry), data (a child's object), parent (a
parent's object), fence (breaks the fence lock), lift (empties the registry
through the class, lowering the fence, before stage 4).

Needs CEPH_CONF (a cluster with the overlay), PYTHONPATH with
rbd_standalone, and the project's rbd (--rbd or PROJECT_RBD):

  qa/workunits/rbd/with_cluster.sh src/vstart.sh build/lib/rados-classes PORT \\
      /usr/bin/python3 qa/workunits/rbd/clone_concurrency.py --quick
  ... clone_concurrency.py --clones 32 --rounds 3      (the full run)

Run with /usr/bin/python3.
"""

import argparse
import collections
import errno
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time

import rados
import rbd

from rbd_wire import NOSNAP, child_spec, parent_spec

try:
    import rbd_standalone  # noqa: F401  (adds clone_standalone & co to rbd.RBD)
except ImportError as e:
    sys.exit('FAIL: cannot import rbd_standalone (%s): set PYTHONPATH to build/lib/python' % e)

STOCK_RBD = '/usr/bin/rbd'
ORDER = 18                      # 256 KiB objects: copy-ups stay cheap
OBJ = 1 << ORDER
OBJECTS = 16
SIZE = OBJ * OBJECTS
BLOCK = 4096
HOLES = (5, 11)                 # never written in P: children read zeros there
HALF = OBJECTS - 1              # only its first half written
FEATURES = (rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK |
            rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF |
            rbd.RBD_FEATURE_DEEP_FLATTEN)
MARKERS_PER_ROUND = 3
PAGE = 16                       # registry page: larger registries span pages
ATTACHED = 0                    # entry state (DETACHING is 1)
LINK_HEAD, LINK_SNAPSHOTS = 1, 2
PARENT = 'cc-parent'
INJECTIONS = ('registry', 'data', 'fence', 'parent', 'lift')


def log(msg=''):
    print(msg, flush=True)


# ---------------------------------------------------------------- encoding --

class Reader:
    def __init__(self, data):
        self.b = bytes(data)
        self.off = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.off)[0]
        self.off += struct.calcsize(fmt)
        return v

    def str(self):
        n = self.take('<I')
        s = self.b[self.off:self.off + n].decode()
        self.off += n
        return s

    def envelope(self):
        v, compat, n = struct.unpack_from('<BBI', self.b, self.off)
        self.off += 6
        return v, self.off + n


def header(image_id):
    return 'rbd_header.' + image_id


def code_name(code):
    """An exit code or errno as 'EBUSY/16' (or 'hang', 'signal 9')."""
    if isinstance(code, str):
        return code
    if code < 0:
        return 'signal %d' % -code
    return '%s/%d' % (errno.errorcode.get(code, 'rc'), code)


# ------------------------------------------------------------- the parent --

def parent_pattern():
    """P's bytes: a digest of (object, block) repeated over each block."""
    out = bytearray(SIZE)
    for obj in range(OBJECTS):
        if obj in HOLES:
            continue
        blocks = OBJ // BLOCK // (2 if obj == HALF else 1)
        for blk in range(blocks):
            d = hashlib.sha256(b'parent %d %d' % (obj, blk)).digest()
            off = obj * OBJ + blk * BLOCK
            out[off:off + BLOCK] = d * (BLOCK // len(d))
    return bytes(out)


def describe_offset(off):
    obj, rest = divmod(off, OBJ)
    kind = 'hole' if obj in HOLES else 'half-written' if obj == HALF else 'data'
    return 'object %d (%s) +%d' % (obj, kind, rest)


# ------------------------------------------------------------ bookkeeping --

class Child:
    def __init__(self, name, how):
        self.name = name
        self.how = how          # cli or api (how it was cloned)
        self.id = None
        self.fate = 'cloning'   # linked, flattened, removed, never (clone failed)
        self.markers = []       # (offset, bytes) in the order written


class Stage:
    """One row of the table."""

    def __init__(self, name):
        self.name = name
        self.t0 = time.time()
        self.t1 = None
        self.started = collections.Counter()
        self.ok = collections.Counter()
        self.failed = collections.Counter()     # (kind, code) -> n
        self.spans = []                         # (start, end, kind)
        self.documented = []
        self.lock = threading.Lock()
        self.registry = '-'
        self.fence = '-'
        self.data = [0, 0]      # ok, checked

    def record(self, kind, code, t_start):
        with self.lock:
            self.spans.append((t_start, time.time(), kind))
            self.started[kind] += 1
            if code == 0:
                self.ok[kind] += 1
            else:
                self.failed[(kind, code)] += 1

    def peak(self, prefix=''):
        """The most operations (of kinds starting with prefix) in flight at once."""
        events = sorted([(a, 1) for a, _, k in self.spans if k.startswith(prefix)] +
                        [(b, -1) for _, b, k in self.spans if k.startswith(prefix)])
        now = best = 0
        for _, d in events:
            now += d
            best = max(best, now)
        return best

    def failed_text(self):
        by = collections.Counter()
        for (kind, code), n in self.failed.items():
            by[code_name(code)] += n
        return ','.join('%s:%d' % kv for kv in sorted(by.items())) or '-'


class Run:
    def __init__(self, args, conf):
        self.args = args
        self.conf = conf
        self.pool = args.pool
        self.rbd_cli = args.rbd
        self.rng = random.Random(args.seed)
        self.passed = 0
        self.violations = collections.Counter()
        self.vlock = threading.Lock()
        self.stages = []
        self.children = []
        self.book = threading.Lock()
        self.pattern = parent_pattern()
        self.pattern_sha = hashlib.sha256(self.pattern).hexdigest()
        self.cluster = rados.Rados(conffile=conf)
        self.cluster.connect()
        self.io = self.cluster.open_ioctx(self.pool)
        self.pool_id = self.cluster.pool_lookup(self.pool)
        self.rbd = rbd.RBD()
        self.next_child = 0
        self.parent_id = None
        self.pspec = None
        self.monitors = []
        self.poller = self.link_monitor = None
        self.injected = None
        self.t_start = time.time()

    # --------------------------------------------------------- checking --

    def check(self, stage, ok, what):
        if ok:
            self.passed += 1
        else:
            self.violate(stage, what)
        return ok

    def violate(self, stage, what):
        msg = '%s: %s' % (stage.name if stage else '-', what)
        with self.vlock:
            self.violations[msg] += 1
            if self.violations[msg] > 1:
                return  # the monitor sees a lasting fault in sample after sample
        log('VIOLATION: %s' % msg)

    def spec(self, name):
        return '%s/%s' % (self.pool, name)

    def run_cmd(self, argv):
        """(exit code or 'hang', stdout, stderr)."""
        try:
            p = subprocess.run(argv, capture_output=True, text=True,
                               timeout=self.args.op_timeout)
        except subprocess.TimeoutExpired:
            return 'hang', '', 'still running after %d s (killed)' % self.args.op_timeout
        except OSError as e:
            return 'exec ' + errno.errorcode.get(e.errno, '?'), '', str(e)
        return p.returncode, p.stdout, p.stderr

    # ------------------------------------------------ cluster state reads --

    def image_id(self, name):
        try:
            return self.io.read('rbd_id.' + name)[4:].decode()
        except rados.ObjectNotFound:
            return None

    def exists(self, oid):
        try:
            self.io.stat(oid)
            return True
        except rados.ObjectNotFound:
            return False

    def call(self, io, oid, method, data=b'', length=1 << 20):
        return io.execute(oid, 'rbd', method, data, length=length)[1]

    def registry(self, io=None):
        """P's entries as [(pool_id, ns, id, state)], read a page at a time."""
        io = io or self.io
        out = []
        after = child_spec(-1, '')
        while True:
            data = self.call(io, header(self.parent_id), 'standalone_children_list',
                             after + struct.pack('<Q', PAGE))
            r = Reader(data)
            n = r.take('<I')
            for _ in range(n):
                v, end = r.envelope()
                pool, iid = r.take('<q'), r.str()
                ns = r.str() if v >= 2 else ''
                state = r.take('<B') if v >= 3 else ATTACHED
                r.off = end
                out.append((pool, ns, iid, state))
            more = r.take('<B')
            if n == 0 or not more:
                return out
            after = child_spec(out[-1][0], out[-1][2], out[-1][1])

    def count(self, io=None):
        data = self.call(io or self.io, header(self.parent_id), 'standalone_children_count')
        return struct.unpack('<Q', data)[0]

    def children_list_nosnap(self):
        """The stock-named view of the registry: children_list(CEPH_NOSNAP)."""
        try:
            data = self.call(self.io, header(self.parent_id), 'children_list',
                             struct.pack('<Q', NOSNAP))
        except rados.ObjectNotFound:
            return []  # stock's answer once P is no standalone parent
        r = Reader(data)
        ids = []
        for _ in range(r.take('<I')):
            _, end = r.envelope()
            r.take('<q')
            ids.append(r.str())
            r.off = end
        return ids

    def fence(self, io=None):
        """(marker, non_primary, lock, has_children) in one OSD read."""
        data = self.call(io or self.io, header(self.parent_id), 'standalone_fence_status')
        r = Reader(data)
        r.envelope()
        marker, non_primary, lock = r.take('<B'), r.take('<B'), r.take('<B')
        r.str()
        return marker, non_primary, lock, r.take('<B')

    @staticmethod
    def fence_word(f):
        marker, non_primary, lock, has = f
        if marker and non_primary and lock == 1:
            return 'up'
        if not marker and not non_primary and lock == 0:
            return 'down'
        return 'PARTIAL(marker=%d,non-primary=%d,lock=%d)' % (marker, non_primary, lock)

    def links(self, ids, io=None):
        """(the ids that read through P, Counter of read errors), all
        read at once."""
        io = io or self.io
        ids = list(ids)
        replies = {}

        def done(i):
            return lambda comp, data: replies.__setitem__(i, (comp.get_return_value(), data))

        comps = [io.aio_execute(header(i), 'rbd', 'standalone_link_state', self.pspec, 16,
                                oncomplete=done(i)) for i in ids]
        for comp in comps:
            comp.wait_for_complete_and_cb()
        linked, errors = set(), collections.Counter()
        for i, (ret, data) in replies.items():
            if ret >= 1 and data[0] in (LINK_HEAD, LINK_SNAPSHOTS):
                linked.add(i)
            elif ret == 0:
                errors['link_state: empty reply'] += 1
            elif ret < 0 and ret != -errno.ENOENT:
                errors['link_state: %s' % code_name(-ret)] += 1
        return linked, errors

    def linked(self, image_id, io=None):
        """Whether the image reads through P (HEAD or its snapshots)."""
        try:
            state = self.call(io or self.io, header(image_id), 'standalone_link_state',
                              self.pspec, length=16)
        except rados.ObjectNotFound:
            return False
        return state[0] in (LINK_HEAD, LINK_SNAPSHOTS)

    def all_images(self, io=None):
        """{id: name} of every image in the pool, the trash included."""
        io = io or self.io
        out = {x['id']: x['name'] for x in self.rbd.list2(io)}
        for t in self.rbd.trash_list(io):
            out.setdefault(t['id'], 'trash:' + t['name'])
        return out

    def read_image(self, name):
        with rbd.Image(self.io, name, read_only=True) as img:
            return img.read(0, SIZE)

    # ------------------------------------------------------- operations --

    def new_child(self, how):
        with self.book:
            self.next_child += 1
            c = Child('cc-c%03d' % self.next_child, how)
            self.children.append(c)
        return c

    def clone(self, stage, c, api_io):
        t = time.time()
        if c.how == 'cli':
            code, _, err = self.run_cmd([self.rbd_cli, 'clone-standalone',
                                         self.spec(PARENT), self.spec(c.name)])
        else:
            code, err = 0, ''
            try:
                self.rbd.clone_standalone(api_io, PARENT, api_io, c.name)
            except rbd.Error as e:
                code, err = e.errno or 'error', str(e)
        stage.record('clone/%s' % c.how, code, t)
        if code != 0:
            c.fate = 'never'
            self.violate(stage, 'clone %s (%s) failed %s: %s' % (
                c.name, c.how, code_name(code), err.strip()[-300:]))
            return False
        c.id = self.image_id(c.name)
        c.fate = 'linked'
        return True

    def write_markers(self, stage, c, rnd, api_io):
        """Writes this child's markers of round rnd: one into a hole of P,
        the others into data objects, each unaligned within one object."""
        rng = random.Random('%s %s %d' % (self.args.seed, c.name, rnd))
        objs = [rng.choice(HOLES)] + rng.sample(
            [o for o in range(OBJECTS) if o not in HOLES], MARKERS_PER_ROUND - 1)
        todo = []
        for j, obj in enumerate(objs):
            payload = ('<%s round %d marker %d>' % (c.name, rnd, j)).encode()
            payload = (payload * (3000 // len(payload) + 1))[:2900 + 37 * j]
            off = obj * OBJ + rng.randrange(0, OBJ - len(payload))
            todo.append((off, payload))
        code, err, t = 0, '', time.time()
        try:
            with rbd.Image(api_io, c.name) as img:
                for off, payload in todo:
                    img.write(payload, off)
                    c.markers.append((off, payload))
        except rbd.Error as e:
            code, err = e.errno or 'error', str(e)
        stage.record('write', code, t)
        if code != 0:
            # A violation; the child's operation still runs (the book knows
            # which markers landed).
            self.violate(stage, 'writing the markers of %s failed %s: %s' % (
                c.name, code_name(code), err))

    def remove(self, stage, c, tool):
        argv = [STOCK_RBD if tool == 'stock' else self.rbd_cli, 'rm', '--no-progress',
                self.spec(c.name)]
        t = time.time()
        code, _, err = self.run_cmd(argv)
        stage.record('rm/%s' % tool, code, t)
        if code == 0:
            c.fate = 'removed'
        elif code == errno.EBUSY and 'watchers' in err:
            stage.documented.append('rm/%s %s: EBUSY, image has watchers' % (tool, c.name))
            self.observe_fate(c)
        else:
            self.violate(stage, 'rm/%s %s failed %s: %s' % (tool, c.name, code_name(code),
                                                            err.strip()[-300:]))
            self.observe_fate(c)

    def flatten(self, stage, c, tool):
        argv = [STOCK_RBD if tool == 'stock' else self.rbd_cli, 'flatten', '--no-progress',
                self.spec(c.name)]
        t = time.time()
        code, _, err = self.run_cmd(argv)
        stage.record('flatten/%s' % tool, code, t)
        if code == 0:
            c.fate = 'flattened'
        else:
            self.violate(stage, 'flatten/%s %s failed %s: %s' % (
                tool, c.name, code_name(code), err.strip()[-300:]))
            self.observe_fate(c)

    def observe_fate(self, c):
        # After a failed operation the book follows what the cluster shows,
        # so that later checks stay meaningful.
        if c.id is None or not self.exists(header(c.id)):
            c.fate = 'removed'
        else:
            c.fate = 'linked' if self.linked(c.id) else 'flattened'

    def children_cmd(self, stage, prune):
        argv = [self.rbd_cli, 'children'] + (['--prune'] if prune else []) + \
               ['--format', 'json', self.spec(PARENT)]
        t = time.time()
        code, out, err = self.run_cmd(argv)
        kind = 'children --prune' if prune else 'children'
        stage.record(kind, code, t)
        if code != 0:
            self.violate(stage, '%s failed %s: %s' % (kind, code_name(code), err.strip()[-300:]))
            return None
        return json.loads(out)

    def run_concurrently(self, stage, pipelines, loop=None):
        """Starts every pipeline (a list of steps, run in order; a step
        returning False ends its pipeline) in its own thread at one go, and
        `loop` over and over until they are all done."""
        go = threading.Event()
        done = threading.Event()

        def pipeline(steps):
            go.wait()
            try:
                for step in steps:
                    if step() is False:
                        return
            except Exception as e:  # a bug here or an unexpected reply: fail, go on
                self.violate(stage, 'operation raised %s: %s' % (type(e).__name__, e))

        def looping():
            go.wait()
            while not done.is_set():
                loop()

        threads = [threading.Thread(target=pipeline, args=(p,), daemon=True) for p in pipelines]
        looper = threading.Thread(target=looping, daemon=True) if loop else None
        for t in threads + ([looper] if looper else []):
            t.start()
        go.set()
        deadline = time.time() + self.args.op_timeout * 3
        for t in threads:
            t.join(max(0.0, deadline - time.time()))
        done.set()
        if looper:
            looper.join(max(1.0, deadline - time.time()))
        stuck = sum(t.is_alive() for t in threads + ([looper] if looper else []))
        if stuck:
            self.violate(stage, '%d operation(s) still running after %d s: hang' % (
                stuck, self.args.op_timeout * 3))
            self.finish()
            os._exit(1)  # the hung threads cannot be joined

    # ----------------------------------------------------------- checks --

    def expected(self, c):
        data = bytearray(self.pattern)
        for off, payload in c.markers:
            data[off:off + len(payload)] = payload
        return bytes(data)

    def check_parent_data(self, stage):
        got = self.read_image(PARENT)
        sha = hashlib.sha256(got).hexdigest()
        return self.check(stage, sha == self.pattern_sha,
                          'parent data changed: sha256 %s, was %s%s' % (
                              sha[:16], self.pattern_sha[:16], self.first_diff(self.pattern, got)))

    @staticmethod
    def first_diff(want, got):
        if len(want) != len(got):
            return ' (length %d, expected %d)' % (len(got), len(want))
        for off in range(0, len(want), BLOCK):
            if want[off:off + BLOCK] != got[off:off + BLOCK]:
                i = next(k for k in range(BLOCK) if want[off + k] != got[off + k])
                return ' (first difference at %s: expected %r, got %r)' % (
                    describe_offset(off + i), want[off + i:off + i + 12],
                    got[off + i:off + i + 12])
        return ''

    def check_data(self, stage, which):
        """Full content of each child in `which` (and the parent's)."""
        for c in which:
            try:
                got = self.read_image(c.name)
            except rbd.Error as e:
                got = None
                err = str(e)
            stage.data[1] += 1
            want = self.expected(c)
            if got == want:
                stage.data[0] += 1
                self.passed += 1
            else:
                self.violate(stage, '%s (%s, %d markers) reads wrong data%s' % (
                    c.name, c.fate, len(c.markers),
                    ': %s' % err if got is None else self.first_diff(want, got)))
        stage.data[1] += 1
        if self.check_parent_data(stage):
            stage.data[0] += 1

    def check_state(self, stage):
        """After `rbd children P`: registry == linked == the book, exactly."""
        listed = self.children_cmd(stage, False)
        want = {c.id: c for c in self.children if c.fate == 'linked'}
        want_names = sorted(c.name for c in want.values())
        reg = self.registry()
        reg_ids = [iid for _, _, iid, _ in reg]
        n = self.count()
        stage.registry = '%d/%d' % (len(want), n)
        self.check(stage, n == len(want), 'standalone_children_count %d, expected %d' % (
            n, len(want)))
        self.check(stage, sorted(reg_ids) == sorted(want),
                   'registry ids differ: missing %s, extra %s' % (
                       sorted(set(want) - set(reg_ids)), sorted(set(reg_ids) - set(want))))
        self.check(stage, len(reg_ids) == len(set(reg_ids)), 'registry lists an id twice')
        self.check(stage, all(s == ATTACHED for _, _, _, s in reg),
                   'entries not ATTACHED: %s' % [(i, s) for _, _, i, s in reg if s != ATTACHED])
        self.check(stage, all(p == self.pool_id and ns == '' for p, ns, _, _ in reg),
                   'entries with a foreign pool or namespace: %s' % reg)
        self.check(stage, sorted(self.children_list_nosnap()) == sorted(want),
                   'children_list(CEPH_NOSNAP) differs from the expected children')
        if listed is not None:
            names = sorted(x['image'] for x in listed)
            self.check(stage, names == want_names,
                       '`rbd children` lists %s, expected %s' % (names, want_names))
            odd = [x for x in listed if x['state'] != 'ok' or x['parent_type'] != 'standalone']
            self.check(stage, not odd, '`rbd children` entries not ok/standalone: %s' % odd)
        api = sorted(x['image'] for x in self.rbd.list_children_standalone(self.io, PARENT)
                     if x['state'] == 'ok')
        self.check(stage, api == want_names,
                   'list_children_standalone lists %s, expected %s' % (api, want_names))
        images = self.all_images()
        linked, errors = self.links(images)
        self.check(stage, not errors, 'cannot read links: %s' % dict(errors))
        self.check(stage, linked == set(want),
                   'images linked to the parent %s, expected %s' % (
                       sorted(images[i] for i in linked), want_names))
        f = self.fence()
        stage.fence = self.fence_word(f)
        self.check(stage, stage.fence == ('up' if want else 'down'),
                   'fence %s with %d linked children' % (stage.fence, len(want)))
        self.check(stage, bool(f[3]) == bool(want),
                   'fence status has_children=%d with %d children' % (f[3], len(want)))
        trash = {t['id'] for t in self.rbd.trash_list(self.io)}
        for c in self.children:
            if c.fate in ('removed', 'never'):
                left = [what for what, there in (
                    ('id object', self.exists('rbd_id.' + c.name)),
                    ('header', c.id is not None and self.exists(header(c.id))),
                    ('directory entry', c.name in images.values()),
                    ('trash entry', c.id in trash)) if there]
                self.check(stage, not left, '%s %s, but its %s remain(s)' % (
                    c.name, 'removed' if c.fate == 'removed' else 'failed to clone',
                    ', '.join(left)))
            elif c.fate == 'flattened':
                self.check(stage, c.id in images and not self.linked(c.id),
                           'flattened %s is %s' % (c.name, 'gone' if c.id not in images
                                                   else 'still linked'))
                try:
                    info = self.rbd.parent_info_standalone(self.io, c.name)
                    self.violate(stage, 'flattened %s still reports a parent: %s' % (
                        c.name, info))
                except rbd.ImageNotFound:
                    self.passed += 1

    # ---------------------------------------------------------- monitor --

    def set_stage(self, stage, removing=False):
        for m in self.monitors:
            m.stage = stage
            m.removing = removing

    def finish(self):
        """Stops the samplers, prints the table and the verdict; the exit code."""
        for m in self.monitors:
            m.stop()
        print_table(self)
        for msg, n in sorted(self.violations.items()):
            if n > 1:
                log('# repeated: %s (x%d)' % (msg[:200], n))
        log('# %d clones made, %.0f s in all' % (len(self.children), time.time() - self.t_start))
        log('%d passed, %d failed' % (self.passed, len(self.violations)))
        return 1 if self.violations else 0


class Sampler(threading.Thread):
    """A thread sampling P's state over and over with a librados client of
    its own; counts per stage and reports violations."""

    pause = 0.02

    def __init__(self, run):
        super().__init__(daemon=True)
        self.run_ = run
        self.cluster = rados.Rados(conffile=run.conf)
        self.cluster.connect()
        self.io = self.cluster.open_ioctx(run.pool)
        self.stage = None
        self.removing = False
        self.halt = threading.Event()
        self.per_stage = collections.defaultdict(collections.Counter)
        self.errors = collections.Counter()
        self.seen_down = False
        self.lowest_up = {}     # stage -> lowest count read with the fence up

    def stop(self):
        self.halt.set()
        self.join(timeout=60)

    def run(self):
        while not self.halt.is_set():
            stage, removing = self.stage, self.removing
            try:
                bad = self.sample(stage, removing)
            except rados.Error as e:
                bad = ['a read failed: %s %s' % (type(e).__name__, e)]
            for b in bad:
                self.run_.violate(stage, '%s: %s' % (self.label, b))
            self.halt.wait(self.pause)

    def tally(self, stage, word, n, removing):
        """Counts the sample; in stage 4, the fence must never come back
        up once down, and must be down only at 0 entries."""
        name = stage.name if stage else '-'
        counts = self.per_stage[name]
        counts['samples'] += 1
        counts[word if word in ('up', 'down') else 'partial'] += 1
        bad = []
        if word == 'up' and n:
            low = self.lowest_up.get(name)
            self.lowest_up[name] = n if low is None else min(low, n)
        if removing:
            if self.seen_down and (word != 'down' or n):
                bad.append('fence %s with %d entries after it was seen down' % (word, n))
            if word == 'down':
                self.seen_down = True
                counts['down at count %d' % n] += 1
                if n:
                    bad.append('fence down with %d entries' % n)
        return bad


class FencePoller(Sampler):
    """Fast: the fence status (one OSD read, which also says whether the
    registry has entries) and then the count."""

    label = 'fence poll'
    pause = 0.005

    def sample(self, stage, removing):
        r = self.run_
        f = r.fence(self.io)
        n = r.count(self.io)
        word = r.fence_word(f)
        bad = []
        if word not in ('up', 'down'):
            bad.append('fence %s (has_children=%d)' % (word, f[3]))
        elif (word == 'up') != bool(f[3]):
            bad.append('fence %s while has_children=%d' % (word, f[3]))
        return bad + self.tally(stage, word, n, removing)


class LinkMonitor(Sampler):
    """Slow: every child's link, then the fence and the registry, then the
    links again (see the module docstring)."""

    label = 'link monitor'

    def candidates(self):
        r = self.run_
        with r.book:
            ids = {c.id for c in r.children if c.id}
        try:
            ids |= set(r.all_images(self.io))
        except (rados.Error, rbd.Error) as e:
            # Stock listing racing removals: the book's ids still count.
            self.errors['listing the pool: %s' % type(e).__name__] += 1
        ids.discard(r.parent_id)
        return ids

    def links(self, ids):
        linked, errors = self.run_.links(ids, self.io)
        if errors:
            raise rados.Error('reading links: %s' % dict(errors))
        return linked

    def sample(self, stage, removing):
        r = self.run_
        first = self.links(self.candidates())
        f = r.fence(self.io)
        reg = {iid for _, _, iid, _ in r.registry(self.io)}
        n = r.count(self.io)
        # Removing, nothing links anew: whatever links now linked before.
        second = self.links(self.candidates() | first if removing else first)
        word = r.fence_word(f)
        bad = []
        for i in sorted(first & second):
            if i not in reg:
                bad.append('child %s linked throughout but not registered' % i)
            if word != 'up':
                bad.append('child %s linked throughout but the fence is %s' % (i, word))
        if removing:
            for i in sorted(second - first):
                if word != 'up':
                    bad.append('child %s linked after a fence-%s sample' % (i, word))
            if word == 'down' and reg:
                bad.append('fence down with %d registry entries' % len(reg))
        return bad + self.tally(stage, word, n, removing)


# ------------------------------------------------------------------ stages --

def stage_clone(r):
    st = Stage('1 clone')
    r.stages.append(st)
    r.set_stage(st)
    n = r.args.clones
    kids = [r.new_child('cli' if i % 2 == 0 else 'api') for i in range(n)]
    api_io = r.api_io
    r.run_concurrently(st, [[lambda c=c: r.clone(st, c, api_io)] for c in kids])
    if r.args.inject == 'registry':
        # Drop one child's entry behind the class's back.
        victim = next(c for c in kids if c.id)
        key = 'head_child_%016x..%s' % (r.pool_id, victim.id)
        with rados.WriteOpCtx() as op:
            r.io.remove_omap_keys(op, (key,))
            r.io.operate_write_op(op, header(r.parent_id))
        r.injected = 'registry entry of %s removed' % victim.name
    r.check_state(st)
    r.check(st, all(c.fate == 'linked' for c in kids),
            'not every clone of stage 1 succeeded: %s' % [c.name for c in kids
                                                          if c.fate != 'linked'])
    st.t1 = time.time()


def stage_race(r, rnd, drain):
    st = Stage('2 %s r%d' % ('drain' if drain else 'race', rnd))
    r.stages.append(st)
    r.set_stage(st)
    api_io = r.api_io
    existing = sorted((c for c in r.children if c.fate == 'linked'), key=lambda c: c.name)
    r.rng.shuffle(existing)
    # Four kinds of victims.  A race round leaves children untouched, so
    # the count never reaches 0; a drain round takes every existing child,
    # so the fence may be lowered and raised again by the new clones.
    ops = [('rm', 'stock'), ('rm', 'project'), ('flatten', 'stock'), ('flatten', 'project')]
    victims = {}
    if drain:
        for j, c in enumerate(existing):
            victims[c.name] = ops[j % len(ops)]
    elif len(existing) >= 5:
        k = max(1, len(existing) // 8)
        for j, op in enumerate(ops):
            for c in existing[j * k:(j + 1) * k]:
                victims[c.name] = op
    pipelines = []
    pending = [len(victims)]
    cond = threading.Condition()

    def victim_done():
        with cond:
            pending[0] -= 1
            cond.notify_all()

    def last_victim_running(jitter):
        # Draining, the clones start with the last removal or flatten in
        # flight, so that it may lower the fence between their fence read
        # and their registration, or they may raise it again after.
        with cond:
            cond.wait_for(lambda: pending[0] <= 1, timeout=r.args.op_timeout)
        time.sleep(jitter)

    for c in existing:
        steps = [lambda c=c: r.write_markers(st, c, rnd, api_io)]
        if c.name in victims:
            what, tool = victims[c.name]
            fn = r.remove if what == 'rm' else r.flatten
            steps += [lambda c=c, fn=fn, tool=tool: fn(st, c, tool), victim_done]
        pipelines.append(steps)
    for i in range(r.args.more):
        c = r.new_child('cli' if i % 2 == 0 else 'api')
        jitter = r.rng.uniform(0, 0.6)
        pipelines.append([(lambda j=jitter: last_victim_running(j)) if drain else (lambda: None),
                          lambda c=c: r.clone(st, c, api_io),
                          lambda c=c: r.write_markers(st, c, rnd, api_io)])
    r.rng.shuffle(pipelines)
    r.run_concurrently(st, pipelines, loop=lambda: r.children_cmd(st, True))
    if r.args.inject == 'fence' and rnd == 1:
        # Remove the fence's lock by hand, as `rbd lock rm` would.
        with rbd.Image(r.io, PARENT, read_only=True) as img:
            for lk in img.list_lockers()['lockers']:
                img.break_lock(lk[0], lk[1])
        r.injected = 'fence lock broken'
    r.check_state(st)
    st.t1 = time.time()
    return st


def stage_data(r, rnd):
    st = Stage('3 data r%d' % rnd)
    r.stages.append(st)
    r.set_stage(st)
    if r.args.inject == 'data' and rnd == 1:
        c = next(c for c in r.children if c.fate == 'linked' and c.markers)
        off = c.markers[0][0]
        obj, within = divmod(off, OBJ)
        r.io.write('rbd_data.%s.%016x' % (c.id, obj), b'X' * 16, within + 1)
        r.injected = '16 bytes of %s overwritten' % c.name
    if r.args.inject == 'parent' and rnd == 1:
        r.io.write('rbd_data.%s.%016x' % (r.parent_id, 0), b'Y' * 16, 100)
        r.injected = '16 bytes of the parent overwritten'
    r.check_data(st, [c for c in r.children if c.fate in ('linked', 'flattened')])
    f = r.fence()
    st.fence = r.fence_word(f)
    st.registry = '%d/%d' % (sum(c.fate == 'linked' for c in r.children), r.count())
    st.t1 = time.time()


def stage_remove(r):
    st = Stage('4 remove')
    r.stages.append(st)
    left = sorted((c for c in r.children if c.fate == 'linked'), key=lambda c: c.name)
    r.rng.shuffle(left)
    r.set_stage(st, removing=True)
    if r.args.inject == 'lift':
        # Drop every entry through the class method, which lowers the fence
        # with the last one, while the children still link.
        for pool, ns, iid, _ in r.registry():
            r.io.execute(header(r.parent_id), 'rbd', 'standalone_child_remove',
                         child_spec(pool, iid, ns))
        r.injected = 'registry emptied (fence lowered) before the removal'
        time.sleep(0.5)
    pipelines = [[lambda c=c, i=i: r.remove(st, c, 'stock' if i % 2 == 0 else 'project')]
                 for i, c in enumerate(left)]
    r.run_concurrently(st, pipelines, loop=lambda: r.children_cmd(st, False))
    # Children whose rm was refused (documented) go now, one by one.
    for c in [c for c in left if c.fate == 'linked']:
        for _ in range(30):
            r.remove(st, c, 'project')
            if c.fate != 'linked':
                break
            time.sleep(1)
    r.check_state(st)
    time.sleep(0.3)   # a few more samples at 0
    for m in r.monitors:
        r.check(st, m.per_stage[st.name]['samples'] > 0,
                'the %s took no sample during the removal' % m.label)
    st.t1 = time.time()


def stage_parent(r):
    st = Stage('5 parent')
    r.stages.append(st)
    r.set_stage(st)
    st.data[1] += 1
    if r.check_parent_data(st):
        st.data[0] += 1
    f = r.fence()
    st.fence = r.fence_word(f)
    st.registry = '0/%d' % r.count()
    for m in r.monitors:
        m.stop()
    # Stock python rbd, read-write: the parent is an ordinary image again.
    code, t = 0, time.time()
    try:
        with rbd.Image(r.io, PARENT) as img:
            img.write(b'W' * BLOCK, 0)
            ok = img.read(0, BLOCK) == b'W' * BLOCK
        r.check(st, ok, 'the parent does not read back what stock python rbd wrote')
    except rbd.Error as e:
        code = e.errno or 'error'
        r.violate(st, 'stock python rbd cannot write the parent: %s' % e)
    st.record('write parent', code, t)
    t = time.time()
    code, _, err = r.run_cmd([r.rbd_cli, 'rm', '--no-progress', r.spec(PARENT)])
    st.record('rm/project parent', code, t)
    r.check(st, code == 0, 'project rbd rm of the parent failed %s: %s' % (
        code_name(code), err.strip()[-300:]))
    r.check(st, r.image_id(PARENT) is None and not r.exists(header(r.parent_id)),
            'the parent is still there after rbd rm')
    flat = [c for c in r.children if c.fate == 'flattened']
    check_data_only(r, st, flat)
    r.run_concurrently(st, [[lambda c=c: r.remove(st, c, 'project')] for c in flat])
    left = r.all_images()
    r.check(st, not left, 'images left in the pool: %s' % sorted(left.values()))
    st.t1 = time.time()


def check_data_only(r, stage, which):
    for c in which:
        stage.data[1] += 1
        try:
            got = r.read_image(c.name)
        except rbd.Error as e:
            r.violate(stage, 'cannot read flattened %s: %s' % (c.name, e))
            continue
        want = r.expected(c)
        if r.check(stage, got == want, 'flattened %s reads wrong data without its parent%s'
                   % (c.name, r.first_diff(want, got))):
            stage.data[0] += 1


def print_table(r):
    log('')
    log('# clone concurrency: %d clones at once, %d more per round, %d round(s), seed %s%s'
        % (r.args.clones, r.args.more, r.args.rounds, r.args.seed,
           ', injected: %s' % r.injected if r.injected else ''))
    hdr = '%-11s %4s %4s %-16s %-6s %-8s %-6s %-18s %-6s %-7s %7s' % (
        'stage', 'ops', 'ok', 'failed(errno)', 'peak', 'registry', 'fence',
        'fence polls up/dn', 'links', 'data', 'elapsed')
    log(hdr)
    log('-' * len(hdr))
    poll = r.poller.per_stage if r.poller else {}
    mon = r.link_monitor.per_stage if r.link_monitor else {}
    for st in r.stages:
        p = poll.get(st.name, {})
        polls = '%d/%d' % (p.get('up', 0), p.get('down', 0)) if p.get('samples') else '-'
        if p.get('partial'):
            polls += ' PART %d' % p['partial']
        links = str(mon.get(st.name, {}).get('samples', '-'))
        data = '%d/%d' % tuple(st.data) if st.data[1] else '-'
        peak = '%d/%d' % (st.peak(), st.peak('clone')) if st.spans else '-'
        log('%-11s %4d %4d %-16s %-6s %-8s %-6s %-18s %-6s %-7s %6.1fs' % (
            st.name, sum(st.started.values()), sum(st.ok.values()), st.failed_text(),
            peak, st.registry, st.fence[:6], polls, links, data,
            (st.t1 or time.time()) - st.t0))
    log('(ops: operations started, ok; peak: most operations/clones in flight at once; '
        'registry: count expected/seen; fence: at the end of the stage; fence polls: '
        'fence status reads with the fence up/down; links: samples of every link; '
        'data: images read right/read)')
    log('')
    log('%-11s %-20s %7s %5s  %s' % ('stage', 'operation', 'started', 'ok', 'failed'))
    for st in r.stages:
        for kind in sorted(st.started):
            fails = ','.join('%s:%d' % (code_name(code), n)
                             for (k, code), n in sorted(st.failed.items(), key=str) if k == kind)
            log('%-11s %-20s %7d %5d  %s' % (st.name, kind, st.started[kind], st.ok[kind],
                                              fails or '-'))
    for st in r.stages:
        for d in st.documented:
            log('documented failure (%s): %s' % (st.name, d))
    for m in r.monitors:
        s4 = m.per_stage.get('4 remove', {})
        downs = sorted(k for k in s4 if k.startswith('down at count'))
        log('# stage 4, %s: %d samples, fence up in %d (lowest count read with it up: %s), '
            'down in %d (%s)' % (m.label, s4.get('samples', 0), s4.get('up', 0),
                                 m.lowest_up.get('4 remove', '-'), s4.get('down', 0),
                                 ', '.join('%s: %d' % (k, s4[k]) for k in downs) or 'none'))
    for st in r.stages:
        if ' drain ' in ' %s ' % st.name:
            p = poll.get(st.name, {})
            log('# %s: fence down in %d of %d polls (the count reached 0 between the '
                'clones), %s at the end' % (st.name, p.get('down', 0), p.get('samples', 0),
                                            st.fence))
    for m in r.monitors:
        for k, n in sorted(m.errors.items()):
            log('# %s: %s x%d' % (m.label, k, n))
    log('# parent sha256 %s' % r.pattern_sha[:32])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true',
                    help='CTest variant: 8 clones, 4 more per round, 2 rounds')
    ap.add_argument('--clones', type=int, help='N clones at once in stage 1 (default 32)')
    ap.add_argument('--more', type=int, help='M clones per round of stage 2 (default N/2)')
    ap.add_argument('--rounds', type=int,
                    help='rounds of stages 2-3 (default 3); with 2 or more, the last '
                         'one drains: every existing child goes while the clones run')
    ap.add_argument('--rbd', default=os.environ.get('PROJECT_RBD'),
                    help="the project's rbd (default: $PROJECT_RBD)")
    ap.add_argument('--pool', default='clone-conc-%d' % os.getpid(),
                    help='a pool of its own (created and removed): the checks scan it')
    ap.add_argument('--seed', default='1', help='choice of victims and markers')
    ap.add_argument('--op-timeout', type=int, default=180,
                    help='seconds after which one operation counts as hung')
    ap.add_argument('--inject', choices=INJECTIONS,
                    help='break one thing on purpose: the run must fail')
    ap.add_argument('--keep-pool', action='store_true')
    args = ap.parse_args(argv)
    args.clones = args.clones or (8 if args.quick else 32)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.more = args.more if args.more is not None else max(1, args.clones // 2)
    if args.clones < 2 or args.rounds < 1:
        ap.error('--clones must be >= 2 and --rounds >= 1')
    conf = os.environ.get('CEPH_CONF')
    if not conf:
        sys.exit('FAIL: CEPH_CONF is not set: start a cluster with the overlay first')
    if not args.rbd or not os.access(args.rbd, os.X_OK):
        sys.exit("FAIL: the project's rbd is missing: pass --rbd or set PROJECT_RBD")
    for argv_ in (['ceph', 'osd', 'pool', 'create', args.pool, '8', '8'],
                  [STOCK_RBD, 'pool', 'init', args.pool]):
        for attempt in range(3):  # a loaded mon sometimes fails a command once
            p = subprocess.run(argv_, capture_output=True, text=True, timeout=120)
            if p.returncode == 0:
                break
            time.sleep(2)
        else:
            sys.exit('FAIL: %s: %s' % (' '.join(argv_), p.stderr.strip()))
    try:
        return run_all(args, conf)
    finally:
        if not args.keep_pool:
            subprocess.run(['ceph', 'osd', 'pool', 'rm', args.pool, args.pool,
                            '--yes-i-really-really-mean-it'], capture_output=True, timeout=120)


def run_all(args, conf):
    r = Run(args, conf)
    pre = Stage('0 parent')
    r.stages.append(pre)
    r.rbd.create(r.io, PARENT, SIZE, order=ORDER, old_format=False, features=FEATURES)
    with rbd.Image(r.io, PARENT) as img:
        for obj in range(OBJECTS):
            if obj not in HOLES:
                end = OBJ // 2 if obj == HALF else OBJ
                img.write(r.pattern[obj * OBJ:obj * OBJ + end], obj * OBJ)
    r.parent_id = r.image_id(PARENT)
    r.pspec = parent_spec(r.pool_id, r.parent_id)
    pre.data[1] += 1
    if r.check_parent_data(pre):
        pre.data[0] += 1
    f = r.fence()
    pre.fence, pre.registry = r.fence_word(f), '0/%d' % r.count()
    r.check(pre, pre.fence == 'down' and pre.registry == '0/0',
            'a new parent is fenced (%s) or has children (%s)' % (pre.fence, pre.registry))
    pre.t1 = time.time()
    # The API clones and the markers: threads of this process on one client.
    r.api_cluster = rados.Rados(conffile=conf)
    r.api_cluster.connect()
    r.api_io = r.api_cluster.open_ioctx(args.pool)
    r.poller, r.link_monitor = FencePoller(r), LinkMonitor(r)
    r.monitors = [r.poller, r.link_monitor]
    for m in r.monitors:
        m.start()
    try:
        stage_clone(r)
        for rnd in range(1, args.rounds + 1):
            stage_race(r, rnd, drain=args.rounds > 1 and rnd == args.rounds)
            stage_data(r, rnd)
        stage_remove(r)
        stage_parent(r)
    except (rados.Error, rbd.Error, ValueError, struct.error) as e:
        # An unexpected reply stops the run; it is a failure like any other.
        r.violate(r.stages[-1], 'the run stopped: %s: %s' % (type(e).__name__, e))
    return r.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
