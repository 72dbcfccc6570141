#!/usr/bin/python3
"""Kill a client before each of its class calls and check the parent fence.

For each operation below, a first run traces its class calls (through the
librados fault shim); then, for every call N, a fresh parent (and child)
is set up and the operation is SIGKILLed just before its N-th call.  Right
after each kill:

  no child reads through an unfenced parent: every image whose header links
  to a standalone parent is registered on it and the parent's whole fence
  (non-primary, marker, fence lock) is up;

then the project's tools finish the job ("repair"), and the outcome must be
clean: the child either complete (reads the parent's data) or gone, the
parent fenced exactly while it has linked children, and everything
removable with the project's `rbd rm`.

Operations:
  clone        the project's `rbd clone-standalone P C`
  clone-api    the same through python3-rbd with the project's module
               (`rbd.RBD().clone_standalone`)
  flatten      stock `/usr/bin/rbd flatten C`        (repair: project flatten)
  rm           stock `/usr/bin/rbd rm C`             (repair: project rm)
  pflatten     the project's `rbd flatten C`         (repair: the same again)
  prm          the project's `rbd rm C`              (repair: the same again)
  rm-parent    the project's `rbd rm P`, P's only child removed by stock rm
               before (so rm first completes that detach, then removes P)
               (repair: the same again; P must end removed)
  prune        the project's `rbd children --prune P`, P with a child and
               a registration of an image that does not exist (repair: the
               same again; the child must stay, the stale entry go)

Repairs, as the design document tells users:
  clone killed   `rbd rm C` (the half-made child; its registration goes
                 with it) unless the clone had linked it
  flatten        `rbd children P`; if the child still reads through P
                 (state detaching), `rbd flatten C` again, then `rbd children P`
  rm             `rbd rm C` again while C is still there (it may sit half
                 moved to the trash, where only rm by name finishes it),
                 then `rbd children P`

Prints one table row per (operation, kill point) and "N passed, M failed".
Needs CEPH_CONF (a cluster with the overlay), the project's rbd (--rbd)
and the shim (--shim).  Run with /usr/bin/python3.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import rados

from rbd_wire import NOSNAP, child_spec, parent_spec

STOCK_RBD = '/usr/bin/rbd'
MARKER = 1 << 40
NON_PRIMARY = 1 << 10
SIZE = 8 << 20


class Checker:
    def __init__(self, conf, pool, rbd_cli):
        self.conf = conf
        self.pool = pool
        self.rbd_cli = rbd_cli
        self.cluster = rados.Rados(conffile=conf)
        self.cluster.connect()
        self.io = self.cluster.open_ioctx(pool)
        self.pool_id = self.cluster.pool_lookup(pool)
        self.setup_ids = {}  # image name -> id when set up

    def header_exists(self, image_id):
        try:
            self.io.stat('rbd_header.' + image_id)
            return True
        except rados.ObjectNotFound:
            return False

    def run(self, argv, env=None, check=True, new_session=False):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, **(env or {})), start_new_session=new_session)
        if check and p.returncode != 0:
            raise RuntimeError('%s exited %d: %s' % (' '.join(argv), p.returncode,
                                                      p.stderr.strip()[-400:]))
        return p

    def remove(self, name):
        # A killed client's watch lingers until the watch timeout.
        for _ in range(40):
            p = self.run([self.rbd_cli, 'rm', '--no-progress', self.spec(name)], check=False)
            if p.returncode != 16:
                break
            time.sleep(0.5)
        if p.returncode != 0:
            raise RuntimeError('rbd rm %s exited %d: %s' % (name, p.returncode, p.stderr[-300:]))

    def spec(self, name):
        return '%s/%s' % (self.pool, name)

    def image_id(self, name):
        try:
            return self.io.read('rbd_id.' + name)[4:].decode()
        except rados.ObjectNotFound:
            return None

    def images(self):
        out = self.run([STOCK_RBD, 'ls', '--format', 'json', self.pool]).stdout
        return json.loads(out)

    def call(self, oid, method, data=b''):
        _, out = self.io.execute(oid, 'rbd', method, data, length=1 << 20)
        return out

    def linked_parent(self, image_id):
        """The standalone parent id this image reads through, or None."""
        try:
            out = self.call('rbd_header.' + image_id, 'parent_get')
        except rados.ObjectNotFound:
            return None  # killed half way through its creation or removal
        body = out[6:]
        pool_id, = struct.unpack_from('<q', body, 0)
        if pool_id < 0:
            return None
        n, = struct.unpack_from('<I', body, 8)
        off = 12 + n
        m, = struct.unpack_from('<I', body, off)
        pid = body[off + 4:off + 4 + m].decode()
        snap, = struct.unpack_from('<Q', body, off + 4 + m)
        if snap != NOSNAP:
            return None
        state = self.call('rbd_header.' + image_id, 'standalone_link_state',
                          parent_spec(pool_id, pid))
        return pid if state[0] in (1, 2) else None  # HEAD or snapshots

    def fence(self, parent_id):
        """(whole fence up, no part of it up)."""
        out = self.call('rbd_header.' + parent_id, 'standalone_fence_status')
        marker, non_primary, lock = out[6], out[7], out[8]
        up = marker and non_primary and lock == 1
        down = not marker and not non_primary and lock == 0
        return up, down

    def registered(self, parent_id, child_id):
        key = 'head_child_%016x..%s' % (self.pool_id, child_id)
        with rados.ReadOpCtx() as op:
            it, _ = self.io.get_omap_vals_by_keys(op, (key,))
            self.io.operate_read_op(op, 'rbd_header.' + parent_id)
            return len(dict(it)) == 1

    def children_count(self, parent_id):
        out = self.call('rbd_header.' + parent_id, 'standalone_children_count')
        return struct.unpack('<Q', out)[0]

    def invariant(self):
        """Every linked child registered on a fully fenced parent."""
        bad = []
        for name in self.images():
            iid = self.image_id(name)
            if iid is None:
                continue
            pid = self.linked_parent(iid)
            if pid is None:
                continue
            up, _ = self.fence(pid)
            if not up:
                bad.append('%s reads through an unfenced parent' % name)
            if not self.registered(pid, iid):
                bad.append('%s is not registered on its parent' % name)
        return bad

    def export(self, name):
        p = subprocess.run([STOCK_RBD, 'export', '--no-progress', self.spec(name), '-'],
                           capture_output=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError('rbd export %s exited %d' % (name, p.returncode))
        return p.stdout


CLONE_OPS = ('clone', 'clone-api')
# The operation's own command, run again, is its repair.
RERUN_OPS = ('rm-parent', 'prune')
# The project's flatten and rm of a child are repaired as the stock ones.
STOCK_VERB = {'pflatten': 'flatten', 'prm': 'rm'}
CLONE_API = ('import os, rados, rbd, rbd_standalone\n'
             'c = rados.Rados(conffile=os.environ["CEPH_CONF"]); c.connect()\n'
             'io = c.open_ioctx(os.environ["POOL"])\n'
             'rbd.RBD().clone_standalone(io, os.environ["PARENT"], io, os.environ["CHILD"])\n')


def setup(c, tag, op):
    parent, child = 'p-' + tag, 'c-' + tag
    c.run([STOCK_RBD, 'create', '--size', '%dM' % (SIZE >> 20), c.spec(parent)])
    c.run([STOCK_RBD, 'bench', '--io-type', 'write', '--io-size', '1M', '--io-total', '2M',
           '--io-pattern', 'seq', c.spec(parent)])
    if op not in CLONE_OPS:
        c.run([c.rbd_cli, 'clone-standalone', c.spec(parent), c.spec(child)])
    if op == 'rm-parent':
        c.run([STOCK_RBD, 'rm', '--no-progress', c.spec(child)])
    if op == 'prune':
        c.call('rbd_header.' + c.image_id(parent), 'standalone_child_attach',
               child_spec(c.pool_id, 'nosuchimage0'))
    c.setup_ids[parent] = c.image_id(parent)
    return parent, child


def operation_argv(c, op, parent, child):
    return {
        'clone': [c.rbd_cli, 'clone-standalone', c.spec(parent), c.spec(child)],
        'clone-api': ['/usr/bin/python3', '-c', CLONE_API],
        'pflatten': [c.rbd_cli, 'flatten', '--no-progress', c.spec(child)],
        'prm': [c.rbd_cli, 'rm', '--no-progress', c.spec(child)],
        'rm-parent': [c.rbd_cli, 'rm', '--no-progress', c.spec(parent)],
        'prune': [c.rbd_cli, 'children', '--prune', c.spec(parent)],
    }.get(op, [STOCK_RBD, op, '--no-progress', c.spec(child)])


def operation_env(c, op, parent, child):
    return {'POOL': c.pool, 'PARENT': parent, 'CHILD': child} if op == 'clone-api' else {}


def repair(c, op, parent, child):
    """What the design document tells users to run; returns the steps."""
    steps = []
    if op == 'rm-parent':
        # Killed before its last call (trash_remove) the removal leaves a
        # trash entry that `rbd ls` still lists: rm by name finishes it.
        if c.header_exists(c.setup_ids[parent]) or parent in c.images():
            c.remove(parent)  # waits out the killed client's watch
            steps.append('rm again')
        return steps
    if op == 'prune':
        c.run(operation_argv(c, op, parent, child))
        return ['prune again']
    op = STOCK_VERB.get(op, op)
    if op in CLONE_OPS:
        iid = c.image_id(child)
        if iid is not None and c.linked_parent(iid) is None:
            c.run([c.rbd_cli, 'rm', '--no-progress', c.spec(child)])
            steps.append('rm half-made child')
        return steps
    out = c.run([c.rbd_cli, 'children', '--all', '--format', 'json', c.spec(parent)]).stdout
    steps.append('children')
    listed = json.loads(out)
    if op == 'rm' and (listed or c.image_id(child) is not None):
        # A killed removal is run again (it may have left the image in the
        # trash, half moved: only rm by name finishes that).
        c.remove(child)
        steps.append('rm again')
    elif any(x.get('state') == 'detaching' for x in listed):
        c.run([c.rbd_cli, op, '--no-progress', c.spec(child)])
        steps.append('%s again' % op)
    if len(steps) > 1:
        c.run([c.rbd_cli, 'children', c.spec(parent)])
        steps.append('children')
    return steps


def check_clean(c, op, parent, child, parent_data):
    """After repair: consistent; then everything removable."""
    bad = c.invariant()
    pid = c.image_id(parent)
    if op == 'rm-parent':
        if c.header_exists(c.setup_ids[parent]) or parent in c.images():
            bad.append('the parent is still there after the repair')
        return bad, 'parent gone'
    if op == 'prune' and c.image_id(child) is None:
        bad.append('the prune removed a live child')
    iid = c.image_id(child)
    linked = iid is not None and c.linked_parent(iid) is not None
    up, down = c.fence(pid)
    n = c.children_count(pid)
    if linked and not (up and n == 1):
        bad.append('linked child but fence up=%s, %d entries' % (up, n))
    if not linked and not (down and n == 0):
        bad.append('no linked child but fence down=%s, %d entries' % (down, n))
    if iid is not None and op not in ('rm', 'prm'):
        if c.export(child) != parent_data:
            bad.append('child data differs from the parent')
    if iid is not None:
        c.remove(child)
    c.remove(parent)
    return bad, ('child linked' if linked else 'child gone' if iid is None else 'child flat')


def trace(c, op, shim, tmp):
    parent, child = setup(c, 'trace-' + op, op)
    path = os.path.join(tmp, 'trace-' + op)
    c.run(operation_argv(c, op, parent, child),
          env=dict(operation_env(c, op, parent, child), LD_PRELOAD=shim,
                   RADOS_SHIM_TRACE=path, RADOS_SHIM_COUNTER=path + '.n'))
    calls = [line.split()[1] for line in open(path)]
    if c.image_id(child) is not None:
        c.run([c.rbd_cli, 'rm', '--no-progress', c.spec(child)])
    if c.image_id(parent) is not None:
        c.run([c.rbd_cli, 'children', '--prune', c.spec(parent)])
        c.run([c.rbd_cli, 'rm', '--no-progress', c.spec(parent)])
    return calls


def prune_race(c, shim):
    """--prune while a clone waits between REGISTER and LINK (the link
    delayed 1.5 s): the registration must survive and the clone finish."""
    bad = []
    parent, child = setup(c, 'prune-race-%d' % os.getpid(), 'clone')
    clone = subprocess.Popen(operation_argv(c, 'clone', parent, child),
                             env=dict(os.environ, LD_PRELOAD=shim,
                                      RADOS_SHIM_DELAY_CALL='standalone_parent_attach:1500'),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    states = set()
    while clone.poll() is None:
        c.run([c.rbd_cli, 'children', '--prune', c.spec(parent)])
        out = c.run([c.rbd_cli, 'children', '--format', 'json', c.spec(parent)]).stdout
        states |= {x['state'] for x in json.loads(out)}
    if clone.returncode != 0:
        bad.append('the clone failed: %s' % clone.stderr.strip()[-300:])
    if 'in_progress' not in states:
        bad.append('the clone was never seen in progress (states %s)' % sorted(states))
    bad += c.invariant()
    iid = c.image_id(child)
    if iid is None or c.linked_parent(iid) is None or not c.fence(c.image_id(parent))[0]:
        bad.append('the child is not linked to a fenced parent after the race')
    c.remove(child)
    c.remove(parent)
    return bad, sorted(states)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pool', default='crash-points-%d' % os.getpid(),
                    help='a pool of its own (created and removed): the checks scan it')
    ap.add_argument('--rbd', required=True, help="the project's rbd")
    ap.add_argument('--shim', required=True)
    ap.add_argument('--ops', default='clone,clone-api,flatten,rm,pflatten,prm,rm-parent,prune')
    ap.add_argument('--every', type=int, default=1,
                    help='kill before every K-th call only (quick runs), plus every '
                         'call of a standalone/child method and the last call')
    ap.add_argument('--no-prune-race', action='store_true',
                    help='skip the prune race (another run covers it)')
    args = ap.parse_args(argv)
    conf = os.environ.get('CEPH_CONF')
    if not conf:
        sys.exit('FAIL: CEPH_CONF is not set')
    subprocess.run(['ceph', 'osd', 'pool', 'create', args.pool, '8', '8'], check=True,
                   capture_output=True)
    subprocess.run([STOCK_RBD, 'pool', 'init', args.pool], check=True)
    try:
        return run_all(args, conf)
    finally:
        subprocess.run(['ceph', 'osd', 'pool', 'rm', args.pool, args.pool,
                        '--yes-i-really-really-mean-it'], capture_output=True)


def run_all(args, conf):
    c = Checker(conf, args.pool, args.rbd)
    passed = failed = 0
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix='crash-points-') as tmp:
        for op in filter(None, args.ops.split(',')):
            calls = trace(c, op, args.shim, tmp)
            print('# %s: %d class calls' % (op, len(calls)), flush=True)
            for n, method in enumerate(calls, 1):
                key = method.split('.', 1)[1]
                if (n % args.every and n != len(calls) and 'standalone' not in key and
                        'child' not in key):
                    continue
                tag = '%s-%d-%d' % (op, n, os.getpid())
                parent, child = setup(c, tag, op)
                parent_data = c.export(parent)
                # One numbering for the client and the stock rbd it may run;
                # the kill takes both (their own process group).
                counter = os.path.join(tmp, tag + '.n')
                p = c.run(operation_argv(c, op, parent, child), check=False, new_session=True,
                          env=dict(operation_env(c, op, parent, child), LD_PRELOAD=args.shim,
                                   RADOS_SHIM_KILL_AT_CALL=str(n), RADOS_SHIM_COUNTER=counter,
                                   RADOS_SHIM_KILL_GROUP='1'))
                killed = p.returncode == -9
                after_kill = c.invariant()
                try:
                    steps = repair(c, op, parent, child)
                    bad, end = check_clean(c, op, parent, child, parent_data)
                except RuntimeError as e:
                    steps, bad, end = ['?'], [str(e)], 'stuck'
                bad = after_kill + bad
                rows.append((op, n, method, 'killed' if killed else 'rc %d' % p.returncode,
                             end, '+'.join(steps) or '-', 'ok' if not bad else 'FAIL'))
                if bad:
                    failed += 1
                    for b in bad:
                        print('FAIL: %s before call %d (%s): %s' % (op, n, method, b), flush=True)
                else:
                    passed += 1
    if not args.no_prune_race:
        bad, states = prune_race(c, args.shim)
        rows.append(('prune', 0, 'rbd.standalone_parent_attach +1.5 s', 'racing',
                     ','.join(states), '-', 'ok' if not bad else 'FAIL'))
        for b in bad:
            print('FAIL: prune race: %s' % b, flush=True)
        passed, failed = passed + (not bad), failed + bool(bad)
    print('%-8s %4s  %-40s %-8s %-12s %-22s %s' % ('op', 'call', 'killed before', 'process',
                                                   'end state', 'repair', 'check'))
    for r in rows:
        print('%-8s %4d  %-40s %-8s %-12s %-22s %s' % r)
    print('# %d kill points in %.0f s' % (len(rows), time.time() - t0))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
