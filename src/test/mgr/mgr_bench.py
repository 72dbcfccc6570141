#!/usr/bin/python3
"""Benchmark of the rbd_standalone ceph-mgr module.

Prints one line per figure:

  flatten N=1 / N=4: K children of a parent of M 4-MiB objects, all queued
      (queue paused), then max_concurrent_flattens=N: seconds until all are
      flattened and their detaches completed -> children/s and MiB/s copied
  scan C children: a tick (one parent with C standalone children) timed
      by the module itself (status last_scan.duration), median of 3

Usage: mgr_bench.py [--children 1000,10000] [--flatten-children 8]
                    [--objects 32] [--dir /tmp/mgr-bench] [--mon-port 18230]
Run from the repository root with /usr/bin/python3 and
PYTHONPATH=build/lib/python.
"""

import argparse
import concurrent.futures
import json
import os
import statistics
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--children', default='1000,10000')
    ap.add_argument('--flatten-children', type=int, default=8)
    ap.add_argument('--objects', type=int, default=32)
    ap.add_argument('--concurrency', default='1,4')
    ap.add_argument('--dir', default='/tmp/mgr-bench')
    ap.add_argument('--mon-port', type=int, default=18230)
    ap.add_argument('--repo', default=REPO)
    ap.add_argument('--build-dir', default=None,
                    help='the CMake build tree (default: REPO/build)')
    ap.add_argument('--keep', action='store_true')
    args = ap.parse_args()
    vstart = os.path.join(args.repo, 'src', 'vstart.sh')
    build = args.build_dir or os.path.join(args.repo, 'build')
    subprocess.run([vstart, 'start', '--dir', args.dir, '--mon-port', str(args.mon_port),
                    '--memstore-bytes', str(6 << 30),
                    '--class-dir', os.path.join(build, 'lib', 'rados-classes'), '--mgr',
                    '--mgr-module-dir', os.path.join(args.repo, 'src', 'pybind', 'mgr'),
                    '--mgr-python-path', os.path.join(build, 'lib', 'python')],
                   check=True, stdout=subprocess.DEVNULL)
    conf = os.path.join(args.dir, 'ceph.conf')
    try:
        bench(args, conf)
    finally:
        if not args.keep:
            subprocess.run([vstart, 'stop', '--dir', args.dir], check=False)


def ceph(conf, *a):
    for attempt in range(5):
        p = subprocess.run(['ceph', '-c', conf] + list(a), text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
        # A busy machine: the CLI could not fetch the command table in time.
        if p.returncode == 0 or 'problem getting command descriptions' not in p.stderr:
            break
        time.sleep(2)
    if p.returncode != 0:
        raise RuntimeError('ceph %s: %s' % (' '.join(a), p.stderr))
    return p.stdout


def wait_for(pred, timeout, step=0.2):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise TimeoutError('timed out')
        time.sleep(step)


def bench(args, conf):
    import rbd_standalone  # noqa: F401
    ceph(conf, 'mgr', 'module', 'enable', 'rbd_standalone')
    wait_for(lambda: subprocess.run(['ceph', '-c', conf, 'rbd', 'standalone', 'status'],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL).returncode == 0, 90, 1)
    ceph(conf, 'config', 'set', 'mgr', 'mgr/rbd_standalone/scan_interval', '3600')
    r = rados.Rados(conffile=conf)
    r.connect()
    io = r.open_ioctx('rbd')
    R = rbd.RBD()
    status = lambda: json.loads(ceph(conf, 'rbd', 'standalone', 'status', '--format', 'json'))

    # -- flatten throughput
    for n in [int(x) for x in args.concurrency.split(',')]:
        parent = 'fp%d' % n
        R.create(io, parent, args.objects * OBJ, features=FEATURES)
        with rbd.Image(io, parent) as im:
            for i in range(args.objects):
                im.write(bytes([i % 251 + 1]) * OBJ, i * OBJ)
        kids = ['f%d_%d' % (n, k) for k in range(args.flatten_children)]
        for k in kids:
            R.clone_standalone(io, parent, io, k)
        ceph(conf, 'config', 'set', 'mgr', 'mgr/rbd_standalone/max_concurrent_flattens', '0')
        ceph(conf, 'rbd', 'standalone', 'flatten-threshold', 'set', 'global', '0.01')
        for k in kids:
            with rbd.Image(io, k) as im:
                im.write(b'x' * 4096, 0)
        ceph(conf, 'rbd', 'standalone', 'scan')
        ceph(conf, 'rbd', 'standalone', 'scan')
        queued = len(status()['flatten_queue'])
        assert queued == len(kids), 'queued %d of %d' % (queued, len(kids))
        t0 = time.time()
        ceph(conf, 'config', 'set', 'mgr', 'mgr/rbd_standalone/max_concurrent_flattens', str(n))

        def all_done():
            with rbd.Image(io, parent, read_only=True) as im:
                return not im.features() & (1 << 10)
        wait_for(all_done, 1800)
        dt = time.time() - t0
        mib = len(kids) * (args.objects - 1) * OBJ / float(1 << 20)
        print('flatten N=%d: %d children x %d MiB in %.1fs: %.2f children/s, %.0f MiB/s copied '
              '(fence lifted at the end)' % (n, len(kids), args.objects * 4, dt,
                                             len(kids) / dt, mib / dt), flush=True)
        ceph(conf, 'rbd', 'standalone', 'flatten-threshold', 'rm', 'global')
        for k in kids:
            R.remove(io, k)
        R.remove(io, parent)

    # -- scan cost
    R.create(io, 'sp', 4 * OBJ, features=FEATURES)
    with rbd.Image(io, 'sp') as im:
        im.write(b'p' * 4096, 0)
    made = 0
    for target in [int(x) for x in args.children.split(',')]:
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: R.clone_standalone(io, 'sp', io, 's%06d' % i),
                        range(made, target)))
        made = target
        clone_s = time.time() - t0
        ceph(conf, 'rbd', 'standalone', 'scan')
        durations = []
        for _ in range(3):
            ceph(conf, 'rbd', 'standalone', 'scan')
            st = status()
            durations.append(st['last_scan']['duration'])
            n = sum(len(p['children']) for p in st['parents'])
        print('scan %d children: tick %.2fs (median of 3; %d children measured, '
              'discovery batch 2000 included; %d clones made in %.0fs)' % (
                  target, statistics.median(durations), n, target, clone_s), flush=True)
    io.close()
    r.shutdown()


if __name__ == '__main__':
    sys.exit(main())
