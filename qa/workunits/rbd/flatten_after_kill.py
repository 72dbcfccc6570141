#!/usr/bin/python3
"""A flatten killed part-way, then flattened again: the child's data must
be the parent's, object for object.

Stock librbd (16.2) sets a copy-up's HEAD object-map state to EXISTS before
it sends the copy-up write.  A client SIGKILLed between the two leaves
EXISTS on an object that does not exist; stock flatten skips such objects,
removes the parent link, and they read as zeros.  Neither stock
`rbd object-map check` nor `rbd object-map rebuild` notices.

Each run: a fresh child of a parent with data in every object; stock
`/usr/bin/rbd flatten` of it is SIGKILLed after a delay (spread over the
time a whole flatten takes); the dead owner's exclusive lock is broken
(as a live client's lock request does after the watch timeout); the map
bits "EXISTS but no object" are counted; the flatten is redone by the
mgr module's `safe_flatten.flatten` (src/pybind/mgr/rbd_standalone), with
`--redo cli` by the project's `rbd flatten` (librbd/image/FlattenRequest),
or with `--stock` by stock Image.flatten; then every object of the child is
compared with the parent's and the object-map-invalid flag must be clear.

Passes when no object differs and at least one run left such a stale map
bit (else the check proved nothing).  `--stock` is expected to FAIL: it
shows the hazard the module's flatten avoids.

Usage: flatten_after_kill.py [--quick] [--stock | --redo module|cli|stock] [--rbd RBD]
           [--kinds standalone,snapshot]
           [--dir /tmp/inv-fak] [--mon-port 18280] [--build-dir B] [--keep]
           [--conf CEPH_CONF: use a running cluster instead]
Run with Debian's /usr/bin/python3 from the repository root; PYTHONPATH
must hold build/lib/python (the binding, for standalone clones).
"""

import argparse
import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import time

import rados
import rbd

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
OBJ = 4 << 20
FEATURES = (rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK |
            rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF |
            rbd.RBD_FEATURE_DEEP_FLATTEN)
OBJECT_EXISTS = 1


def load_safe_flatten(repo):
    path = os.path.join(repo, 'src', 'pybind', 'mgr', 'rbd_standalone', 'safe_flatten.py')
    spec = importlib.util.spec_from_file_location('rbd_standalone_safe_flatten', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def object_data(i):
    block = hashlib.sha256(b'flatten-after-kill-%d' % i).digest()
    return block * (OBJ // len(block))


def map_states(ioctx, image_id):
    """HEAD object map (stock BitVector<2>): header length, header (u8
    version, u8 compat, u32 length, u64 element count), packed states."""
    data = ioctx.read('rbd_object_map.' + image_id, 1 << 20)
    hlen = int.from_bytes(data[0:4], 'little')
    count = int.from_bytes(data[10:18], 'little')
    packed = data[4 + hlen:4 + hlen + (count + 3) // 4]
    return [(packed[i >> 2] >> (6 - 2 * (i & 3))) & 3 for i in range(count)]


def object_exists(ioctx, oid):
    try:
        ioctx.stat(oid)
        return True
    except rados.ObjectNotFound:
        return False


def has_parent(image):
    try:
        image.parent_id()
        return True
    except rbd.ImageNotFound:
        return False


class Runner:
    def __init__(self, args, ioctx):
        self.args = args
        self.io = ioctx
        self.R = rbd.RBD()
        self.sf = load_safe_flatten(args.repo)
        self.n = args.objects
        self.digests = [hashlib.sha256(object_data(i)).hexdigest() for i in range(self.n)]
        self.totals = {}

    def make_parent(self, kind):
        name = 'fak-parent-' + kind
        self.R.create(self.io, name, self.n * OBJ, features=FEATURES)
        with rbd.Image(self.io, name) as im:
            for i in range(self.n):
                im.write(object_data(i), i * OBJ)
            if kind == 'snapshot':
                im.create_snap('s')
                im.protect_snap('s')
        return name

    def clone(self, kind, parent, child):
        if kind == 'standalone':
            self.R.clone_standalone(self.io, parent, self.io, child)
        else:
            self.R.clone(self.io, parent, 's', self.io, child, features=FEATURES)
        with rbd.Image(self.io, child, read_only=True) as im:
            return im.id()

    def drop(self, kind, parent, child):
        self.R.remove(self.io, child)
        if kind == 'standalone':   # completes the detach (the mgr would)
            self.R.list_children_standalone(self.io, parent, snapshots=False)

    def stock_flatten_cli(self, child):
        return subprocess.Popen(['/usr/bin/rbd', '-c', self.args.conf, 'flatten',
                                 '--no-progress', 'rbd/' + child],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def calibrate(self, kind, parent):
        cid = self.clone(kind, parent, 'fak-cal')
        t0 = time.time()
        p = self.stock_flatten_cli('fak-cal')
        p.wait()
        took = time.time() - t0
        self.drop(kind, parent, 'fak-cal')
        del cid
        return took

    def retry_flatten(self, image_id, child):
        if self.args.redo == 'stock':
            with rbd.Image(self.io, image_id=image_id) as im:
                im.flatten()
        elif self.args.redo == 'cli':
            subprocess.run([self.args.rbd, '-c', self.args.conf, 'flatten', '--no-progress',
                            'rbd/' + child], check=True)
        else:
            self.sf.flatten(self.io, image_id)

    def run_kind(self, kind):
        parent = self.make_parent(kind)
        took = self.calibrate(kind, parent)
        k = self.args.runs
        delays = [took * (0.12 + 0.8 * i / max(1, k - 1)) for i in range(k)]
        tot = {'runs': 0, 'finished_before_kill': 0, 'runs_with_stale_bits': 0,
               'stale_bits': 0, 'runs_with_bad_objects': 0, 'bad_objects': 0,
               'zero_objects': 0, 'flag_left': 0}
        print('%s clone: a whole flatten takes %.1fs; %d kills' % (kind, took, k), flush=True)
        for n, delay in enumerate(delays):
            child = 'fak-child'
            cid = self.clone(kind, parent, child)
            p = self.stock_flatten_cli(child)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait()
            tot['runs'] += 1
            with rbd.Image(self.io, child) as im:
                linked = has_parent(im)
                for owner in list(im.lock_get_owners()):
                    im.lock_break(owner['mode'], owner['owner'])
            if not linked:
                tot['finished_before_kill'] += 1
                print('  run %2d kill at %.2fs: flatten had finished' % (n, delay), flush=True)
                self.drop(kind, parent, child)
                continue
            states = map_states(self.io, cid)
            stale = [i for i in range(self.n) if states[i] == OBJECT_EXISTS and
                     not object_exists(self.io, 'rbd_data.%s.%016x' % (cid, i))]
            self.retry_flatten(cid, child)
            bad, zeros = [], 0
            with rbd.Image(self.io, child, read_only=True) as im:
                linked = has_parent(im)
                flags = im.flags()
                for i in range(self.n):
                    b = im.read(i * OBJ, OBJ)
                    if hashlib.sha256(b).hexdigest() != self.digests[i]:
                        z = b == bytes(len(b))
                        zeros += z
                        bad.append('%d%s' % (i, ' (zeros)' if z else ''))
            tot['runs_with_stale_bits'] += bool(stale)
            tot['stale_bits'] += len(stale)
            tot['runs_with_bad_objects'] += bool(bad)
            tot['bad_objects'] += len(bad)
            tot['zero_objects'] += zeros
            tot['flag_left'] += bool(flags & rbd.RBD_FLAG_OBJECT_MAP_INVALID)
            print('  run %2d kill at %.2fs: stale map bits %s; after the flatten: '
                  'parent %s, flags %d, objects differing %s' % (
                      n, delay, stale or '-', 'still linked' if linked else 'gone', flags,
                      bad or '-'), flush=True)
            self.drop(kind, parent, child)
        self.totals[kind] = tot
        if kind == 'snapshot':
            with rbd.Image(self.io, parent) as im:
                im.unprotect_snap('s')
                im.remove_snap('s')
        self.R.remove(self.io, parent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='one kind, fewer runs (< 2 min)')
    ap.add_argument('--stock', action='store_true',
                    help='redo the flatten with stock Image.flatten (expected to fail)')
    ap.add_argument('--redo', choices=('module', 'cli', 'stock'), default='module',
                    help="who flattens again: the mgr module's safe_flatten, the project's "
                         "rbd flatten (--rbd), or stock Image.flatten (expected to FAIL)")
    ap.add_argument('--rbd', default=os.environ.get('PROJECT_RBD'),
                    help="the project's rbd, for --redo cli (default: $PROJECT_RBD or "
                         "BUILD/bin/rbd)")
    ap.add_argument('--kinds', default=None, help='standalone,snapshot')
    ap.add_argument('--runs', type=int, default=None)
    ap.add_argument('--objects', type=int, default=None)
    ap.add_argument('--dir', default='/tmp/inv-fak')
    ap.add_argument('--mon-port', type=int, default=18280)
    ap.add_argument('--repo', default=REPO)
    ap.add_argument('--build-dir', default=None)
    ap.add_argument('--conf', default=None, help='a running cluster (not stopped)')
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()
    if args.stock:
        args.redo = 'stock'
    args.kinds = (args.kinds or ('standalone' if args.quick else 'standalone,snapshot')).split(',')
    args.runs = args.runs or (8 if args.quick else 20)
    args.objects = args.objects or (24 if args.quick else 32)
    vstart = os.path.join(args.repo, 'src', 'vstart.sh')
    started = False
    t0 = time.time()
    if args.conf is None:
        build = args.build_dir or os.path.join(args.repo, 'build')
        out = subprocess.run([vstart, 'start', '--dir', args.dir, '--mon-port',
                              str(args.mon_port), '--class-dir',
                              os.path.join(build, 'lib', 'rados-classes')],
                             stdout=subprocess.PIPE, check=True, text=True).stdout
        assert 'CEPH_CONF' in out
        args.conf = os.path.join(args.dir, 'ceph.conf')
        started = True
    if args.rbd is None:
        args.rbd = os.path.join(args.build_dir or os.path.join(args.repo, 'build'), 'bin', 'rbd')
    os.environ['CEPH_CONF'] = args.conf
    import rbd_standalone  # noqa: F401  (adds clone_standalone to rbd.RBD)
    cluster = rados.Rados(conffile=args.conf)
    cluster.connect()
    try:
        with cluster.open_ioctx('rbd') as io:
            r = Runner(args, io)
            for kind in args.kinds:
                r.run_kind(kind)
    finally:
        cluster.shutdown()
        if started and not args.keep:
            subprocess.run([vstart, 'stop', '--dir', args.dir], check=False)
    failed = 0
    how = {'stock': 'stock Image.flatten', 'cli': "the project's rbd flatten",
           'module': 'safe_flatten.flatten (mgr module)'}[args.redo]
    for kind, tot in r.totals.items():
        print('%s, redone by %s: %s' % (kind, how, ', '.join(
            '%s %d' % (k, v) for k, v in tot.items())))
        if tot['bad_objects']:
            failed += 1
            print('FAIL %s: %d object(s) differ from the parent after the second flatten '
                  '(%d all zeros)' % (kind, tot['bad_objects'], tot['zero_objects']))
        if tot['flag_left']:
            failed += 1
            print('FAIL %s: object map left flagged invalid in %d run(s)' % (
                kind, tot['flag_left']))
        if not tot['runs_with_stale_bits']:
            failed += 1
            print('FAIL %s: no kill left a stale object-map bit: nothing was checked '
                  '(try --runs or --objects)' % kind)
    print('%s (%.0fs)' % ('FAILED' if failed else 'PASSED', time.time() - t0))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
