#!/usr/bin/python3
"""Regression checks for three defects found by trying the design from outside.

L1  malformed registry entries.  More than one page (4096) of head_child_
    keys written raw, with values that name other children, plus keys that
    no child spec produces and values that do not decode.  One listing call
    must return, `rbd children` must report every entry (and terminate),
    the OSD must keep serving other requests, and `rbd children --prune`
    must drop them all, after which the parent is unfenced.
C1  parent cycles.  The OSD refuses to link an image to itself or to one of
    its own HEAD children, and to register an image's own parent (or the
    image itself) as its child (-ELOOP); a clone of an image whose parent
    chain loops (written raw) fails with ELOOP instead of hanging.
T1  a parent removed by stock `rbd rm` while being cloned.  The rm is
    held (shim delay) right after it moved the parent to the trash, and the
    clone registers on the parent at that moment: the clone must fail and
    leave nothing, and the rm must finish (the parent is gone everywhere).
    Then the other order: a clone that registered first makes the rm fail
    before it moves anything, and the parent stays usable.
F1  a clone racing the removal of the last child.  The clone reads the
    fence up, the last child's removal lowers it (a client that has the
    parent open read-write refreshes and may write again), then the
    clone's attach raises it: the clone must know it raised it, look for
    writers and fail with EBUSY, so that the writer's write lands at once
    instead of waiting behind the fence's lock.

Needs CEPH_CONF (a cluster with the overlay), the project's rbd (--rbd) and
the librados fault shim (--shim).  Run with /usr/bin/python3.
"""

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time

import rados

from rbd_wire import NOSNAP, child_spec, envelope, enc_str, parent_spec

STOCK_RBD = '/usr/bin/rbd'
POOL = 'rbd'
ELOOP = 40


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        print(('ok    ' if ok else 'FAIL  ') + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def run(argv, env=None, timeout=120):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, **(env or {})))
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return 'timeout', '', ''


class Cluster:
    def __init__(self, rbd, shim):
        self.rbd = rbd
        self.shim = shim
        self.rados = rados.Rados(conffile=os.environ['CEPH_CONF'],
                                 conf={'rados_osd_op_timeout': '60'})
        self.rados.connect()
        self.io = self.rados.open_ioctx(POOL)
        self.pool_id = self.rados.pool_lookup(POOL)

    def image_id(self, name):
        return self.io.read('rbd_id.' + name)[4:].decode()

    def call(self, oid, method, payload=b''):
        """(errno or 0, output)."""
        try:
            _, out = self.io.execute(oid, 'rbd', method, payload, length=1 << 22)
            return 0, out
        except rados.Error as e:
            return getattr(e, 'errno', -1), b''

    def set_omap(self, oid, pairs):
        with rados.WriteOpCtx() as op:
            self.io.set_omap(op, tuple(k for k, _ in pairs), tuple(v for _, v in pairs))
            self.io.operate_write_op(op, oid)

    def remove_omap(self, oid, keys):
        with rados.WriteOpCtx() as op:
            self.io.remove_omap_keys(op, tuple(keys))
            self.io.operate_write_op(op, oid)

    def fence_marked(self, image_id):
        r, out = self.call('rbd_header.' + image_id, 'standalone_fence_status')
        return r == 0 and out[6] == 1  # after the (1,1) envelope: u8 marker

    def count(self, image_id):
        r, out = self.call('rbd_header.' + image_id, 'standalone_children_count')
        return struct.unpack('<Q', out[:8])[0] if r == 0 else None

    def create(self, name, size='8M'):
        return run([STOCK_RBD, 'create', f'{POOL}/{name}', '--size', size])[0] == 0

    def listed(self, name):
        return name in run([STOCK_RBD, 'ls', POOL])[1].split()


def head_child_key(pool_id, image_id):
    return f'head_child_{pool_id:016x}..{image_id}'


def entry_value(pool_id, image_id):
    """A v3 HeadChildEntry: ChildImageSpec fields, state ATTACHED, time 0."""
    return envelope(3, 1, struct.pack('<q', pool_id) + enc_str(image_id) + enc_str('') +
                    b'\0' + struct.pack('<II', 0, 0))


def check_malformed_entries(c, ck):
    print('== L1: malformed registry entries')
    if not ck.check(c.create('l1p') and run([c.rbd, 'clone-standalone', f'{POOL}/l1p',
                                              f'{POOL}/l1c'])[0] == 0, 'parent with one child'):
        return
    pid = c.image_id('l1p')
    oid = 'rbd_header.' + pid
    # 4200 keys whose values name other children (the paging of v3 went by
    # values), 3 undecodable values, 3 keys head_child_key() never writes.
    raw = [(head_child_key(c.pool_id, f'zz{i:05d}'), entry_value(c.pool_id, f'aa{i:05d}'))
           for i in range(4200)]
    raw += [(head_child_key(c.pool_id, f'zy{i}'), b'\xff' * i) for i in range(3)]
    raw += [(f'head_child_junk{i}', b'') for i in range(3)]
    for i in range(0, len(raw), 1000):
        c.set_omap(oid, raw[i:i + 1000])
    expected = len(raw) + 1

    start = time.monotonic()
    r, out = c.call(oid, 'standalone_children_list',
                    child_spec(-1, '') + struct.pack('<Q', 4096))
    n = struct.unpack('<I', out[:4])[0] if r == 0 else -1
    ck.check(r == 0 and 0 < n <= 4096 and time.monotonic() - start < 30,
             f'one listing call returns a page ({r}, {n} entries, '
             f'{time.monotonic() - start:.1f} s)')
    r, out = c.call(oid, 'children_list', struct.pack('<Q', NOSNAP))
    n = struct.unpack('<I', out[:4])[0] if r == 0 else -1
    ck.check(r == 0 and n == expected - 3,
             f'stock-format children_list returns every well-keyed entry ({n})')
    ck.check(c.count(pid) == expected, f'the count sees all {expected} keys')

    rc, out, err = run([c.rbd, 'children', '--all', f'{POOL}/l1p'], timeout=180)
    lines = out.splitlines()
    ck.check(rc == 0 and len(lines) == expected,
             f'rbd children terminates and lists {expected} entries (rc {rc}, '
             f'{len(lines)} lines)')
    ck.check(any('l1c' in line for line in lines) and
             sum('junk' in line for line in lines) == 3,
             'the real child and the 3 odd keys are among them')
    ck.check(run([STOCK_RBD, 'create', f'{POOL}/l1other', '--size', '1M'], timeout=60)[0] == 0,
             'the OSD serves other requests meanwhile')

    rc, _, err = run([c.rbd, 'children', '--prune', f'{POOL}/l1p'], timeout=300)
    ck.check(rc == 0 and c.count(pid) == 1,
             f'--prune drops every malformed entry and keeps the child '
             f'(rc {rc}, {c.count(pid)} left) {err.strip()[-200:]}')
    ck.check(c.fence_marked(pid), 'the parent stays fenced for its child')
    ok = run([c.rbd, 'rm', f'{POOL}/l1c'])[0] == 0 and c.count(pid) == 0
    ck.check(ok and not c.fence_marked(pid), 'removing the child lowers the fence')
    ck.check(run([c.rbd, 'rm', f'{POOL}/l1p'])[0] == 0 and
             run([STOCK_RBD, 'rm', f'{POOL}/l1other'])[0] == 0, 'cleanup')


def check_cycles(c, ck):
    print('== C1: parent cycles')
    if not ck.check(c.create('c1p') and run([c.rbd, 'clone-standalone', f'{POOL}/c1p',
                                              f'{POOL}/c1c'])[0] == 0, 'parent with one child'):
        return
    p, ch = c.image_id('c1p'), c.image_id('c1c')
    ph, chh = 'rbd_header.' + p, 'rbd_header.' + ch
    ttl = struct.pack('<Q', 60)
    ck.check(c.call(ph, 'standalone_parent_prepare', parent_spec(c.pool_id, ch) + ttl)[0]
             == ELOOP, 'prepare: the parent cannot link to its own child (ELOOP)')
    ck.check(c.call(ph, 'standalone_parent_prepare', parent_spec(c.pool_id, p) + ttl)[0]
             == ELOOP, 'prepare: an image cannot link to itself (ELOOP)')
    ck.check(c.call(ph, 'standalone_parent_attach',
                    parent_spec(c.pool_id, ch) + struct.pack('<Q', 1 << 20))[0] == ELOOP,
             'attach: the parent cannot link to its own child (ELOOP)')
    ck.check(c.call(chh, 'standalone_child_attach', child_spec(c.pool_id, p))[0] == ELOOP,
             'the child cannot register its parent as its child (ELOOP)')
    ck.check(c.call(ph, 'child_attach',
                    struct.pack('<Q', NOSNAP) + child_spec(c.pool_id, p))[0] == ELOOP,
             'child_attach(NOSNAP): a parent cannot be its own child (ELOOP)')
    ck.check(c.call(chh, 'child_attach',
                    struct.pack('<Q', NOSNAP) + child_spec(c.pool_id, ch))[0] == 2,
             'on an image that is no standalone parent, child_attach(NOSNAP) is stock (ENOENT)')
    ck.check(c.count(ch) == 0 and c.count(p) == 1, 'nothing registered by the refusals')

    # A loop written raw (as an old overlay could): c1p's parent is c1c.
    record = envelope(2, 2, struct.pack('<q', c.pool_id) + enc_str('') + enc_str(ch) +
                      struct.pack('<QBQ', NOSNAP, 1, 8 << 20))
    c.set_omap(ph, [('parent', record)])
    rc, _, err = run([c.rbd, 'clone-standalone', f'{POOL}/c1c', f'{POOL}/c1x'], timeout=60)
    ck.check(rc == ELOOP and 'loops' in err,
             f'a clone from a looped chain fails with ELOOP, no hang (rc {rc})')
    ck.check(not c.listed('c1x'), 'and leaves nothing')
    c.remove_omap(ph, ['parent'])
    ck.check(run([c.rbd, 'rm', f'{POOL}/c1c'])[0] == 0 and
             run([c.rbd, 'rm', f'{POOL}/c1p'])[0] == 0, 'cleanup')


def check_trashed_parent(c, ck):
    print('== T1: stock rm of a parent racing its first clone')
    shim = {'LD_PRELOAD': c.shim}
    if not ck.check(c.create('t1p'), 'parent'):
        return
    pid = c.image_id('t1p')
    # The clone opens the parent now and registers 4 s later; the rm moves
    # the parent to the trash at once and then waits 6 s before removing it.
    clone = subprocess.Popen([c.rbd, 'clone-standalone', f'{POOL}/t1p', f'{POOL}/t1c'],
                             env=dict(os.environ, RADOS_SHIM_DELAY_CALL='standalone_fence_status:4000',
                                      **shim), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    time.sleep(0.5)
    rm_rc = run([STOCK_RBD, 'rm', f'{POOL}/t1p'],
                env=dict(RADOS_SHIM_DELAY_CALL='trash_get:6000', **shim))[0]
    clone_err = clone.communicate(timeout=120)[1]
    ck.check(clone.returncode != 0 and 'trash' in clone_err,
             f'the clone fails: the parent went to the trash (rc {clone.returncode})')
    ck.check(rm_rc == 0, f'the stock rm finishes (rc {rm_rc})')
    ck.check(not c.listed('t1p') and not c.listed('t1c') and
             c.call('rbd_header.' + pid, 'get_size', struct.pack('<Q', NOSNAP))[0] == 2,
             'parent and child are gone (no header left in the trash)')

    # The other order: the first clone fences the parent before the rm opens it.
    ok = c.create('t1q') and run([c.rbd, 'clone-standalone', f'{POOL}/t1q',
                                  f'{POOL}/t1d'])[0] == 0
    rc, _, err = run([STOCK_RBD, 'rm', f'{POOL}/t1q'])
    ck.check(ok and rc != 0 and c.listed('t1q'),
             f'a fenced parent: stock rm refuses before moving it (rc {rc})')
    ck.check(run([STOCK_RBD, 'trash', 'ls', '--all', POOL])[1].strip() == '',
             'nothing was left in the trash')
    ck.check(run([c.rbd, 'rm', f'{POOL}/t1d'])[0] == 0 and
             run([STOCK_RBD, 'rm', f'{POOL}/t1q'])[0] == 0,
             'after its child, the parent is removed by stock rm')


WRITER = """
import os, sys, time, rados, rbd
c = rados.Rados(conffile=os.environ['CEPH_CONF']); c.connect()
img = rbd.Image(c.open_ioctx(sys.argv[1]), sys.argv[2])
print('ready', flush=True)
go = sys.argv[3]
while not os.path.exists(go):
    img.read(0, 4096)  # like QEMU: every I/O refreshes when told to
    time.sleep(0.05)
t = time.monotonic()
try:
    img.write(b'W' * 4096, 0)
    print('landed %.1f' % (time.monotonic() - t), flush=True)
except rbd.Error as e:
    print('refused %s' % e, flush=True)
"""


def check_clone_racing_last_detach(c, ck, tmp):
    print('== F1: a clone racing the removal of the last child')
    ok = c.create('f1p') and run([c.rbd, 'clone-standalone', f'{POOL}/f1p', f'{POOL}/f1a'])[0] == 0
    if not ck.check(ok, 'parent with one child'):
        return
    go = os.path.join(tmp, 'f1.go')
    writer = subprocess.Popen(['/usr/bin/python3', '-c', WRITER, POOL, 'f1p', go],
                              stdout=subprocess.PIPE, text=True)
    ck.check(writer.stdout.readline().strip() == 'ready', 'a client opened the parent read-write')
    clone = subprocess.Popen([c.rbd, 'clone-standalone', f'{POOL}/f1p', f'{POOL}/f1b'],
                             env=dict(os.environ, LD_PRELOAD=c.shim,
                                      RADOS_SHIM_DELAY_CALL='standalone_child_attach:6000'),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    ck.check(run([c.rbd, 'rm', '--no-progress', f'{POOL}/f1a'])[0] == 0,
             'the last child is removed while the clone waits to attach')
    err = clone.communicate(timeout=120)[1]
    ck.check(clone.returncode == 16 and 'open for writing' in err,
             f'the clone fails with EBUSY naming the writer (rc {clone.returncode})')
    pid = c.image_id('f1p')
    ck.check(not c.listed('f1b') and c.count(pid) == 0 and not c.fence_marked(pid),
             'and leaves no child, no entry, no fence')
    open(go, 'w').close()
    try:
        out, _ = writer.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        writer.kill()
        out = 'blocked'
    ck.check(out.startswith('landed') and float(out.split()[1]) < 5,
             f'the writer\'s write lands at once ({out.strip()})')
    ck.check(run([c.rbd, 'rm', '--no-progress', f'{POOL}/f1p'])[0] == 0, 'cleanup')


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rbd', default=os.environ.get('PROJECT_RBD', 'build/bin/rbd'))
    ap.add_argument('--shim', required=True)
    args = ap.parse_args(argv)
    c = Cluster(args.rbd, args.shim)
    ck = Checks()
    check_cycles(c, ck)
    check_trashed_parent(c, ck)
    check_malformed_entries(c, ck)
    with tempfile.TemporaryDirectory(prefix='registry-defects-') as tmp:
        check_clone_racing_last_detach(c, ck, tmp)
    print(f'{ck.passed} passed, {ck.failed} failed')
    return 1 if ck.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
