#!/usr/bin/python3
"""OSD faults under batches of standalone clones and child removals.

Starts a cluster of its own (src/vstart.sh: 3 bluestore OSDs, the overlay
in the class dir, pool `rbd` at size 3 / min_size 2, a 5 s watch timeout)
and stops it at the end, also on failure.  Every scenario round works on a
fresh parent written with a known pattern; the parents and children of
earlier rounds stay and are checked again at every later check, until the
last scenario removes them all.

  1 kill-primary  kill -9 of the OSD that is primary for the parent's
                  header while a batch of clones (project CLI processes and
                  python3-rbd threads; each new child then gets two writes
                  of its own, one copying up parent data, one into a hole)
                  and removals (project `rbd rm`) runs, after a number of
                  ops that varies by round.  Three of the CLI ops are held
                  by the librados fault shim across the kill: a clone just
                  before it registers on the parent, a clone registered but
                  not linked, a removal whose detach is asked but not
                  completed.  The OSD is started again while the batch
                  still runs.  Every client must succeed or fail within a
                  bound (--op-timeout).
  2 restart-all   all OSDs stopped together, then started together: every
                  parent header's omap (registry, features; not the
                  access_timestamp librbd bumps) and xattrs (the fence lock),
                  the fence status and the data of every image are exactly
                  as before.  A write to a fenced parent is still refused.
  3 osd-down      one OSD (the header's primary) stopped through a whole
                  batch (the pool serves at min_size 2, so every op must
                  succeed), then started and recovered; checked while down,
                  after recovery, with the recovered OSD as every PG's
                  primary (primary affinity), and (full runs) with another
                  OSD out.
  4 remove-all    every child removed with the project's `rbd rm`: each
                  parent unfenced at 0 children, writable again, removable
                  with the project's `rbd rm`, and the pool left empty.

Checks (each one compares with what the clients saw, so each can fail:
--inject-fault registry|fence|data tampers once and the run fails;
--op-timeout 0.4 turns ops into hangs):

  registry exact  the parent's head_child_ entries == the children whose
                  header links to the parent (LINK_HEAD), all ATTACHED, the
                  OSD's count agrees; every child whose clone returned 0 and
                  that was not removed is among them, every removed one is
                  gone without a trace.  Before any repair, every linked
                  child is registered on a fully fenced parent; when every
                  op succeeded the registry must be exact without repair.
  fence right     marker, non-primary and the fence lock all up iff the
                  registry is not empty, all down iff it is.
  data exact      the parent reads its pattern; each child reads the
                  parent's pattern plus its own writes (a write that failed
                  may or may not have landed, nothing else).

Repair after failed ops, as the design document tells users: `rbd rm` of a
half-made child, `rbd rm` again of a child whose removal failed, then
`rbd children PARENT` if the registry still holds entries in progress.

Prints one row per scenario round (clones and removals ok/failed, hangs,
repair steps, registry exact?, fence right?, data exact?, elapsed) and
exits 1 on any violation.  Run with /usr/bin/python3 (rados/rbd) under
`ulimit -v 6000000`:

  qa/workunits/rbd/osd_faults.py --quick          # CTest: 1 round, 4 MiB parents
  qa/workunits/rbd/osd_faults.py --rounds 3       # full: 16 MiB, 15-op batches
"""

import argparse
import collections
import hashlib
import json
import os
import queue
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, 'build', 'lib', 'python'))

import rados  # noqa: E402
import rbd  # noqa: E402
import rbd_standalone  # noqa: E402,F401  (adds clone_standalone to rbd.RBD)
from rbd_wire import NOSNAP, child_spec, parent_spec  # noqa: E402

POOL = 'rbd'
LINK_HEAD = 1
ATTACHED = 0
BLOCK = 64 << 10          # the parent pattern's unit: written or a hole
WRITE = 4 << 10           # one write of a child's own
HOLD_MS = 5000            # how long a held op sleeps before its call


START = time.time()


def log(msg):
    print('# [%6.1f s] %s' % (time.time() - START, msg), flush=True)


# ------------------------------------------------------------ decoding ---

class Reader:
    """Little-endian reader over a reply; raises ValueError when short."""

    def __init__(self, data, off=0, end=None):
        self.data, self.off = data, off
        self.end = len(data) if end is None else end

    def take(self, fmt):
        n = struct.calcsize(fmt)
        if self.off + n > self.end:
            raise ValueError('reply too short')
        v = struct.unpack_from(fmt, self.data, self.off)
        self.off += n
        return v[0] if len(v) == 1 else v

    def str(self):
        n = self.take('<I')
        if self.off + n > self.end:
            raise ValueError('reply too short')
        s = self.data[self.off:self.off + n].decode()
        self.off += n
        return s

    def envelope(self):
        """(version, a Reader over the body); self moves past it."""
        v, _compat, n = self.take('<BBI')
        body = Reader(self.data, self.off, self.off + n)
        if body.end > self.end:
            raise ValueError('envelope past the reply')
        self.off += n
        return v, body


# ------------------------------------------------------------- cluster ---

class Cluster:
    """The cluster of src/vstart.sh in DIR; every daemon by its pid file."""

    def __init__(self, args):
        self.vstart = args.vstart
        self.dir = args.dir
        self.port = args.mon_port
        self.class_dir = args.class_dir
        self.conf = None

    def start(self):
        p = subprocess.run([self.vstart, 'start', '--dir', self.dir, '--mon-port', str(self.port),
                            '--class-dir', self.class_dir, '--osds', '3', '--bluestore',
                            '--bluestore-size', '4G'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
        if p.returncode != 0:
            raise RuntimeError('vstart.sh start failed:\n%s' % p.stderr[-3000:])
        line = p.stdout.strip().splitlines()[-1]
        self.conf = line.split('=', 1)[1]
        os.environ['CEPH_CONF'] = self.conf

    def stop(self):
        subprocess.run([self.vstart, 'stop', '--dir', self.dir], capture_output=True, timeout=300)

    def osd(self, cmd, osd_id):
        """vstart.sh stop-osd / kill-osd / start-osd ID."""
        p = subprocess.run([self.vstart, cmd, str(osd_id), '--dir', self.dir],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError('vstart.sh %s %s failed:\n%s' % (cmd, osd_id, p.stderr[-2000:]))

    def osds(self, cmd, ids):
        """The same command on several OSDs at once (their own processes)."""
        procs = [(i, subprocess.Popen([self.vstart, cmd, str(i), '--dir', self.dir],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True)) for i in ids]
        bad = []
        for i, p in procs:
            _, err = p.communicate(timeout=600)
            if p.returncode != 0:
                bad.append('vstart.sh %s %s failed:\n%s' % (cmd, i, err[-2000:]))
        if bad:
            raise RuntimeError('\n'.join(bad))


# -------------------------------------------------------------- images ---

class Parent:
    def __init__(self, name, size, seed):
        self.name = name
        self.size = size
        self.id = None
        rng = random.Random(seed)
        pattern = bytearray(size)
        self.filled = []
        # About 60% of the blocks hold data, the rest stay holes (zeros).
        for b in range(size // BLOCK):
            if rng.random() < 0.6:
                pattern[b * BLOCK:(b + 1) * BLOCK] = rng.randbytes(BLOCK)
                self.filled.append(b)
        self.holes = [b for b in range(size // BLOCK) if b not in set(self.filled)]
        self.pattern = bytes(pattern)
        self.children = {}


class Child:
    """What the clients saw of one child: state live (clone returned 0, not
    removed), removed (rm returned 0 or repaired away) or unknown (an op on
    it failed or hung; the repair settles it)."""

    def __init__(self, parent, name):
        self.parent = parent
        self.name = name
        self.id = None
        self.state = 'unknown'
        self.failed_op = None  # the kind of the op that left it unknown
        self.writes = []       # (offset, bytes, certain)

    def plan_writes(self):
        """One write copies up a block of parent data, one lands in a hole."""
        rng = random.Random(self.name)
        p = self.parent
        out = []
        for blocks in (p.filled, p.holes):
            if blocks:
                b = rng.choice(blocks)
                off = b * BLOCK + rng.randrange(BLOCK // WRITE) * WRITE
                out.append((off, rng.randbytes(WRITE)))
        return out


# ------------------------------------------------------------- checker ---

class Checker:
    def __init__(self, conf, rbd_cli, op_timeout):
        self.rbd_cli = rbd_cli
        self.op_timeout = op_timeout
        # The checker's own reads fail instead of hanging on a dead PG.
        self.cluster = rados.Rados(conffile=conf, conf={'rados_osd_op_timeout': '60',
                                                        'rados_mon_op_timeout': '60'})
        self.cluster.connect(timeout=60)
        # PG queries go to each PG's primary; one sent just as the osdmap
        # changes can sit unanswered, so they time out fast and are retried.
        self.admin = rados.Rados(conffile=conf, conf={'rados_osd_op_timeout': '2',
                                                      'rados_mon_op_timeout': '30'})
        self.admin.connect(timeout=60)
        self.io = self.cluster.open_ioctx(POOL)
        self.pool_id = self.cluster.pool_lookup(POOL)

    # ---- cluster state
    def mon(self, **cmd):
        r, out, err = self.cluster.mon_command(json.dumps(dict(cmd, format='json')), b'')
        if r != 0:
            raise RuntimeError('mon command %s: %d %s' % (cmd, r, err))
        return json.loads(out) if out else None

    def primary_of(self, oid):
        return self.mon(prefix='osd map', pool=POOL, object=oid)['acting_primary']

    def pg_states(self):
        """{pgid: (state, acting)} of the pool, asked of each PG's primary."""
        dump = self.mon(prefix='osd dump')
        pool = [p for p in dump['pools'] if p['pool_name'] == POOL][0]
        states = {}
        for i in range(pool['pg_num']):
            pgid = '%d.%x' % (self.pool_id, i)
            try:
                r, out, _ = self.admin.pg_command(pgid, json.dumps({'prefix': 'query',
                                                                      'pgid': pgid}), b'')
                q = json.loads(out) if r == 0 else {}
            except (rados.Error, ValueError):
                q = {}
            states[pgid] = (q.get('state', 'unknown'), q.get('acting', []))
        return states

    def wait_pgs(self, what, ok, timeout=300):
        deadline = time.time() + timeout
        while True:
            states = self.pg_states()
            if all(ok(s, acting) for s, acting in states.values()):
                return
            if time.time() > deadline:
                raise RuntimeError('PGs not %s after %d s: %s' % (what, timeout, states))
            time.sleep(0.5)

    def wait_clean(self, timeout=300):
        deadline = time.time() + timeout
        while True:
            osds = self.mon(prefix='osd dump')['osds']
            if all(o['up'] and o['in'] for o in osds):
                break
            if time.time() > deadline:
                raise RuntimeError('OSDs not all up and in: %s' % osds)
            time.sleep(0.5)
        self.wait_pgs('active+clean', lambda s, _: s == 'active+clean',
                      max(10, deadline - time.time()))

    def wait_down(self, osd_id, timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            osds = self.mon(prefix='osd dump')['osds']
            if not [o for o in osds if o['osd'] == osd_id][0]['up']:
                return time.time() - t0
            time.sleep(0.1)
        raise RuntimeError('osd.%d not marked down within %d s' % (osd_id, timeout))

    # ---- image metadata
    def call(self, oid, method, data=b''):
        _, out = self.io.execute(oid, 'rbd', method, data, length=1 << 20)
        return out

    def image_id(self, name):
        try:
            return self.io.read('rbd_id.' + name)[4:].decode()
        except rados.ObjectNotFound:
            return None

    def directory(self):
        return {d['id']: d['name'] for d in rbd.RBD().list2(self.io)}

    def objects(self):
        return [o.key for o in self.io.list_objects()]

    def header_ids(self):
        return {k[len('rbd_header.'):] for k in self.objects() if k.startswith('rbd_header.')}

    def linked_parent(self, image_id):
        """The parent id whose HEAD this image reads through (LINK_HEAD); None
        if it reads through none or its header is gone."""
        try:
            out = self.call('rbd_header.' + image_id, 'parent_get')
        except rados.ObjectNotFound:
            return None
        _, body = Reader(out).envelope()
        pool_id = body.take('<q')
        if pool_id < 0:
            return None
        body.str()  # namespace
        pid = body.str()
        if body.take('<Q') != NOSNAP:
            return None
        state = self.call('rbd_header.' + image_id, 'standalone_link_state',
                          parent_spec(pool_id, pid))
        return pid if state[:1] == bytes([LINK_HEAD]) else None

    def registry(self, parent_id):
        """[(child id, pool id, namespace, state)] from the OSD, in pages."""
        entries, after = [], (-1, '', '')
        while True:
            spec = child_spec(after[0], after[1], after[2])
            r = Reader(self.call('rbd_header.' + parent_id, 'standalone_children_list',
                                 spec + struct.pack('<Q', 64)))
            page = []
            for _ in range(r.take('<I')):
                v, e = r.envelope()
                pool, cid = e.take('<q'), e.str()
                ns = e.str() if v >= 2 else ''
                state = e.take('<B') if v >= 3 else ATTACHED
                page.append((cid, pool, ns, state))
            entries += page
            if not r.take('<B') or not page:
                return entries
            after = (page[-1][1], page[-1][0], page[-1][2])

    def header_raw(self, image_id):
        """(every omap key and value, every xattr) of a header, as bytes:
        the registry and features live in the omap, the fence lock in an
        xattr."""
        oid = 'rbd_header.' + image_id
        with rados.ReadOpCtx() as op:
            it, _ = self.io.get_omap_vals(op, '', '', 1 << 20)
            self.io.operate_read_op(op, oid)
            # librbd bumps access_timestamp on opens (every 60 s at most).
            omap = {k: bytes(v) for k, v in it if k != 'access_timestamp'}
        return omap, {k: bytes(v) for k, v in self.io.get_xattrs(oid)}

    def count(self, parent_id):
        return struct.unpack('<Q', self.call('rbd_header.' + parent_id,
                                             'standalone_children_count'))[0]

    def fence(self, parent_id):
        """(marker, non_primary, lock, has_children); lock 0 free, 1 the
        fence's, 2 another client's."""
        _, b = Reader(self.call('rbd_header.' + parent_id, 'standalone_fence_status')).envelope()
        marker, non_primary, lock = b.take('<B'), b.take('<B'), b.take('<B')
        b.str()  # lock owner
        return bool(marker), bool(non_primary), lock, bool(b.take('<B'))

    def read_image(self, name, size):
        with rbd.Image(self.io, name, read_only=True) as img:
            if img.size() != size:
                raise ValueError('%s is %d bytes, not %d' % (name, img.size(), size))
            return b''.join(img.read(off, min(1 << 20, size - off))
                            for off in range(0, size, 1 << 20))

    # ---- project CLI
    def cli(self, *argv):
        """The project's rbd as a user runs it (repairs, parent removal): a
        generous bound, reported as exit 124 like timeout(1)."""
        try:
            p = subprocess.run([self.rbd_cli] + list(argv), capture_output=True, text=True,
                               timeout=max(300, self.op_timeout))
        except subprocess.TimeoutExpired:
            return 124, '', 'timed out after %d s' % max(300, self.op_timeout)
        return p.returncode, p.stdout, p.stderr

    def spec(self, name):
        return '%s/%s' % (POOL, name)


# --------------------------------------------------------------- batch ---

class Op:
    def __init__(self, kind, child):
        self.kind = kind          # clone-cli, clone-api or rm
        self.child = child
        self.env = {}             # CLI ops: the fault shim's settings
        self.hold = None          # (method, trace file) of a held CLI op
        self.result = None        # ok, failed or hang
        self.detail = ''
        self.started = None
        self.seconds = None


class Batch:
    """Runs ops on `concurrency` worker threads.  CLI ops are bounded by
    their process timeout (killed by pid); a python op that outlives the
    bound is declared hung by watch()."""

    def __init__(self, world, ops, concurrency):
        self.world, self.ops = world, ops
        self.queue = queue.Queue()
        for op in ops:
            self.queue.put(op)
        self.threads = [threading.Thread(target=self.worker, daemon=True)
                        for _ in range(min(concurrency, len(ops)))]
        self.lock = threading.Lock()

    def start(self):
        for t in self.threads:
            t.start()

    def done(self):
        with self.lock:
            return sum(op.result is not None for op in self.ops)

    def flying(self):
        with self.lock:
            return [op for op in self.ops if op.started is not None and op.result is None]

    def in_flight(self):
        return len(self.flying())

    def held(self, op):
        """True once a held op sleeps before its method's call (the shim
        traces a call before it delays it)."""
        method, trace = op.hold
        try:
            with open(trace) as f:
                return any(line.split()[1].endswith('.' + method) for line in f)
        except FileNotFoundError:
            return False

    def finish(self, op, result, detail=''):
        with self.lock:
            if op.result is None:
                op.result, op.detail = result, detail
                op.seconds = time.time() - op.started

    def worker(self):
        while True:
            try:
                op = self.queue.get_nowait()
            except queue.Empty:
                return
            op.started = time.time()
            try:
                self.run(op)
            except Exception as e:  # any client error is a failed op
                self.finish(op, 'failed', '%s: %s' % (type(e).__name__, e))

    def run(self, op):
        w, c = self.world, op.child
        bound = w.args.op_timeout
        if op.kind == 'rm':
            self.finish(op, *self.cli_op(op, ['rm', '--no-progress', w.chk.spec(c.name)], bound))
            return
        if op.kind == 'clone-cli':
            r = self.cli_op(op, ['clone-standalone', w.chk.spec(c.parent.name),
                                 w.chk.spec(c.name)], bound)
            if r[0] != 'ok':
                self.finish(op, *r)
                return
        else:
            rbd.RBD().clone_standalone(w.client_io, c.parent.name, w.client_io, c.name)
        # The clone returned 0: from here the child must exist and link.
        c.state = 'live'
        writes = c.plan_writes()
        c.writes = [(off, data, False) for off, data in writes]
        with rbd.Image(w.client_io, c.name) as img:
            for i, (off, data) in enumerate(writes):
                img.write(data, off)
                c.writes[i] = (off, data, True)
        self.finish(op, 'ok')

    def cli_op(self, op, argv, bound):
        """(result, detail) of one project CLI process, killed (by its pid)
        once past the bound."""
        p = subprocess.Popen([self.world.chk.rbd_cli] + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=dict(os.environ, **op.env))
        try:
            _, err = p.communicate(timeout=bound)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return 'hang', 'still running after %g s; killed' % bound
        if p.returncode != 0:
            return 'failed', 'rc %d: %s' % (p.returncode, err.strip()[-300:])
        if 'warning' in err:
            self.world.warnings.append('%s %s: %s' % (op.kind, op.child.name, err.strip()))
        return 'ok', ''

    def watch(self, until):
        """Waits for every op; `until` bounds each op's own run time."""
        while True:
            with self.lock:
                pending = [op for op in self.ops if op.result is None]
            if not pending:
                return
            now = time.time()
            for op in pending:
                if op.started is not None and now - op.started > until + 10:
                    self.finish(op, 'hang', 'no answer after %d s' % (now - op.started))
            time.sleep(0.1)


# --------------------------------------------------------------- world ---

class Row:
    def __init__(self, name):
        self.name = name
        self.t0 = time.time()
        self.elapsed = None
        self.clones = [0, 0]
        self.removals = [0, 0]
        self.hangs = 0
        self.repairs = []
        self.bad = {'registry': [], 'fence': [], 'data': [], 'ops': [], 'other': []}
        self.notes = []

    def fail(self, kind, msg):
        self.bad[kind].append(msg)
        print('FAIL: %s: %s: %s' % (self.name, kind, msg), flush=True)

    def ok(self, kind):
        return 'yes' if not self.bad[kind] else 'NO (%d)' % len(self.bad[kind])


class World:
    def __init__(self, args, cluster):
        self.args = args
        self.cluster = cluster
        self.chk = Checker(cluster.conf, args.rbd, args.op_timeout)
        # The batch's python clients share one handle of their own, with
        # stock timeouts (none): they ride through OSD faults or hang.
        self.client = rados.Rados(conffile=cluster.conf)
        self.client.connect(timeout=60)
        self.client_io = self.client.open_ioctx(POOL)
        self.parents = []
        self.warnings = []
        self.injected = set()

    # ---- set-up
    def new_parent(self, tag):
        n = len(self.parents)
        p = Parent('%s-p%d' % (tag, n), self.args.size_mib << 20, 'osd-faults:%s:%d' % (tag, n))
        rbd.RBD().create(self.client_io, p.name, p.size, order=self.args.order,
                         old_format=False,
                         features=(rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK |
                                   rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF |
                                   rbd.RBD_FEATURE_DEEP_FLATTEN))
        with rbd.Image(self.client_io, p.name) as img:
            for b in p.filled:
                img.write(p.pattern[b * BLOCK:(b + 1) * BLOCK], b * BLOCK)
        p.id = self.chk.image_id(p.name)
        self.parents.append(p)
        return p

    def new_child(self, parent):
        c = Child(parent, '%s-c%d' % (parent.name, len(parent.children)))
        parent.children[c.name] = c
        return c

    def add_children(self, row, parent, n):
        """n children cloned and written one by one, no fault around."""
        ops = [Op('clone-cli' if i % 2 == 0 else 'clone-api', self.new_child(parent))
               for i in range(n)]
        self.run_batch(row, ops, fault=None, strict=True)

    def batch_ops(self, parent, n_clones, n_removals):
        live = [c for c in parent.children.values() if c.state == 'live']
        ops = [Op('rm', c) for c in live[:n_removals]]
        ops += [Op('clone-cli' if i % 2 == 0 else 'clone-api', self.new_child(parent))
                for i in range(n_clones)]
        # Removals spread through the clones rather than all first.
        random.Random(parent.name).shuffle(ops)
        return ops

    def run_batch(self, row, ops, fault, strict=False, concurrency=None):
        """strict: nothing is faulted, so a failed op is a violation too."""
        b = Batch(self, ops, concurrency or self.args.concurrency)
        b.start()
        if fault:
            fault(b)
        b.watch(self.args.op_timeout)
        log('%d op(s) done: %s' % (len(ops), ', '.join(
            '%d %s' % (n, r) for r, n in sorted(collections.Counter(
                op.result for op in ops).items()))))
        for op in ops:
            kind = 'removals' if op.kind == 'rm' else 'clones'
            counts = getattr(row, kind)
            counts[0 if op.result == 'ok' else 1] += 1
            if op.result == 'ok':
                if op.kind == 'rm':
                    op.child.state = 'removed'
                elif op.child.id is None:
                    op.child.id = self.chk.image_id(op.child.name)
                continue
            op.child.state = 'unknown'
            op.child.failed_op = op.kind
            msg = '%s %s %s: %s' % (op.kind, op.child.name, op.result, op.detail)
            if op.result == 'hang':
                row.hangs += 1
                row.fail('ops', msg)
            elif strict:
                row.fail('ops', msg + ' (nothing was faulted)')
            else:
                row.notes.append(msg)
        return b

    # ---- repair
    def repair(self, row):
        """The documented repairs; returns True if any was needed."""
        chk = self.chk
        needed = False
        for p in self.parents:
            for c in p.children.values():
                if c.state != 'unknown':
                    continue
                iid = chk.image_id(c.name) or c.id
                c.id = iid
                exists = iid is not None and (iid in chk.header_ids() or
                                              chk.image_id(c.name) is not None)
                linked = exists and chk.linked_parent(iid) == p.id
                if c.failed_op != 'rm' and linked:
                    # The clone completed although its client saw an error.
                    c.state = 'live'
                    continue
                if exists:
                    needed = True
                    rc, _, err = chk.cli('rm', '--no-progress', chk.spec(c.name))
                    row.repairs.append('rm %s' % c.name)
                    if rc != 0:
                        row.fail('other', 'repair rm %s: rc %d %s' % (c.name, rc, err[-300:]))
                        continue
                c.state = 'removed'
            entries = chk.registry(p.id)
            linked = self.linked_children().get(p.id, set())
            if {e[0] for e in entries} != linked or any(e[3] != ATTACHED for e in entries):
                needed = True
                rc, _, err = chk.cli('children', chk.spec(p.name))
                row.repairs.append('children %s' % p.name)
                if rc != 0:
                    row.fail('other', 'repair children %s: rc %d %s' % (p.name, rc, err[-300:]))
        return needed

    # ---- checks
    def linked_children(self):
        """{parent id: {child ids whose header links to it}} over the pool."""
        out = {}
        for iid in self.chk.header_ids():
            pid = self.chk.linked_parent(iid)
            if pid is not None:
                out.setdefault(pid, set()).add(iid)
        return out

    def check_invariant(self, row):
        """No child reads through an unregistered entry or an unfenced
        parent (holds at any time, before any repair)."""
        for pid, kids in self.linked_children().items():
            registered = {e[0] for e in self.chk.registry(pid)}
            for k in sorted(kids - registered):
                row.fail('registry', 'child %s links to %s but is not registered' % (k, pid))
            marker, non_primary, lock, _ = self.chk.fence(pid)
            if not (marker and non_primary and lock == 1):
                row.fail('fence', 'parent %s has linked children but its fence is '
                         'marker=%s non_primary=%s lock=%d' % (pid, marker, non_primary, lock))

    def check(self, row, where, data=True):
        """Registry, fence and (optionally) data of every parent, exact."""
        log('checking %s' % where)
        chk = self.chk
        names = chk.directory()
        headers = chk.header_ids()
        links = self.linked_children()
        known = set()
        for p in self.parents:
            known.add(p.id)
            entries = chk.registry(p.id)
            ids = {e[0] for e in entries}
            linked = links.get(p.id, set())
            if ids != linked:
                row.fail('registry', '%s: %s: entries %s != linked children %s' % (
                    where, p.name, sorted(ids), sorted(linked)))
            for cid, pool, ns, state in entries:
                if pool != chk.pool_id or ns != '' or state != ATTACHED:
                    row.fail('registry', '%s: %s: entry %s pool %d ns %r state %d' % (
                        where, p.name, cid, pool, ns, state))
            n = chk.count(p.id)
            if n != len(entries):
                row.fail('registry', '%s: %s: count %d but %d entries' % (
                    where, p.name, n, len(entries)))
            for c in p.children.values():
                known.add(c.id)
                if c.state == 'live':
                    if c.id not in linked or names.get(c.id) != c.name:
                        row.fail('registry', '%s: %s (clone returned 0) is not a linked '
                                 'child named so (id %s, name %s)' % (
                                     where, c.name, c.id, names.get(c.id)))
                elif c.state == 'removed':
                    if (c.id is not None and (c.id in headers or c.id in names)) or \
                            chk.image_id(c.name) is not None:
                        row.fail('registry', '%s: %s was removed but left its header or '
                                 'name' % (where, c.name))
            marker, non_primary, lock, has = chk.fence(p.id)
            up = marker and non_primary and lock == 1 and has
            down = not marker and not non_primary and lock == 0 and not has
            if (n > 0 and not up) or (n == 0 and not down):
                row.fail('fence', '%s: %s with %d children: marker=%s non_primary=%s '
                         'lock=%d has_children=%s' % (where, p.name, n, marker, non_primary,
                                                      lock, has))
        for iid in sorted(headers - known):
            row.fail('registry', '%s: image %s (%s) is none of ours: a leftover' % (
                where, iid, names.get(iid)))
        if data:
            self.check_data(row, where)

    def check_data(self, row, where):
        """Reads every image; returns {name: sha256 of what it read}."""
        seen = {}
        for p in self.parents:
            try:
                got = self.chk.read_image(p.name, p.size)
                seen[p.name] = hashlib.sha256(got).hexdigest()
                if got != p.pattern:
                    row.fail('data', '%s: parent %s differs from its pattern at %d' % (
                        where, p.name, first_diff(got, p.pattern)))
            except Exception as e:
                row.fail('data', '%s: reading parent %s: %s' % (where, p.name, e))
            for c in p.children.values():
                if c.state != 'live':
                    continue
                try:
                    got = self.chk.read_image(c.name, p.size)
                except Exception as e:
                    row.fail('data', '%s: reading %s: %s' % (where, c.name, e))
                    continue
                seen[c.name] = hashlib.sha256(got).hexdigest()
                want = bytearray(p.pattern)
                for off, data, certain in c.writes:
                    if certain or got[off:off + len(data)] == data:
                        want[off:off + len(data)] = data
                if got != bytes(want):
                    row.fail('data', '%s: %s differs from parent pattern + own writes at '
                             '%d' % (where, c.name, first_diff(got, bytes(want))))
        return seen

    def snapshot(self, row, where):
        """Everything scenario 2 compares (registry bytes, fence, hashes of
        the data, which is checked against the expected data on the way)."""
        snap = {}
        for p in self.parents:
            omap, xattrs = self.chk.header_raw(p.id)
            snap['registry', p.name] = (omap, self.chk.count(p.id))
            snap['fence', p.name] = (xattrs, self.chk.fence(p.id))
        for name, digest in self.check_data(row, where).items():
            snap['data', name] = digest
        return snap

    # ---- after a batch: wait, invariant, repair, checks
    def settle(self, row, where, data=True):
        self.chk.wait_clean()
        self.inject(row, 'batch')
        self.check_invariant(row)
        failed = any(c.state == 'unknown' for p in self.parents for c in p.children.values())
        if self.repair(row) and not failed and not self.warnings:
            row.fail('registry', '%s: every op succeeded, yet the registry needed a '
                     'repair' % where)
        self.check(row, where, data)

    # ---- fault injection: shows that each check can fail
    def inject(self, row, at):
        kind = self.args.inject_fault
        if not kind or kind in self.injected or at != 'batch':
            return
        p = [p for p in self.parents if any(c.state == 'live' for c in p.children.values())][-1]
        c = [c for c in p.children.values() if c.state == 'live'][-1]
        self.injected.add(kind)
        row.notes.append('injected fault: %s on %s' % (kind, c.name if kind == 'data' else p.name))
        if kind == 'registry':
            key = 'head_child_%016x..%s' % (self.chk.pool_id, c.id)
            with rados.WriteOpCtx() as op:
                self.chk.io.remove_omap_keys(op, (key,))
                self.chk.io.operate_write_op(op, 'rbd_header.' + p.id)
        elif kind == 'fence':
            info = json.loads(subprocess.run(
                ['rados', '-p', POOL, 'lock', 'info', 'rbd_header.' + p.id, 'rbd_lock',
                 '--format', 'json'], capture_output=True, text=True, check=True).stdout)
            for lk in info['lockers']:
                subprocess.run(['rados', '-p', POOL, 'lock', 'break', 'rbd_header.' + p.id,
                                'rbd_lock', lk['name'], '--lock-cookie', lk['cookie']],
                               check=True, capture_output=True)
        elif kind == 'data':
            off = c.writes[0][0]
            obj = 'rbd_data.%s.%016x' % (c.id, off >> self.args.order)
            self.chk.io.write(obj, b'\xde\xad' * 8, off & ((1 << self.args.order) - 1))


def what_changed(a, b):
    """The keys whose values differ when a and b hold dicts, else both."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        parts = []
        for x, y in zip(a, b):
            if x == y:
                continue
            if isinstance(x, dict) and isinstance(y, dict):
                parts.append('keys %s' % sorted(k for k in set(x) | set(y)
                                                if x.get(k) != y.get(k)))
            else:
                parts.append('%r -> %r' % (x, y))
        return '; '.join(parts)
    return '%r -> %r' % (a, b)


def first_diff(a, b):
    if len(a) != len(b):
        return min(len(a), len(b))
    for off in range(0, len(a), 4096):
        if a[off:off + 4096] != b[off:off + 4096]:
            return next(i for i in range(off, off + 4096) if a[i] != b[i])
    return -1


# ----------------------------------------------------------- scenarios ---

def scenario_kill_primary(w, row, rnd):
    a = w.args
    p = w.new_parent('s1r%d' % rnd)
    w.add_children(row, p, a.initial)
    victim = w.chk.primary_of('rbd_header.' + p.id)
    ops = w.batch_ops(p, a.clones, a.removals)
    # Three CLI ops are held by the fault shim right before a call on the
    # parent's header, so that these steps straddle the kill for sure: a
    # clone before it registers, a clone registered but not linked, and a
    # removal whose detach is asked but not completed.
    held = []
    for kind, method in (('clone-cli', 'standalone_child_attach'),
                         ('clone-cli', 'standalone_parent_attach'),
                         ('rm', 'standalone_child_remove')):
        op = [o for o in ops if o.kind == kind and o not in held][0]
        trace = os.path.join(w.tmp, '%s.trace' % op.child.name)
        op.env = {'LD_PRELOAD': a.shim, 'RADOS_SHIM_TRACE': trace,
                  'RADOS_SHIM_DELAY_CALL': '%s:%d' % (method, HOLD_MS)}
        op.hold = (method, trace)
        held.append(op)
    ops = held + [o for o in ops if o not in held]
    seen = {}

    # Kill once the held ops sleep and some other ops are done (how many
    # varies by round), then start it again while the batch still runs.
    kill_after = 1 + (len(ops) // 4 + 2 * (rnd - 1)) % max(1, len(ops) // 2)

    def fault(b):
        deadline = time.time() + a.op_timeout
        while time.time() < deadline and (
                b.done() < kill_after or
                not all(b.held(op) or op.result is not None for op in held)):
            time.sleep(0.02)
        seen['held'] = [op for op in held if b.held(op) and op.result is None]
        seen['done'], seen['flight'] = b.done(), b.in_flight()
        seen['ops'] = ', '.join('%s %s' % (op.kind, op.child.name) for op in b.flying())
        log('kill -9 osd.%d' % victim)
        w.cluster.osd('kill-osd', victim)
        seen['down'] = w.chk.wait_down(victim)
        before = b.done()
        t = time.time()
        while b.done() < min(len(ops), before + 1) and time.time() - t < 3:
            time.sleep(0.05)
        seen['restart_at'] = b.done()
        log('starting osd.%d again' % victim)
        w.cluster.osd('start-osd', victim)
        seen['back_at'] = b.done()

    w.run_batch(row, ops, fault, concurrency=a.concurrency + len(held))
    for op in held:
        if op not in seen['held']:
            row.fail('other', '%s %s was not held before %s when the OSD was killed' % (
                op.kind, op.child.name, op.hold[0]))
    row.notes.append('held across the kill: %s' % ', '.join(
        '%s %s before %s (%s)' % (op.kind, op.child.name, op.hold[0], op.result)
        for op in seen['held']))
    took = sorted(op.seconds for op in ops if op.seconds is not None)
    row.notes.append('op times: median %.1f s, slowest %.1f s' % (took[len(took) // 2], took[-1]))
    row.notes.append('killed osd.%d (primary of the header) with %d/%d ops done, %d in flight '
                     '(%s); marked down after %.1f s; restarted at %d done, up at %d done' % (
                         victim, seen['done'], len(ops), seen['flight'], seen['ops'],
                         seen['down'], seen['restart_at'], seen['back_at']))
    if seen['done'] >= len(ops) or not seen['flight']:
        row.fail('other', 'the kill did not land inside the batch (%s)' % seen)
    w.settle(row, 'after kill -9 of osd.%d' % victim)


def scenario_restart_all(w, row, rnd):
    a = w.args
    p = w.new_parent('s2r%d' % rnd)
    w.add_children(row, p, a.initial + 1)
    w.settle(row, 'before the restart', data=False)
    before = w.snapshot(row, 'before the restart')
    t = [time.time()]
    log('stopping all OSDs')
    w.cluster.osds('stop-osd', range(3))
    t.append(time.time())
    log('starting all OSDs')
    w.cluster.osds('start-osd', range(3))
    t.append(time.time())
    w.chk.wait_clean()
    t.append(time.time())
    row.notes.append('all OSDs stopped in %.1f s, started in %.1f s, active+clean after %.1f s'
                     % (t[1] - t[0], t[2] - t[1], t[3] - t[2]))
    after = w.snapshot(row, 'after restarting all OSDs')
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            row.fail(k[0], '%s of %s changed across the restart of all OSDs: %s' % (
                k[0], k[1], what_changed(before.get(k), after.get(k))))
    w.check(row, 'after restarting all OSDs', data=False)
    # The stored fence is enforced by stock code: a write to a fenced parent
    # must be refused after the restart.
    for q in w.parents:
        if w.chk.count(q.id) == 0:
            continue
        try:
            with rbd.Image(w.client_io, q.name) as img:
                img.write(b'\xff' * WRITE, 0)
            row.fail('fence', 'a write to fenced parent %s succeeded after the restart' % q.name)
        except rbd.ReadOnlyImage:
            pass
        except rbd.Error as e:
            row.fail('fence', 'a write to fenced parent %s failed with %s, not EROFS' % (
                q.name, e))
    row.notes.append('restart all: %d parents, %d items hashed, all equal: %s' % (
        len(w.parents), len(before), before == after))


def scenario_osd_down(w, row, rnd):
    a = w.args
    p = w.new_parent('s3r%d' % rnd)
    w.add_children(row, p, a.initial)
    down = w.chk.primary_of('rbd_header.' + p.id)
    log('stopping osd.%d' % down)
    w.cluster.osd('stop-osd', down)
    w.chk.wait_pgs('active', lambda s, _: s.startswith('active'))
    ops = w.batch_ops(p, a.clones, a.removals)
    # The pool serves at min_size: every op must succeed.
    w.run_batch(row, ops, fault=None, strict=True)
    # Not clean while the OSD is down: check what settle would after it.
    w.check_invariant(row)
    w.check(row, 'osd.%d down' % down)
    log('starting osd.%d again' % down)
    w.cluster.osd('start-osd', down)
    w.settle(row, 'after osd.%d recovered' % down)
    # Reads served by the recovered OSD: it is every PG's primary.
    others = [i for i in range(3) if i != down]
    for i in others:
        w.chk.mon(prefix='osd primary-affinity', id=i, weight=0.0)
    try:
        w.chk.wait_pgs('primary on osd.%d' % down,
                       lambda s, acting: s.startswith('active') and acting[:1] == [down])
        w.check(row, 'osd.%d primary of every PG' % down)
    finally:
        for i in others:
            w.chk.mon(prefix='osd primary-affinity', id=i, weight=1.0)
    w.chk.wait_clean()
    if not a.quick:
        # Another OSD out: with no OSD to take its place the PGs re-peer as
        # remapped (pg_temp keeps it acting); the data reads the same.
        w.chk.mon(prefix='osd out', ids=[str(others[0])])
        try:
            w.chk.wait_pgs('active+remapped with osd.%d out' % others[0],
                           lambda s, _: s.startswith('active') and 'remapped' in s)
            w.check(row, 'osd.%d out' % others[0])
        finally:
            w.chk.mon(prefix='osd in', ids=[str(others[0])])
        w.chk.wait_clean()
    row.notes.append('osd.%d (primary of the header) down through %d ops' % (down, len(ops)))


def scenario_remove_all(w, row, _rnd):
    # A parent with children refuses removal.
    for p in w.parents:
        if w.chk.count(p.id) > 0:
            rc, _, err = w.chk.cli('rm', '--no-progress', w.chk.spec(p.name))
            if rc == 0:
                row.fail('fence', 'rbd rm of %s succeeded while it had children' % p.name)
            break
    ops = [Op('rm', c) for p in w.parents for c in p.children.values() if c.state == 'live']
    w.run_batch(row, ops, fault=None, strict=True, concurrency=w.args.concurrency + 1)
    w.settle(row, 'after removing every child')
    for p in w.parents:
        n = w.chk.count(p.id)
        marker, non_primary, lock, has = w.chk.fence(p.id)
        if n or marker or non_primary or lock or has:
            row.fail('fence', '%s: %d children left, fence marker=%s non_primary=%s lock=%d' % (
                p.name, n, marker, non_primary, lock))
            continue
        # Unfenced means writable again.
        try:
            with rbd.Image(w.client_io, p.name) as img:
                img.write(b'\x5a' * WRITE, 0)
                if img.read(0, WRITE) != b'\x5a' * WRITE:
                    row.fail('data', '%s: a write after the fence lifted reads back wrong' % p.name)
        except rbd.Error as e:
            row.fail('fence', '%s: write after the last child was removed: %s' % (p.name, e))
        rc, _, err = w.chk.cli('rm', '--no-progress', w.chk.spec(p.name))
        if rc != 0:
            row.fail('other', 'rbd rm of parent %s: rc %d %s' % (p.name, rc, err[-300:]))
    left = [o for o in w.chk.objects()
            if o.split('.')[0] in ('rbd_header', 'rbd_id', 'rbd_data', 'rbd_object_map')]
    trash = list(rbd.RBD().trash_list(w.chk.io))
    if left or w.chk.directory() or trash:
        row.fail('other', 'the pool is not empty: %d image objects, directory %s, trash %s' % (
            len(left), w.chk.directory(), trash))
    w.parents = []


# ---------------------------------------------------------------- main ---

def print_table(rows, total):
    hdr = ('scenario', 'clones ok/fail', 'rm ok/fail', 'hangs', 'repair',
           'registry exact', 'fence right', 'data exact', 'elapsed')
    lines = [hdr]
    for r in rows:
        repair = 'none' if not r.repairs else '%d step(s)' % len(r.repairs)
        lines.append((r.name, '%d/%d' % tuple(r.clones), '%d/%d' % tuple(r.removals),
                      str(r.hangs), repair, r.ok('registry'), r.ok('fence'), r.ok('data'),
                      '%.1f s' % r.elapsed))
    widths = [max(len(x[i]) for x in lines) for i in range(len(hdr))]
    for i, line in enumerate(lines):
        print('  '.join(v.ljust(widths[j]) for j, v in enumerate(line)).rstrip())
        if i == 0:
            print('  '.join('-' * wd for wd in widths))
    for r in rows:
        for n in r.notes:
            print('# %s: %s' % (r.name, n))
        for kind in ('ops', 'other'):
            for m in r.bad[kind]:
                print('# %s: VIOLATION (%s): %s' % (r.name, kind, m))
    print('# total %.1f s' % total)


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true',
                    help='one round, 4 MiB parents, small batches (the CTest variant)')
    ap.add_argument('--rounds', type=int, default=3,
                    help='rounds of scenarios 1-3 in a full run (default 3; --quick: 1)')
    ap.add_argument('--mon-port', type=int, default=18400)
    ap.add_argument('--dir', help='cluster directory (default: a new /tmp/osd-faults-*/c)')
    ap.add_argument('--keep', action='store_true',
                    help='leave the cluster running (and its directory) at the end')
    ap.add_argument('--rbd', default=os.path.join(REPO, 'build', 'bin', 'rbd'))
    ap.add_argument('--vstart', default=os.path.join(REPO, 'src', 'vstart.sh'))
    ap.add_argument('--class-dir', default=os.path.join(REPO, 'build', 'lib', 'rados-classes'))
    ap.add_argument('--shim', default=os.path.join(REPO, 'build', 'lib', 'librados_fault_shim.so'),
                    help='the librados fault shim (holds CLI ops at a class call)')
    ap.add_argument('--op-timeout', type=float, default=120,
                    help='seconds a client op may take before it counts as hung')
    ap.add_argument('--scenarios', default='1,2,3,4',
                    help='which scenarios to run, of 1,2,3,4 (default all)')
    ap.add_argument('--inject-fault', choices=('registry', 'fence', 'data'),
                    help='tamper once after the first batch; the run must then fail')
    args = ap.parse_args(argv)
    if args.rounds < 1 or not set(args.scenarios.split(',')) <= {'1', '2', '3', '4'}:
        ap.error('--rounds must be >= 1 and --scenarios a list of 1,2,3,4')
    if args.quick:
        args.rounds, args.size_mib, args.initial, args.clones, args.removals = 1, 4, 2, 6, 2
        args.concurrency = 3
    else:
        args.size_mib, args.initial, args.clones, args.removals = 16, 4, 12, 3
        args.concurrency = 4
    args.order = 20
    return args


def main(argv):
    args = parse(argv)
    t0 = time.time()
    built = [args.rbd, os.path.join(args.class_dir, 'libcls_rbd.so'),
             os.path.join(REPO, 'build', 'lib', 'librbd_standalone.so'), rbd_standalone.__file__]
    for path in [args.vstart, args.shim] + built:
        if not os.path.exists(path):
            print('FAIL: %s is missing (build the project first)' % path)
            return 1
    # A rebuild during the run mixes versions (OSDs restarted here load the
    # new overlay, CLI processes the new client): say so.
    mtimes = {path: os.stat(path).st_mtime for path in built}
    # Our own scratch dir (shim traces; the cluster too unless --dir).
    work = tempfile.mkdtemp(prefix='osd-faults-', dir='/tmp')
    if not args.dir:
        args.dir = os.path.join(work, 'c')
    # SIGTERM (CTest's timeout) must still stop the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cluster = Cluster(args)
    rows = []
    rc = 1
    try:
        log('starting the cluster in %s (mon port %d)' % (args.dir, args.mon_port))
        cluster.start()
        log('cluster up after %.1f s' % (time.time() - t0))
        w = World(args, cluster)
        w.tmp = work
        w.chk.mon(prefix='config set', who='osd', name='osd_client_watch_timeout', value='5')
        w.chk.mon(prefix='osd pool set', pool=POOL, var='size', val='3')
        w.chk.mon(prefix='osd pool set', pool=POOL, var='min_size', val='2')
        w.chk.wait_clean()
        wanted = set(args.scenarios.split(','))
        plan = []
        for rnd in range(1, args.rounds + 1):
            for s, name, fn in (('1', 'kill-primary', scenario_kill_primary),
                                ('2', 'restart-all', scenario_restart_all),
                                ('3', 'osd-down', scenario_osd_down)):
                if s in wanted:
                    plan.append(('%s %s r%d' % (s, name, rnd), fn, rnd))
        if '4' in wanted:
            plan.append(('4 remove-all', scenario_remove_all, None))
        for title, fn, rnd in plan:
            log('scenario %s' % title)
            row = Row(title)
            rows.append(row)
            try:
                fn(w, row, rnd)
            except Exception as e:
                row.fail('other', 'aborted: %s: %s' % (type(e).__name__, e))
                break
            finally:
                row.elapsed = time.time() - row.t0
        for m in w.warnings:
            log('client warning: %s' % m)
        for path, mtime in mtimes.items():
            if not os.path.exists(path) or os.stat(path).st_mtime != mtime:
                log('WARNING: %s was rebuilt during the run; its results mix versions' % path)
        bad = sum(len(v) for r in rows for v in r.bad.values())
        rc = 1 if bad or len(rows) < len(plan) else 0
        print_table(rows, time.time() - t0)
        print('%d violation(s); %s' % (bad, 'PASS' if rc == 0 else 'FAIL'))
    except Exception as e:
        print('FAIL: %s: %s' % (type(e).__name__, e), flush=True)
        if rows:
            print_table(rows, time.time() - t0)
    finally:
        if args.keep:
            log('cluster kept: export CEPH_CONF=%s; stop: %s stop --dir %s; traces in %s' % (
                cluster.conf, args.vstart, args.dir, work))
        else:
            cluster.stop()
            shutil.rmtree(work, ignore_errors=True)
        log('elapsed %.1f s' % (time.time() - t0))
        sys.stdout.flush()
    return rc


if __name__ == '__main__':
    # os._exit: a client thread stuck in librados must not keep us alive.
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
