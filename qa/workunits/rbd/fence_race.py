#!/usr/bin/python3
"""Race stock writers against clone-standalone on the same parent.

Each round fences an unfenced parent: writers keep opening the parent
read-write and writing 4 KiB at offset 0 (a unique payload per write)
while the round's clone runs.  After the clone returns, no write may land
in the parent until the round removes the child again (which lowers the
fence).  Checked two ways:

- content: the child's block 0 read right after the clone, the child's
  block 0 and the parent's block 0 read at the end of the round are equal;
- time: no writer reports a successful write that finished after the clone
  returned and before the round began to unfence (python writers close the
  image after each write, and the fence can only be raised once the
  exclusive lock is free, so a write that finished before the fence also
  finished before the clone returned).

Writers (each its own process, with its own librados client):
  py          python3-rbd: open (read-write), write, close
  py-slow     the same with the librados fault shim delaying every watch
              registration (RADOS_SHIM_WATCH_DELAY_MS), so its refresh and its
              header watch are far apart: the open race of FACTS 11
  rbd-bench   stock `rbd bench --io-type write` of one 4 KiB write
  qemu-io     QEMU's rbd driver: `qemu-io -c 'write -P ...'`
(the CLI writers run every half second: a refused `rbd bench` exits
without closing the image, and its watch then makes every clone that
raises the fence fail with EBUSY until the watch times out)

Then two paused writers (SIGSTOP longer than the watch timeout): one that
holds the exclusive lock (the clone must fail with EBUSY naming it) and one
that opened the image but had not written (the clone succeeds; resumed, its
write must not land).

Prints a table of outcomes per kind and exits 1 on any violation.  Needs a
cluster with the overlay (CEPH_CONF), the project's Python module
(PYTHONPATH with rbd_standalone) and the shim (--shim).  Run with
/usr/bin/python3.
"""

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time

import rados
import rbd

import rbd_standalone  # noqa: F401  (adds clone_standalone to rbd.RBD)

BLOCK = 4096
SIZE = 8 << 20
FEATURES = (rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK |
            rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF)

# One python writer process: loops until STOP exists, logging
# "<kind> <t_start> <t_end> <outcome>" per attempt.
PY_WRITER = r'''
import os, random, sys, time, rados, rbd
conf, pool, image, stop, log, kind, idle_ms = sys.argv[1:8]
cl = rados.Rados(conffile=conf); cl.connect()
io = cl.open_ioctx(pool)
out = open(log, 'a', buffering=1)
seq = 0
while not os.path.exists(stop):
    seq += 1
    payload = ('%s-%d-%d-' % (kind, os.getpid(), seq)).encode().ljust(4096, b'.')
    t0 = time.time()
    outcome = 'ok'
    try:
        img = rbd.Image(io, image)
    except rbd.Error as e:
        out.write('%s %f %f open-%s\n' % (kind, t0, time.time(), type(e).__name__))
        time.sleep(0.01)
        continue
    try:
        img.write(payload, 0)
    except rbd.ReadOnlyImage:
        outcome = 'erofs'
    except rbd.Error as e:
        outcome = type(e).__name__
    t1 = time.time()
    try:
        img.close()
    except rbd.Error:
        pass
    out.write('%s %f %f %s\n' % (kind, t0, t1, outcome))
    time.sleep(random.uniform(0, 2 * int(idle_ms)) / 1000.0)
'''


def log(msg):
    print(msg, flush=True)


class Cluster:
    def __init__(self, conf, pool):
        self.conf = conf
        self.pool = pool
        self.rados = rados.Rados(conffile=conf)
        self.rados.connect()
        self.io = self.rados.open_ioctx(pool)
        self.rbd = rbd.RBD()

    def read0(self, name):
        with rbd.Image(self.io, name, read_only=True) as img:
            return img.read(0, BLOCK)

    def remove(self, name):
        # Stock rbd bench exits on a refused write without closing the
        # image: its watch lingers up to the watch timeout.
        for _ in range(90):
            try:
                self.rbd.remove(self.io, name)
                return
            except rbd.ImageBusy:
                time.sleep(1)
        self.rbd.remove(self.io, name)

    def make_parent(self, name):
        self.rbd.create(self.io, name, SIZE, old_format=False, features=FEATURES)
        with rbd.Image(self.io, name) as img:
            img.write(b'P' * BLOCK, 0)
            img.write(b'Q' * BLOCK, SIZE - BLOCK)


class Writers:
    """Writer processes of every kind, stopped by a file."""

    def __init__(self, args, cluster, parent, tmp):
        self.args = args
        self.c = cluster
        self.parent = parent
        self.stop_file = os.path.join(tmp, 'stop')
        self.log_file = os.path.join(tmp, 'writes.log')
        self.procs = []
        self.loops = []

    def start(self):
        env = dict(os.environ)
        argv = [self.c.conf, self.c.pool, self.parent, self.stop_file, self.log_file]
        idle = [str(self.args.writer_idle_ms)]
        for i in range(self.args.py_writers):
            self.procs.append(subprocess.Popen(
                ['/usr/bin/python3', '-c', PY_WRITER] + argv + ['py'] + idle, env=env))
        slow = dict(env, LD_PRELOAD=self.args.shim,
                    RADOS_SHIM_WATCH_DELAY_MS=str(self.args.watch_delay_ms))
        for i in range(self.args.slow_writers):
            self.procs.append(subprocess.Popen(
                ['/usr/bin/python3', '-c', PY_WRITER] + argv + ['py-slow'] + idle, env=slow))
        # The CLI writers: shell loops around one stock command per write.
        spec = '%s/%s' % (self.c.pool, self.parent)
        bench = ('while [ ! -e %s ]; do t0=$(date +%%s.%%N); '
                 'timeout 120 /usr/bin/rbd bench --io-type write --io-size 4K --io-total 4K '
                 '--io-pattern rand %s >/dev/null 2>&1; rc=$?; '
                 'echo "rbd-bench $t0 $(date +%%s.%%N) rc$rc" >>%s; sleep 0.5; done'
                 % (self.stop_file, spec, self.log_file))
        self.loops.append(subprocess.Popen(['bash', '-c', bench]))
        if self.args.qemu:
            target = 'rbd:%s:conf=%s' % (spec, self.c.conf)
            qemu = ('n=0; while [ ! -e %s ]; do n=$((n+1)); t0=$(date +%%s.%%N); '
                    'out=$(timeout 120 qemu-io -f raw -c "write -P $((n %% 200 + 1)) 0 4k" '
                    '"%s" 2>&1); case "$out" in *"wrote 4096/4096"*) o=ok;; '
                    '*"Read-only"*) o=erofs;; *) o=fail;; esac; '
                    'echo "qemu-io $t0 $(date +%%s.%%N) $o" >>%s; sleep 0.5; done'
                    % (self.stop_file, target, self.log_file))
            self.loops.append(subprocess.Popen(['bash', '-c', qemu]))

    def stop(self):
        open(self.stop_file, 'w').close()
        for p in self.procs + self.loops:
            try:
                p.wait(timeout=180)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def records(self):
        out = []
        if not os.path.exists(self.log_file):
            return out
        for line in open(self.log_file):
            parts = line.split()
            if len(parts) == 4:
                out.append((parts[0], float(parts[1]), float(parts[2]), parts[3]))
        return out


def race(args, c, tmp):
    parent = 'race-parent-%d' % os.getpid()
    c.make_parent(parent)
    writers = Writers(args, c, parent, tmp)
    writers.start()
    time.sleep(1)  # let every writer get going
    windows = []    # (t_clone_returned, t_unfence_started) per fenced round
    violations = []
    outcomes = collections.Counter()
    deadline = time.time() + args.max_seconds
    try:
        for i in range(args.rounds):
            if time.time() > deadline:
                log('# time budget reached after %d rounds' % i)
                break
            child = 'race-child-%d-%d' % (os.getpid(), i)
            try:
                c.rbd.clone_standalone(c.io, parent, c.io, child)
            except rbd.ImageBusy as e:
                outcomes['clone refused: writer open (EBUSY)'] += 1
                if 'open for writing' not in str(e):
                    violations.append('round %d: EBUSY without naming the writer: %s' % (i, e))
                time.sleep(0.05)
                continue
            t_ret = time.time()
            outcomes['clone succeeded'] += 1
            first = c.read0(child)
            time.sleep(args.dwell)
            again, parent_now = c.read0(child), c.read0(parent)
            t_unfence = time.time()
            windows.append((t_ret, t_unfence))
            if not (first == again == parent_now):
                violations.append('round %d: child block 0 %r -> %r, parent %r' % (
                    i, first[:24], again[:24], parent_now[:24]))
            c.rbd.remove_standalone(c.io, child)
            time.sleep(args.gap)
    finally:
        writers.stop()
    for kind, t0, t1, outcome in writers.records():
        outcomes['%s: %s' % (kind, outcome)] += 1
        ok = outcome in ('ok', 'rc0')
        if not ok:
            continue
        for t_ret, t_unfence in windows:
            # python writers: the write finished inside a fenced window.
            # CLI writers: the whole command ran inside one.
            inside = (t_ret < t1 < t_unfence) if kind.startswith('py') else \
                (t_ret < t0 and t1 < t_unfence)
            if inside:
                violations.append('%s write finished at %.3f inside fenced window %.3f-%.3f'
                                  % (kind, t1, t_ret, t_unfence))
    c.remove(parent)
    return outcomes, violations, len(windows)


# A python writer for the paused cases: open, optionally write once (taking
# the exclusive lock), tell the parent process, then (after being stopped
# and continued) write again and report.
PAUSED_WRITER = r'''
import sys, time, rados, rbd
conf, pool, image, first_write, report = sys.argv[1:6]
cl = rados.Rados(conffile=conf); cl.connect()
io = cl.open_ioctx(pool)
img = rbd.Image(io, image)
if first_write == '1':
    img.write(b'1' * 4096, 0)
open(report, 'w').write('ready\n')
time.sleep(1)
while open(report).read().strip() != 'go':
    time.sleep(0.1)
try:
    img.write(b'2' * 4096, 0)
    open(report, 'w').write('wrote\n')
except rbd.Error as e:
    open(report, 'w').write('refused %s\n' % type(e).__name__)
'''


def paused(args, c, tmp):
    """Both paused writers at once; returns (outcomes, violations)."""
    outcomes, violations = collections.Counter(), []
    procs = {}
    for holds_lock in (True, False):
        parent = 'paused-%s-%d' % ('locked' if holds_lock else 'idle', os.getpid())
        c.make_parent(parent)
        report = os.path.join(tmp, parent + '.report')
        p = subprocess.Popen(['/usr/bin/python3', '-c', PAUSED_WRITER, c.conf, c.pool, parent,
                              '1' if holds_lock else '0', report])
        procs[holds_lock] = (parent, report, p)
    for parent, report, p in procs.values():
        for _ in range(600):
            if os.path.exists(report) and open(report).read().startswith('ready'):
                break
            time.sleep(0.1)
        os.kill(p.pid, signal.SIGSTOP)
    log('# paused writers stopped; waiting %d s (longer than the watch timeout)'
        % args.pause_seconds)
    time.sleep(args.pause_seconds)
    for holds_lock, (parent, report, p) in procs.items():
        child = parent + '-child'
        kind = 'paused writer %s' % ('holding the lock' if holds_lock else 'not yet writing')
        try:
            c.rbd.clone_standalone(c.io, parent, c.io, child)
            cloned = True
        except rbd.ImageBusy as e:
            cloned = False
            outcomes['%s: clone EBUSY' % kind] += 1
            if not holds_lock or 'lock owner' not in str(e):
                violations.append('%s: unexpected EBUSY: %s' % (kind, e))
        if cloned:
            outcomes['%s: clone succeeded' % kind] += 1
            if holds_lock:
                violations.append('%s: clone succeeded while a writer held the lock' % kind)
            before = c.read0(child)
        open(report, 'w').write('go\n')
        os.kill(p.pid, signal.SIGCONT)
        time.sleep(args.after_resume)
        result = open(report).read().strip()
        result = 'blocked' if result == 'go' else result  # still waiting to write
        outcomes['%s: resumed write %s' % (kind, result)] += 1
        if cloned:
            if result == 'wrote':
                violations.append('%s: its write landed in the fenced parent' % kind)
            if c.read0(child) != before or c.read0(parent) != before:
                violations.append('%s: the child or the parent changed' % kind)
            c.rbd.remove_standalone(c.io, child)
        elif result != 'wrote':
            violations.append('%s: the writer could not write after the refused clone: %s'
                              % (kind, result))
        p.wait(timeout=120)
        c.remove(parent)
    return outcomes, violations


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mode', choices=('quick', 'long'), default='quick')
    ap.add_argument('--pool', default='rbd')
    ap.add_argument('--shim', required=True, help='path of librados_fault_shim.so')
    ap.add_argument('--qemu', action='store_true', help='add a qemu-io writer')
    ap.add_argument('--no-paused', action='store_true', help='skip the paused writers')
    ap.add_argument('--seconds', type=int, help='time budget of the racing rounds '
                    '(default: 45 quick, 1800 long)')
    ap.add_argument('--pause-seconds', type=int, default=40,
                    help='how long the paused writers stay stopped: longer than the '
                         'OSD watch timeout (osd_client_watch_timeout, 30 s by default)')
    args = ap.parse_args(argv)
    quick = args.mode == 'quick'
    args.rounds = 1000 if quick else 100000
    args.max_seconds = args.seconds or (45 if quick else 1800)
    args.writer_idle_ms = 150
    args.py_writers = 2 if quick else 4
    args.slow_writers = 1 if quick else 2
    args.watch_delay_ms = 300
    args.dwell = 0.3
    args.gap = 0.05
    args.after_resume = 5
    conf = os.environ.get('CEPH_CONF')
    if not conf:
        sys.exit('FAIL: CEPH_CONF is not set: start a cluster with the overlay first')
    c = Cluster(conf, args.pool)
    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix='fence-race-') as tmp:
        outcomes, violations, fenced = race(args, c, tmp)
        if not args.no_paused:
            o2, v2 = paused(args, c, tmp)
            outcomes.update(o2)
            violations += v2
    log('# fence race (%s mode): %d fenced rounds in %.0f s' % (args.mode, fenced,
                                                                time.time() - t_start))
    log('%-60s %8s' % ('outcome', 'count'))
    for k in sorted(outcomes):
        log('%-60s %8d' % (k, outcomes[k]))
    for v in violations:
        log('VIOLATION: %s' % v)
    if fenced == 0:
        violations.append('no round got a clone through: nothing was tested')
        log('FAIL: no round got a clone through')
    log('%d passed, %d failed' % (1 if not violations else 0, len(violations)))
    return 1 if violations else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
