#!/usr/bin/python3
"""Checks of the rbd_standalone ceph-mgr module on a real cluster.

Starts its own cluster (src/vstart.sh --mgr with the module directory and
the binding on the mgr's PYTHONPATH), enables the module, and checks:

  A. auto-flatten: a child whose writes reach its threshold (image scope)
     is flattened with its data unchanged; one below its threshold (global
     scope) is left alone; the parent stays fenced while children remain
  B. detach completion: a stock flatten (python3-rbd) of a child is
     completed by the module, without any project client listing
  C. a mgr killed (SIGKILL) with flattens queued -> the next mgr reloads the
     queue from RADOS and runs it; the fence lifts with the last child;
     progress events; (full mode: also a kill during a running flatten)
  D. health: stale registration, child whose parent is missing, OSD
     without the overlay:
     each raised, then cleared once fixed
  E. status output, plain and JSON

Usage: mgr_standalone.py [--quick] [--dir /tmp/mgr-test] [--mon-port 18210] [--keep]
Run with Debian's /usr/bin/python3 from the repository root (or set
--repo); PYTHONPATH must hold build/lib/python.
"""

import argparse
import hashlib
import json
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
NON_PRIMARY = 1 << 10

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print('ok   %s' % what, flush=True)
    else:
        failed += 1
        print('FAIL %s' % what, flush=True)
    return cond


def wait_for(pred, timeout, step=0.5):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


class Cluster:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.conf = os.path.join(self.dir, 'ceph.conf')
        self.vstart = os.path.join(args.repo, 'src', 'vstart.sh')

    def start(self):
        build = self.args.build_dir or os.path.join(self.args.repo, 'build')
        out = subprocess.run(
            [self.vstart, 'start', '--dir', self.dir, '--mon-port', str(self.args.mon_port),
             '--class-dir', os.path.join(build, 'lib', 'rados-classes'), '--mgr',
             '--mgr-module-dir', os.path.join(self.args.repo, 'src', 'pybind', 'mgr'),
             '--mgr-python-path', os.path.join(build, 'lib', 'python')],
            stdout=subprocess.PIPE, check=True, text=True).stdout
        assert 'CEPH_CONF' in out
        os.environ['CEPH_CONF'] = self.conf

    def stop(self):
        subprocess.run([self.vstart, 'stop', '--dir', self.dir], check=False)

    def vs(self, *a):
        subprocess.run([self.vstart] + list(a) + ['--dir', self.dir], check=True,
                       stdout=subprocess.DEVNULL)

    def ceph(self, *a, check_rc=True):
        for attempt in range(5):
            p = subprocess.run(['ceph', '-c', self.conf] + list(a), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=120)
            # A busy machine: the CLI could not fetch the command table in time.
            if 'problem getting command descriptions' not in p.stderr:
                break
            time.sleep(2)
        if check_rc and p.returncode != 0:
            raise RuntimeError('ceph %s: %s' % (' '.join(a), p.stderr))
        return p.stdout

    def status(self):
        return json.loads(self.ceph('rbd', 'standalone', 'status', '--format', 'json'))

    def health(self):
        return json.loads(self.ceph('health', 'detail', '--format', 'json'))['checks']

    def module_ready(self):
        p = subprocess.run(['ceph', '-c', self.conf, 'rbd', 'standalone', 'status'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode == 0


def pattern(seed, length):
    out = b''
    i = 0
    while len(out) < length:
        out += hashlib.sha256(b'%s-%d' % (seed, i)).digest() * 128
        i += 1
    return out[:length]


def digest(ioctx, name):
    with rbd.Image(ioctx, name, read_only=True) as im:
        size = im.size()
        h = hashlib.sha256()
        for off in range(0, size, OBJ):
            h.update(im.read(off, min(OBJ, size - off)))
        return h.hexdigest()


def has_parent(ioctx, name):
    with rbd.Image(ioctx, name, read_only=True) as im:
        try:
            im.parent_id()
            return True
        except rbd.ImageNotFound:
            return False


def registry_keys(ioctx, image_id):
    with rados.ReadOpCtx() as op:
        it, _ = ioctx.get_omap_vals(op, '', 'head_child_', 4096)
        ioctx.operate_read_op(op, 'rbd_header.' + image_id)
        return [k for k, _ in it]


def fenced(ioctx, name):
    with rbd.Image(ioctx, name, read_only=True) as im:
        return bool(im.features() & NON_PRIMARY)


def make_parent(ioctx, name, objects, seed):
    rbd.RBD().create(ioctx, name, objects * OBJ, features=FEATURES)
    with rbd.Image(ioctx, name) as im:
        for i in range(objects):
            im.write(pattern(seed + b'%d' % i, OBJ), i * OBJ)
        return im.id()


def write_objects(ioctx, name, objects, tag):
    """Overwrites 4 KiB at the start of each of the given objects: copy-up."""
    with rbd.Image(ioctx, name) as im:
        for i in objects:
            im.write(pattern(tag + b'%d' % i, 4096), i * OBJ)


def expected_digest(ioctx, parent, writes):
    with rbd.Image(ioctx, parent, read_only=True) as im:
        size = im.size()
        data = bytearray(im.read(0, size))
    for tag, objs in writes:
        for i in objs:
            data[i * OBJ:i * OBJ + 4096] = pattern(tag + b'%d' % i, 4096)
    return hashlib.sha256(bytes(data)).hexdigest()


def diff_objects(ioctx, parent, child, written):
    """Objects of child that differ from the parent, other than those written."""
    out = []
    with rbd.Image(ioctx, parent, read_only=True) as p, \
            rbd.Image(ioctx, child, read_only=True) as c:
        for i in range(c.size() // OBJ):
            a, b = p.read(i * OBJ, OBJ), c.read(i * OBJ, OBJ)
            if i in written:
                a, b = a[4096:], b[4096:]
            if a != b:
                out.append('%d%s' % (i, ' (zeros)' if b == bytes(len(b)) else ''))
    return out[:10]


def object_map_invalid(ioctx, name):
    with rbd.Image(ioctx, name, read_only=True) as im:
        return bool(im.flags() & rbd.RBD_FLAG_OBJECT_MAP_INVALID)


def stale_map_bits(ioctx, image_id):
    """Objects the HEAD object map (stock BitVector<2>) says EXISTS (1)
    that do not exist."""
    data = ioctx.read('rbd_object_map.' + image_id, 1 << 20)
    hlen = int.from_bytes(data[0:4], 'little')
    count = int.from_bytes(data[10:18], 'little')
    packed = data[4 + hlen:4 + hlen + (count + 3) // 4]
    out = []
    for i in range(count):
        if (packed[i >> 2] >> (6 - 2 * (i & 3))) & 3 == 1:
            try:
                ioctx.stat('rbd_data.%s.%016x' % (image_id, i))
            except rados.ObjectNotFound:
                out.append(i)
    return out


def plant_stale_bits(cl, ioctx, parent, child, tries=12):
    """Clones child (auto-flatten off for it) and SIGKILLs a stock
    `rbd flatten` of it part-way, until the kill leaves stale map bits;
    breaks the dead owner's lock.  Returns the stale objects ([]: none)."""
    R = rbd.RBD()
    for n in range(tries):
        R.clone_standalone(ioctx, parent, ioctx, child)
        cl.ceph('rbd', 'standalone', 'flatten-threshold', 'set', 'rbd/' + child, '0')
        with rbd.Image(ioctx, child, read_only=True) as im:
            cid = im.id()
        p = subprocess.Popen(['/usr/bin/rbd', '-c', cl.conf, 'flatten', '--no-progress',
                              'rbd/' + child], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(0.6 + 0.25 * n)
        p.send_signal(signal.SIGKILL)
        p.wait()
        with rbd.Image(ioctx, child) as im:
            for owner in list(im.lock_get_owners()):
                im.lock_break(owner['mode'], owner['owner'])
        stale = stale_map_bits(ioctx, cid) if has_parent(ioctx, child) else []
        if stale:
            return stale
        R.remove(ioctx, child)
        R.list_children_standalone(ioctx, parent, snapshots=False)
    return []


def child_row(st, name):
    for p in st['parents']:
        for c in p['children']:
            if c['image'] == name:
                return c
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--dir', default='/tmp/mgr-test')
    ap.add_argument('--mon-port', type=int, default=18210)
    ap.add_argument('--repo', default=REPO)
    ap.add_argument('--build-dir', default=None,
                    help='the CMake build tree (default: REPO/build)')
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()
    if not (18200 <= args.mon_port <= 18399):
        print('note: mon port outside 18200-18399', file=sys.stderr)
    cl = Cluster(args)
    t0 = time.time()
    cl.start()
    try:
        run(cl, args)
    finally:
        if not args.keep:
            cl.stop()
    print('%d passed, %d failed (%.0fs)' % (passed, failed, time.time() - t0))
    return 1 if failed else 0


def run(cl, args):
    cl.ceph('mgr', 'module', 'enable', 'rbd_standalone')
    cl.ceph('config', 'set', 'mgr', 'mgr/rbd_standalone/scan_interval', '1')
    cl.ceph('config', 'set', 'mgr', 'mgr/rbd_standalone/stale_registration_age', '2')
    cl.ceph('progress', 'on', check_rc=False)
    check(wait_for(cl.module_ready, 90), 'module enabled and answering')
    r = rados.Rados(conffile=cl.conf)
    r.connect()
    io = r.open_ioctx('rbd')
    R = rbd.RBD()
    import rbd_standalone  # noqa: F401  (adds clone_standalone to rbd.RBD)

    # ---- A: auto-flatten by threshold ------------------------------------
    pid = make_parent(io, 'pa', 16, b'pa')
    for c in ('a1', 'a2', 'a3'):
        R.clone_standalone(io, 'pa', io, c)
    cl.ceph('rbd', 'standalone', 'flatten-threshold', 'set', 'rbd/a1', '50%')
    cl.ceph('rbd', 'standalone', 'flatten-threshold', 'set', 'global', '0.75')
    got = json.loads(cl.ceph('rbd', 'standalone', 'flatten-threshold', 'get', 'rbd/a2',
                             '--format', 'json'))
    check(got.get('value') is None and got.get('effective') == 0.75 and
          got.get('effective_source') == 'global', 'threshold get: a2 inherits global 0.75')
    write_objects(io, 'a2', range(4), b'a2w')                # 25% < 75%
    exp_a1 = expected_digest(io, 'pa', [(b'a1w', range(10))])
    write_objects(io, 'a1', range(10), b'a1w')               # 62.5% >= 50%
    check(wait_for(lambda: not has_parent(io, 'a1'), 60), 'a1 (62.5% >= 50%) auto-flattened')
    check(digest(io, 'a1') == exp_a1, 'a1 data unchanged by the flatten')
    cl.ceph('rbd', 'standalone', 'scan')
    cl.ceph('rbd', 'standalone', 'scan')
    check(has_parent(io, 'a2'), 'a2 (25% < 75%) not flattened')
    st = cl.status()
    row = child_row(st, 'a2')
    check(row is not None and row['copied_fraction'] == 0.25 and row['threshold'] == 0.75
          and row['threshold_source'] == 'global' and not row['flatten'],
          'status JSON: a2 copied 0.25, threshold 0.75 (global), no flatten queued')
    check(child_row(st, 'a1') is None and len(registry_keys(io, pid)) == 2,
          'a1 detach completed (registry holds a2, a3)')
    check(fenced(io, 'pa'), 'parent still fenced with 2 children')
    plain = cl.ceph('rbd', 'standalone', 'status')
    check('parent rbd/pa' in plain and 'fenced' in plain and 'copied 25.0%' in plain and
          'flatten queue: 0' in plain, 'status plain: parent, fence, fraction, queue')
    check(st['parents'][0]['image'] == 'pa' and st['parents'][0]['fenced'] is True and
          'discovery' in st and 'last_scan' in st, 'status JSON: parent fields')
    pool_only = json.loads(cl.ceph('rbd', 'standalone', 'status', 'nosuchpool',
                                   '--format', 'json'))
    check(pool_only['parents'] == [], 'status [pool] filters by pool')

    # ---- B: detach completion after a stock flatten ----------------------
    qid = make_parent(io, 'pb', 4, b'pb')
    R.clone_standalone(io, 'pb', io, 'b1')
    check(wait_for(lambda: child_row(cl.status(), 'b1') is not None, 30),
          'pb discovered by the module')
    with rbd.Image(io, 'b1') as im:
        im.flatten()                     # stock python3-rbd: only marks the entry
    t = time.time()
    done = wait_for(lambda: not registry_keys(io, qid) and not fenced(io, 'pb'), 30, 0.2)
    check(done, 'stock flatten: detach completed and fence lifted by the module (%.1fs)'
          % (time.time() - t))

    # ---- C: mgr killed with flattens queued ------------------------------
    cl.ceph('config', 'set', 'mgr', 'mgr/rbd_standalone/max_concurrent_flattens', '0')
    exp = {}
    exp['a2'] = expected_digest(io, 'pa', [(b'a2w', range(4)), (b'a2x', range(4, 13))])
    write_objects(io, 'a2', range(4, 13), b'a2x')            # 13/16 = 81% >= 75%
    exp['a3'] = expected_digest(io, 'pa', [(b'a3x', range(13))])
    write_objects(io, 'a3', range(13), b'a3x')
    queued = wait_for(lambda: len(cl.status()['flatten_queue']) == 2, 30)
    check(queued, 'two flattens queued while the queue is paused')
    with rados.ReadOpCtx() as op:
        it, _ = io.get_omap_vals(op, '', 'task_', 100)
        io.operate_read_op(op, 'rbd_standalone_mgr')
        keys = [k for k, _ in it]
    check(len(keys) == 2, 'queue persisted in RADOS (rbd_standalone_mgr: %d task keys)'
          % len(keys))
    cl.vs('restart-mgr', '--kill')
    check(wait_for(cl.module_ready, 90), 'module answering after the mgr was killed')
    st = cl.status()
    check(len(st['flatten_queue']) == 2, 'the new mgr reloaded the 2 queued flattens')
    check(has_parent(io, 'a2') and has_parent(io, 'a3'), 'nothing flattened while paused')
    cl.ceph('config', 'set', 'mgr', 'mgr/rbd_standalone/max_concurrent_flattens', '2')
    check(wait_for(lambda: not has_parent(io, 'a2') and not has_parent(io, 'a3'), 90),
          'queued flattens ran after the restart')
    check(digest(io, 'a2') == exp['a2'] and digest(io, 'a3') == exp['a3'],
          'a2, a3 data unchanged by their flattens')
    check(wait_for(lambda: not fenced(io, 'pa') and not registry_keys(io, pid), 30),
          'fence of pa lifted with its last child')
    with rbd.Image(io, 'pa') as im:
        im.write(b'w' * 4096, 0)
    check(True, 'pa writable again')
    check(wait_for(lambda: not cl.status()['flatten_queue'], 20), 'queue empty')
    prog = json.loads(cl.ceph('progress', 'json'))
    ours = [e for e in prog.get('completed', []) if 'rbd_standalone' in (e.get('refs') or [])]
    check(len(ours) >= 2, 'ceph progress shows the module\'s flattens (%d events)' % len(ours))

    if not args.quick:
        # A kill while a flatten runs: bigger children, one at a time.
        cl.ceph('config', 'set', 'mgr', 'mgr/rbd_standalone/max_concurrent_flattens', '1')
        make_parent(io, 'pc', 64, b'pc')
        for c in ('c1', 'c2', 'c3'):
            R.clone_standalone(io, 'pc', io, c)
            cl.ceph('rbd', 'standalone', 'flatten-threshold', 'set', 'rbd/' + c, '0.01')
        expc = {c: expected_digest(io, 'pc', [(c.encode(), [0])]) for c in ('c1', 'c2', 'c3')}
        for c in ('c1', 'c2', 'c3'):
            write_objects(io, c, [0], c.encode())
        running = wait_for(lambda: any(t['state'] == 'running'
                                       for t in cl.status()['flatten_queue']), 60, 0.1)
        check(running, 'a flatten is running')
        cl.vs('restart-mgr', '--kill')
        check(wait_for(lambda: all(not has_parent(io, c) for c in expc), 180),
              'all flattens finished after a kill during one')
        bad = [c for c in expc if digest(io, c) != expc[c]]
        check(not bad, 'c1-c3 data unchanged%s' % (' (differ: %s)' % ', '.join(
            '%s at objects %s' % (c, diff_objects(io, 'pc', c, [0])) for c in bad) if bad else ''))
        check(wait_for(lambda: not fenced(io, 'pc'), 30), 'fence of pc lifted')
        check(all(not object_map_invalid(io, c) for c in expc),
              'c1-c3 object maps valid after the module\'s flatten')

        # A child whose object map says EXISTS for objects it does not hold:
        # a stock flatten SIGKILLed between a copy-up's map update and its
        # write leaves that.  Stock flatten would skip them and detach the
        # parent (they would read as zeros); the module's must copy them.
        stale = plant_stale_bits(cl, io, 'pc', 'c4')
        check(stale, 'c4: a killed stock flatten left map bits without objects (%s)'
              % ', '.join(map(str, stale)))
        if stale:
            exp4 = expected_digest(io, 'pc', [])
            cl.ceph('rbd', 'standalone', 'flatten-threshold', 'set', 'rbd/c4', '0.01')
            check(wait_for(lambda: not has_parent(io, 'c4'), 120), 'c4 auto-flattened')
            same = digest(io, 'c4') == exp4
            check(same, 'c4 data unchanged by the flatten%s' % (
                '' if same else ' (differ: objects %s)' % diff_objects(io, 'pc', 'c4', [])))
            check(not object_map_invalid(io, 'c4'), 'c4 object map valid after it')
            check(wait_for(lambda: not fenced(io, 'pc'), 30), 'fence of pc lifted again')

    # ---- D: health checks ------------------------------------------------
    sid = make_parent(io, 'pd', 2, b'pd')
    R.clone_standalone(io, 'pd', io, 'd1')
    check(wait_for(lambda: child_row(cl.status(), 'd1') is not None, 30), 'pd discovered')
    fake = 'head_child_%016x.%s.%s' % (io.get_pool_id(), '', 'deadbeef0000')
    with rados.WriteOpCtx() as op:
        io.set_omap(op, (fake,), (b'garbage',))
        io.operate_write_op(op, 'rbd_header.' + sid)
    check(wait_for(lambda: 'RBD_STANDALONE_STALE_REGISTRATION' in cl.health(), 30),
          'HEALTH_WARN RBD_STANDALONE_STALE_REGISTRATION raised')
    st = cl.status()
    check(any(c['id'] == 'deadbeef0000' for c in st['stale_registrations']),
          'status lists the stale registration')
    with rados.WriteOpCtx() as op:
        io.remove_omap_keys(op, (fake,))
        io.operate_write_op(op, 'rbd_header.' + sid)
    check(wait_for(lambda: 'RBD_STANDALONE_STALE_REGISTRATION' not in cl.health(), 30),
          'stale registration warning cleared')

    oid_ = make_parent(io, 'pe', 2, b'pe')
    R.clone_standalone(io, 'pe', io, 'e1')
    check(wait_for(lambda: child_row(cl.status(), 'e1') is not None, 30), 'pe discovered')
    io.remove_object('rbd_header.' + oid_)        # the parent's header vanishes
    check(wait_for(lambda: 'RBD_STANDALONE_PARENT_MISSING' in cl.health(), 30),
          'HEALTH_WARN RBD_STANDALONE_PARENT_MISSING raised')
    check(any(o['image'] == 'e1' for o in cl.status()['orphans']), 'status lists the orphan')
    R.remove(io, 'e1')
    check(wait_for(lambda: 'RBD_STANDALONE_PARENT_MISSING' not in cl.health(), 30),
          'parent-missing warning cleared after the child was removed')

    link = os.path.join(cl.dir, 'rados-classes', 'libcls_rbd.so')
    target = os.readlink(link)
    stock = '/usr/lib/x86_64-linux-gnu/rados-classes/libcls_rbd.so'
    os.unlink(link)
    os.symlink(stock, link)
    cl.vs('restart-osd', '0')
    check(wait_for(lambda: 'RBD_STANDALONE_OVERLAY_MISSING' in cl.health(), 60),
          'HEALTH_WARN RBD_STANDALONE_OVERLAY_MISSING raised (osd.0 on stock cls_rbd)')
    os.unlink(link)
    os.symlink(target, link)
    cl.vs('restart-osd', '0')
    check(wait_for(lambda: 'RBD_STANDALONE_OVERLAY_MISSING' not in cl.health(), 60),
          'overlay warning cleared with the overlay back')
    check(not any(k.startswith('RBD_STANDALONE') for k in cl.health()),
          'no RBD_STANDALONE health check left')
    io.close()
    r.shutdown()


if __name__ == '__main__':
    sys.exit(main())
