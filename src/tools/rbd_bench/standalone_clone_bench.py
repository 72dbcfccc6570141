#!/usr/bin/python3
"""Benchmark of standalone (parentless) RBD clones against their stock
equivalents, on a real Ceph cluster.

    /usr/bin/python3 src/tools/rbd_bench/standalone_clone_bench.py [--quick]
        [--ceph-conf PATH | --mon-port P] [--reps N]
        [--out-json PATH] [--out-png PATH]

Without --ceph-conf it starts its own cluster with src/vstart.sh (memstore,
the overlay from build/lib/rados-classes) in a fresh directory and always
stops it at the end.  With --ceph-conf it uses that cluster (its pool must
exist and the OSDs must have the overlay) and removes what it created.

Cases (each the median of --reps repetitions; the stock equivalent is
measured in the same repetition, in alternating order):
  1. clone creation: `build/bin/rbd clone-standalone` vs stock `rbd snap
     create` + `snap protect` + `clone`, `rbd cp`, `rbd deep cp`, for two
     thin parents (10% of their objects written, evenly spread);
  2. read-through: stock `rbd bench` sequential 4 MiB and random 4 KiB reads
     of inherited data from a standalone child, a snapshot-clone child and the
     parent; `rados bench` seq/rand reads on the same cluster as the ceiling;
  3. first writes (copy-up): stock `rbd bench` random 4 KiB writes into a
     fresh child's inherited objects, standalone vs snapshot clone;
  4. flatten: stock `rbd flatten` of a standalone and a snapshot child;
  5. the parent's child registry: time to attach the n-th child (project CLI
     and Python API), to list n children (`build/bin/rbd children`) and for
     `build/bin/rbd rm` to refuse the parent, for n up to 10,000; the
     registry is filled with real clones through the Python API.

Prints a fixed-width table and a final line "N passed, M failed" (N: cases
completed); writes JSON (every repetition, medians, the machine) and a PNG
of the registry scaling curves.  Exits non-zero if any operation failed
(a command's error, wrong data read back, a wrong listing); a slow figure
never fails the run, it is only reported against its target.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
STOCK_RBD = "/usr/bin/rbd"
RADOS = "/usr/bin/rados"
CEPH = "/usr/bin/ceph"
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
OBJECT = 4 * MiB  # default RBD object size (order 22)

# Sizes of the two modes.  The full mode is what the README reports.
PROFILES = {
    "full": {
        "reps": 5,
        "create_sizes": [1 * GiB, 10 * GiB],
        "written_stride": 10,           # every 10th object written in full: 10%
        "io_size": 1 * GiB,             # read/copy-up/flatten parent, fully written
        "seq_read_passes": 4,           # seq 4 MiB reads: 4 passes over the parent
        "rand_read_total": 128 * MiB,   # rand 4 KiB reads: 32768 ops
        "copyup_writes": 256,           # rand 4 KiB writes into a fresh child
        "rados_rand_seconds": 3,
        "registry_n": [1, 100, 1000, 10000],
        "registry_size": 64 * MiB,
        "memstore_bytes": 16 * GiB,
    },
    "quick": {
        "reps": 1,
        "create_sizes": [64 * MiB, 640 * MiB],
        "written_stride": 10,
        "io_size": 64 * MiB,
        "seq_read_passes": 1,
        "rand_read_total": 4 * MiB,
        "copyup_writes": 16,
        "rados_rand_seconds": 1,
        "registry_n": [1, 10, 100],
        "registry_size": 16 * MiB,
        "memstore_bytes": 3 * GiB,
    },
}

# Targets (from the issue).  Reported, never asserted.
FLAT_TOLERANCE = 1.25   # attach time at n within 25% of the first attach
SIZE_TOLERANCE = 1.10   # clone creation at the big parent within 10% of the small one
IO_TOLERANCE = 0.95     # read-through and copy-up within 5% of the snapshot clone
READ_PAIRS = 3          # standalone/snapshot-clone read pairs per repetition
LIST_TARGET_S = 1.0
RM_TARGET_S = 0.100


class BenchError(Exception):
    """A measured operation failed: the run must exit non-zero."""


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def human_size(n):
    for unit, f in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= f and n % f == 0:
            return "%d %s" % (n // f, unit)
    return "%d B" % n


def median(xs):
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------- cluster ----

class Cluster:
    """Our own vstart cluster, or a given CEPH_CONF."""

    def __init__(self, args, profile):
        self.args = args
        self.profile = profile
        self.own = args.ceph_conf is None
        self.dir = None
        self.made_dir = False
        self.conf = args.ceph_conf
        self.started = False

    def start(self):
        if not self.own:
            if not os.path.exists(self.conf):
                raise BenchError("--ceph-conf %s does not exist" % self.conf)
            return
        if self.args.cluster_dir:
            self.dir = self.args.cluster_dir
        else:
            self.dir = tempfile.mkdtemp(prefix="bench-", dir="/tmp")
            self.made_dir = True
        memstore = self.args.memstore_bytes or self.profile["memstore_bytes"]
        cmd = [os.path.join(ROOT, "src", "vstart.sh"), "start", "--dir", self.dir,
               "--mon-port", str(self.args.mon_port),
               "--class-dir", os.path.join(self.args.build_dir, "lib", "rados-classes"),
               "--memstore-bytes", str(memstore), "--pool", self.args.pool]
        self.started = True  # from here on, stop() must run
        for attempt in (1, 2):
            log("starting cluster: %s" % " ".join(cmd))
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if p.returncode == 0:
                break
            # vstart stops what it started on failure; one retry covers its
            # rare start-up races (e.g. "problem getting command descriptions").
            log("vstart.sh start failed (%d), attempt %d:\n%s"
                % (p.returncode, attempt, p.stderr[-1500:]))
        if p.returncode != 0:
            raise BenchError("vstart.sh start failed (%d):\n%s" % (p.returncode, p.stderr[-3000:]))
        m = re.search(r"export CEPH_CONF=(\S+)", p.stdout)
        if not m:
            raise BenchError("vstart.sh printed no CEPH_CONF: %r" % p.stdout)
        self.conf = m.group(1).strip("'\"")

    def stop(self):
        if not (self.own and self.started):
            return
        log("stopping cluster in %s" % self.dir)
        p = subprocess.run([os.path.join(ROOT, "src", "vstart.sh"), "stop", "--dir", self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            log("vstart.sh stop exited %d: %s" % (p.returncode, p.stderr[-2000:]))
        self.started = False
        # memstore writes its whole contents to the OSD directory on a clean
        # shutdown: drop the directory (ours, or one vstart made) unless asked.
        if not self.args.keep_cluster_dir and (
                self.made_dir or os.path.exists(os.path.join(self.dir, ".vstart-cluster"))):
            shutil.rmtree(self.dir, ignore_errors=True)


# -------------------------------------------------------------- runner ----

BENCH_RE = re.compile(r"elapsed:\s*(\d+)\s+ops:\s*(\d+)\s+ops/sec:\s*([\d.]+)\s+bytes/sec:")


class Runner:
    def __init__(self, args, conf):
        self.args = args
        self.conf = conf
        self.pool = args.pool
        self.project_rbd = os.path.join(args.build_dir, "bin", "rbd")
        self.env = dict(os.environ)
        self.env["CEPH_CONF"] = conf
        self.commands = 0

    def spec(self, image):
        return "%s/%s" % (self.pool, image)

    def run(self, cmd, expect_fail=False):
        """Runs cmd; returns (seconds, CompletedProcess).  A non-zero exit
        (or a zero one when expect_fail) raises BenchError."""
        self.commands += 1
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=self.env)
        dt = time.perf_counter() - t0
        if expect_fail and p.returncode == 0:
            raise BenchError("expected a refusal, but it succeeded: %s" % " ".join(cmd))
        if not expect_fail and p.returncode != 0:
            raise BenchError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                   (p.stderr or p.stdout).strip()[-800:]))
        return dt, p

    def rbd_bench(self, image, io_type, pattern, io_size, io_total):
        """Stock `rbd bench`; its own elapsed time (ops / ops-per-second, as
        it prints whole seconds only) excludes opening the image."""
        _, p = self.run([STOCK_RBD, "bench", "--io-type", io_type, "--io-pattern", pattern,
                         "--io-size", str(io_size), "--io-total", str(io_total),
                         "--io-threads", "16", self.spec(image)])
        m = BENCH_RE.search(p.stdout)
        if not m:
            raise BenchError("cannot parse rbd bench output: %r" % p.stdout[-500:])
        ops, ops_s = int(m.group(2)), float(m.group(3))
        if ops != io_total // io_size or ops_s <= 0:
            raise BenchError("rbd bench on %s did %d of %d ops" % (image, ops, io_total // io_size))
        elapsed = ops / ops_s
        return {"elapsed_s": elapsed, "ops": ops, "iops": ops_s,
                "MiB_s": ops * io_size / elapsed / MiB}

    def rados_bench(self, seconds, mode, run_name, extra=()):
        _, p = self.run([RADOS, "-p", self.pool, "bench", str(seconds), mode, "-t", "16",
                         "--run-name", run_name] + list(extra))
        out = p.stdout

        def field(name):
            m = re.search(r"^%s:\s*([\d.e+]+)" % re.escape(name), out, re.M)
            if not m:
                raise BenchError("cannot parse rados bench %s output (%s): %r"
                                 % (mode, name, out[-500:]))
            return float(m.group(1))
        if mode == "write":
            return {"ops": int(field("Total writes made"))}
        t, n, size = field("Total time run"), int(field("Total reads made")), field("Read size")
        if n <= 0 or t <= 0:
            raise BenchError("rados bench %s read nothing" % mode)
        return {"elapsed_s": t, "ops": n, "iops": n / t, "MiB_s": n * size / t / MiB}


# ------------------------------------------------------------- results ----

class Results:
    def __init__(self):
        self.cases = []
        self.failures = []
        self.raw = {}

    def fail(self, section, err):
        msg = "%s: %s" % (section, err)
        log("FAILED " + msg)
        self.failures.append(msg)

    def add(self, group, case, unit, higher_better, sa_label, sa_reps, st_label, st_reps,
            target=None, note=None, paired=False):
        """target: (kind, value, text) with kind ratio_max, ratio_min,
        abs_max (on the standalone median) or None.  paired: sa_reps[i] and
        st_reps[i] were measured back to back, so the ratio is the median
        of the per-pair ratios (a slow spell of the machine then hits both
        sides of a pair instead of one side's median)."""
        sa_med, st_med = median(sa_reps), median(st_reps)
        if paired and sa_reps and len(sa_reps) == len(st_reps) and all(st_reps):
            ratio = median([a / b for a, b in zip(sa_reps, st_reps)])
        else:
            paired = False
            ratio = sa_med / st_med if sa_med is not None and st_med else None
        met = None
        if target:
            kind, value, _ = target
            if kind == "ratio_max":
                met = ratio is not None and ratio <= value
            elif kind == "ratio_lt":
                met = ratio is not None and ratio < value
            elif kind == "ratio_min":
                met = ratio is not None and ratio >= value
            elif kind == "abs_max":
                met = sa_med is not None and sa_med <= value
        self.cases.append({
            "group": group, "case": case, "unit": unit, "higher_is_better": higher_better,
            "standalone": {"label": sa_label, "reps": sa_reps, "median": sa_med,
                           "min": min(sa_reps) if sa_reps else None,
                           "max": max(sa_reps) if sa_reps else None},
            "stock": {"label": st_label, "reps": st_reps, "median": st_med,
                      "min": min(st_reps) if st_reps else None,
                      "max": max(st_reps) if st_reps else None},
            "ratio": ratio,
            "ratio_of": "median of paired ratios" if paired else "ratio of medians",
            "target": target[2] if target else None,
            "met": met,
            "note": note,
        })


def fmt_value(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.1f ms" % (v * 1e3) if v < 1 else "%.2f s" % v
    if unit == "MiB/s":
        return "%.0f MiB/s" % v
    if unit == "IOPS":
        return "%.0f IOPS" % v
    return "%.3g %s" % (v, unit)


def table(cases):
    rows = [("case", "standalone", "stock (name)", "ratio", "target", "met?")]
    for c in cases:
        st = c["stock"]
        rows.append((c["case"], fmt_value(c["standalone"]["median"], c["unit"]),
                     "%s (%s)" % (fmt_value(st["median"], c["unit"]), st["label"]),
                     ("%.3f" % c["ratio"] + ("p" if c.get("ratio_of", "").startswith("median")
                                             else "")) if c["ratio"] is not None else "-",
                     c["target"] or "-",
                     {True: "yes", False: "NO", None: "-"}[c["met"]]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(v.ljust(widths[i]) for i, v in enumerate(r)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ----------------------------------------------------------- benchmark ----

class Bench:
    def __init__(self, args, profile, runner, results):
        self.args = args
        self.p = profile
        self.r = runner
        self.res = results
        self.reps = args.reps if args.reps else profile["reps"]
        self.prefix = args.prefix or "sb%d" % os.getpid()
        self.created = []         # images to remove at the end (--ceph-conf)
        self.snaps = []           # (image, snap, protected)
        self.rados_runs = []
        self.registry_children = []
        sys.path.insert(0, os.path.join(args.build_dir, "lib", "python"))
        import rados  # noqa: E402  (Debian python3-rados)
        import rbd    # noqa: E402
        import rbd_standalone  # noqa: F401,E402  (adds clone_standalone to rbd.RBD)
        self.rados_mod, self.rbd_mod = rados, rbd
        self.cluster = rados.Rados(conffile=runner.conf)
        self.cluster.connect(timeout=60)
        self.ioctx = self.cluster.open_ioctx(args.pool)
        self.RBD = rbd.RBD()

    def name(self, what):
        return "%s-%s" % (self.prefix, what)

    def close(self):
        try:
            self.ioctx.close()
            self.cluster.shutdown()
        except Exception:  # noqa: BLE001
            pass

    # -- helpers -----------------------------------------------------------

    def create_image(self, name, size):
        self.RBD.create(self.ioctx, name, size, order=22)
        self.created.append(name)

    def write_objects(self, name, objects):
        """Writes random data to whole objects; returns sha256 of the image
        when every object is written (else None)."""
        h = hashlib.sha256()
        with self.rbd_mod.Image(self.ioctx, name) as img:
            size = img.size()
            pending = []
            for o in objects:
                data = os.urandom(OBJECT)
                h.update(data)
                pending.append(img.aio_write(data, o * OBJECT, lambda c: None))
                if len(pending) >= 8:
                    pending.pop(0).wait_for_complete_and_cb()
            for c in pending:
                c.wait_for_complete_and_cb()
            img.flush()
        full = list(objects) == list(range(size // OBJECT))
        return h.hexdigest() if full else None

    def image_sha256(self, name):
        h = hashlib.sha256()
        with self.rbd_mod.Image(self.ioctx, name, read_only=True) as img:
            size = img.size()
            for off in range(0, size, OBJECT):
                h.update(img.read(off, min(OBJECT, size - off)))
        return h.hexdigest()

    def remove(self, name, forget=True):
        # The project's rm: for a standalone child it also completes the
        # detach on the parent, whose fence lifts with its last child.
        self.r.run([self.r.project_rbd, "rm", "--no-progress", self.r.spec(name)])
        if forget and name in self.created:
            self.created.remove(name)

    def clone_standalone_cli(self, parent, child):
        dt, _ = self.r.run([self.r.project_rbd, "clone-standalone", self.r.spec(parent),
                            self.r.spec(child)])
        self.created.append(child)
        return dt

    def snapshot_clone_cli(self, parent, snap, child):
        """The stock three steps; returns (total, [per step])."""
        steps = []
        dt, _ = self.r.run([STOCK_RBD, "snap", "create", "--no-progress",
                            "%s@%s" % (self.r.spec(parent), snap)])
        self.snaps.append([parent, snap, False])
        steps.append(dt)
        dt, _ = self.r.run([STOCK_RBD, "snap", "protect", "%s@%s" % (self.r.spec(parent), snap)])
        self.snaps[-1][2] = True
        steps.append(dt)
        dt, _ = self.r.run([STOCK_RBD, "clone", "%s@%s" % (self.r.spec(parent), snap),
                            self.r.spec(child)])
        self.created.append(child)
        steps.append(dt)
        return sum(steps), steps

    def drop_snapshot(self, parent, snap):
        self.r.run([STOCK_RBD, "snap", "unprotect", "%s@%s" % (self.r.spec(parent), snap)])
        self.r.run([STOCK_RBD, "snap", "rm", "--no-progress", "%s@%s" % (self.r.spec(parent), snap)])
        self.snaps = [s for s in self.snaps if not (s[0] == parent and s[1] == snap)]

    # -- 1. clone creation ---------------------------------------------------

    def bench_creation(self):
        stride = self.p["written_stride"]
        raw = self.res.raw.setdefault("creation", {})
        parents = {}
        for size in self.p["create_sizes"]:
            label = human_size(size)
            parent = self.name("cr%s" % label.replace(" ", "").lower())
            nobj = size // OBJECT
            objects = list(range(0, nobj, stride))
            log("creation: parent %s (%s, %d of %d objects written)"
                % (parent, label, len(objects), nobj))
            self.create_image(parent, size)
            self.write_objects(parent, objects)
            runs = {"clone-standalone": [], "snap create+protect+clone": [], "snap steps": [],
                    "rbd cp": [], "rbd deep cp": []}
            # The standalone/snapshot pair stays back to back (its ratio is
            # taken per pair), its order alternating; the copies rotate round it.
            units = [["standalone", "snapshot"], ["cp"], ["deepcp"]]
            for rep in range(self.reps):
                pair = units[0] if rep % 2 == 0 else units[0][::-1]
                rotated = [pair] + units[1:]
                rotated = rotated[rep % 3:] + rotated[:rep % 3]
                for kind in [k for unit in rotated for k in unit]:
                    if kind == "standalone":
                        child = self.name("cs%d" % rep)
                        runs["clone-standalone"].append(self.clone_standalone_cli(parent, child))
                        self.remove(child)
                    elif kind == "snapshot":
                        child = self.name("cc%d" % rep)
                        total, steps = self.snapshot_clone_cli(parent, "s%d" % rep, child)
                        runs["snap create+protect+clone"].append(total)
                        runs["snap steps"].append(steps)
                        self.remove(child)
                        self.drop_snapshot(parent, "s%d" % rep)
                    elif kind == "cp":
                        dst = self.name("cp%d" % rep)
                        self.created.append(dst)
                        dt, _ = self.r.run([STOCK_RBD, "cp", "--no-progress", self.r.spec(parent),
                                            self.r.spec(dst)])
                        runs["rbd cp"].append(dt)
                        self.remove(dst)
                    else:
                        dst = self.name("dcp%d" % rep)
                        self.created.append(dst)
                        dt, _ = self.r.run([STOCK_RBD, "deep", "cp", "--no-progress",
                                            self.r.spec(parent), self.r.spec(dst)])
                        runs["rbd deep cp"].append(dt)
                        self.remove(dst)
                log("creation %s rep %d: standalone %.1f ms, snapshot %.1f ms, cp %.2f s, "
                    "deep cp %.2f s" % (label, rep, runs["clone-standalone"][-1] * 1e3,
                                        runs["snap create+protect+clone"][-1] * 1e3,
                                        runs["rbd cp"][-1], runs["rbd deep cp"][-1]))
            raw[label] = runs
            parents[size] = parent
            case = "create, %s parent" % label
            self.res.add("creation", case, "s", False, "clone-standalone", runs["clone-standalone"],
                         "snap create+protect+clone", runs["snap create+protect+clone"],
                         ("ratio_lt", 1.0, "< 1 (faster)"), paired=True)
            self.res.add("creation", case, "s", False, "clone-standalone", runs["clone-standalone"],
                         "rbd cp", runs["rbd cp"])
            self.res.add("creation", case, "s", False, "clone-standalone", runs["clone-standalone"],
                         "rbd deep cp", runs["rbd deep cp"])
        # Size independence: clones of the small and the big parent, back to
        # back in alternating order (the sections above ran minutes apart).
        small, big = self.p["create_sizes"][0], self.p["create_sizes"][-1]
        if small != big:
            by_size = {small: [], big: []}
            for rep in range(3 * self.reps):
                for size in ((small, big) if rep % 2 == 0 else (big, small)):
                    child = self.name("csz%d-%d" % (size // MiB, rep))
                    by_size[size].append(self.clone_standalone_cli(parents[size], child))
                    self.remove(child)
            raw["size_pairs"] = {human_size(k): v for k, v in by_size.items()}
            self.res.add("creation", "create, %s vs %s parent" % (human_size(big), human_size(small)),
                         "s", False, "clone-standalone %s" % human_size(big), by_size[big],
                         "clone-standalone %s" % human_size(small), by_size[small],
                         ("ratio_max", SIZE_TOLERANCE, "<= %.2f (size-indep.)" % SIZE_TOLERANCE),
                         paired=True)
        for parent in parents.values():
            self.remove(parent)

    # -- 2-4. read-through, copy-up, flatten ---------------------------------

    def bench_io(self):
        size = self.p["io_size"]
        nobj = size // OBJECT
        parent = self.name("io")
        log("io: parent %s (%s, fully written)" % (parent, human_size(size)))
        self.create_image(parent, size)
        digest = self.write_objects(parent, range(nobj))
        # The snapshot for the snapshot clones, once, before any standalone child.
        self.r.run([STOCK_RBD, "snap", "create", "--no-progress", "%s@base" % self.r.spec(parent)])
        self.snaps.append([parent, "base", False])
        self.r.run([STOCK_RBD, "snap", "protect", "%s@base" % self.r.spec(parent)])
        self.snaps[-1][2] = True

        # rados bench ceiling: as many 4 MiB objects as the sequential rbd
        # reads read (rados bench seq reads each object once), and 4 KiB
        # objects for the random 4 KiB reads.
        run4m, run4k = self.name("rb4m"), self.name("rb4k")
        self.rados_runs += [run4m, run4k]
        n4k = min(self.p["rand_read_total"] // (4 * KiB), 16384)
        n4m = size * self.p["seq_read_passes"] // OBJECT
        self.r.rados_bench(600, "write", run4m, ["-b", str(OBJECT), "--no-cleanup",
                                                  "--max-objects", str(n4m)])
        self.r.rados_bench(300, "write", run4k, ["-b", "4096", "--no-cleanup",
                                                  "--max-objects", str(n4k)])

        seq_total = size * self.p["seq_read_passes"]
        rand_total = self.p["rand_read_total"]
        cw = self.p["copyup_writes"]
        m = {k: [] for k in ("seq_standalone", "seq_snapshot", "seq_parent", "seq_rados",
                             "rand_standalone", "rand_snapshot", "rand_parent", "rand_rados",
                             "copyup_standalone", "copyup_snapshot",
                             "flatten_standalone", "flatten_snapshot")}
        raw = self.res.raw.setdefault("io", {"parent_size": size, "seq_read_total": seq_total,
                                             "rand_read_total": rand_total,
                                             "copyup_writes": cw, "reps": []})
        for rep in range(self.reps):
            rec = {}
            # The parent itself: stock rbd bench opens it read-write, which the
            # overlay refuses while it has standalone children, so it is read
            # here, while it has none (the previous repetition removed them).
            rec["seq_parent"] = self.r.rbd_bench(parent, "read", "seq", OBJECT, seq_total)
            rec["rand_parent"] = self.r.rbd_bench(parent, "read", "rand", 4 * KiB, rand_total)
            rec["seq_rados"] = self.r.rados_bench(60, "seq", run4m, ["--no-verify"])
            rec["rand_rados"] = self.r.rados_bench(self.p["rados_rand_seconds"], "rand", run4k,
                                                   ["--no-verify"])
            # Children: the snapshot clones first, for the stock `rbd clone`
            # refuses a parent that carries the standalone-parent marker
            # ("image operations disabled due to unsupported op features").
            sa, sn = self.name("rs%d" % rep), self.name("rc%d" % rep)
            wa, wn = self.name("ws%d" % rep), self.name("wc%d" % rep)
            for img in (sn, wn):
                self.r.run([STOCK_RBD, "clone", "%s@base" % self.r.spec(parent),
                            self.r.spec(img)])
                self.created.append(img)
            self.clone_standalone_cli(parent, sa)
            self.clone_standalone_cli(parent, wa)
            kinds = [("standalone", sa), ("snapshot", sn)]
            # Reads: READ_PAIRS back-to-back pairs per repetition, the order
            # alternating, so that each pair sees the same machine.
            for pat, io_size, total in (("seq", OBJECT, seq_total),
                                        ("rand", 4 * KiB, rand_total)):
                for i in range(READ_PAIRS):
                    first = (rep * READ_PAIRS + i) % 2 == 0  # balanced over the run
                    for kind, img in (kinds if first else kinds[::-1]):
                        rec.setdefault("%s_%s" % (pat, kind), []).append(
                            self.r.rbd_bench(img, "read", pat, io_size, total))
            if rep % 2:
                kinds.reverse()
            if rep == 0:
                for kind, img in kinds:
                    got = self.image_sha256(img)
                    if got != digest:
                        raise BenchError("%s child %s reads wrong data: sha256 %s, parent %s"
                                         % (kind, img, got, digest))
                log("io: verified: both children read the parent's data (sha256 %s...)"
                    % digest[:16])
                self.res.raw["verify"] = {"parent_sha256": digest, "children_match": True}
            for kind, img in kinds:
                dt, _ = self.r.run([STOCK_RBD, "flatten", "--no-progress", self.r.spec(img)])
                rec["flatten_" + kind] = {"elapsed_s": dt, "MiB_s": size / dt / MiB}
            # Stock flatten asks the parent to detach the child; the
            # project's `rbd children` completes it (untimed).
            self.r.run([self.r.project_rbd, "children", self.r.spec(parent)])
            if rep == 0:
                for kind, img in kinds:
                    if self.image_sha256(img) != digest:
                        raise BenchError("flattened %s child %s lost data" % (kind, img))
                self.res.raw["verify"]["flattened_match"] = True
            for _, img in kinds:
                self.remove(img)
            # First writes: fresh children, random 4 KiB writes into inherited objects.
            kinds = [("standalone", wa), ("snapshot", wn)]
            if rep % 2:
                kinds.reverse()
            for kind, img in kinds:
                rec["copyup_" + kind] = self.r.rbd_bench(img, "write", "rand", 4 * KiB,
                                                         cw * 4 * KiB)
            for _, img in kinds:
                self.remove(img)
            raw["reps"].append(rec)
            for k, v in rec.items():
                # A repetition's figure of a read is the median of its pairs.
                v = v if isinstance(v, list) else [v]
                m[k].append(median([x["iops"] if k.startswith(("rand", "copyup")) else x["MiB_s"]
                                    for x in v]))
            log("io rep %d: seq MiB/s standalone %.0f snapshot %.0f parent %.0f rados %.0f; "
                "rand IOPS %.0f/%.0f/%.0f/%.0f; copy-up IOPS %.0f/%.0f; flatten MiB/s %.0f/%.0f"
                % (rep, m["seq_standalone"][-1], m["seq_snapshot"][-1], m["seq_parent"][-1],
                   m["seq_rados"][-1], m["rand_standalone"][-1], m["rand_snapshot"][-1],
                   m["rand_parent"][-1], m["rand_rados"][-1], m["copyup_standalone"][-1],
                   m["copyup_snapshot"][-1], m["flatten_standalone"][-1],
                   m["flatten_snapshot"][-1]))
        io_target = ("ratio_min", IO_TOLERANCE, ">= %.2f" % IO_TOLERANCE)
        for pat, title, unit in (("seq", "read seq 4 MiB", "MiB/s"),
                                 ("rand", "read rand 4 KiB", "IOPS")):
            key = "iops" if pat == "rand" else "MiB_s"

            def every_pair(kind):  # the reads of all repetitions, in pair order
                return [x[key] for rec in raw["reps"] for x in rec["%s_%s" % (pat, kind)]]
            standalone = every_pair("standalone")
            self.res.add("read", title, unit, True, "standalone child", standalone,
                         "snapshot-clone child", every_pair("snapshot"), io_target, paired=True)
            self.res.add("read", title, unit, True, "standalone child", standalone,
                         "parent", m[pat + "_parent"])
            self.res.add("read", title, unit, True, "standalone child", standalone,
                         "rados bench %s" % pat, m[pat + "_rados"],
                         note="ceiling: whole 4 MiB / 4 KiB RADOS objects")
        self.res.add("copyup", "first writes rand 4 KiB", "IOPS", True, "standalone child",
                     m["copyup_standalone"], "snapshot-clone child", m["copyup_snapshot"],
                     io_target, paired=True)
        self.res.add("flatten", "flatten %s" % human_size(size), "MiB/s", True, "standalone child",
                     m["flatten_standalone"], "snapshot-clone child", m["flatten_snapshot"],
                     paired=True)

    # -- 5. registry scaling -------------------------------------------------

    def bench_registry(self):
        ns = self.p["registry_n"]
        if self.args.registry_max:
            ns = [n for n in ns if n <= self.args.registry_max]
        parent = self.name("reg")
        self.create_image(parent, self.p["registry_size"])
        self.write_objects(parent, [0])
        # The control: the same attach on a parent without children, timed
        # back to back with each n-th attach, so that the ratio measures n
        # and not how busy the machine was at that checkpoint.
        control = self.name("reg0")
        self.create_image(control, self.p["registry_size"])
        self.write_objects(control, [0])
        budget = self.args.registry_budget
        t_start = time.perf_counter()
        raw = self.res.raw.setdefault("registry", {
            "loop_attach_s": [], "checkpoints": [], "budget_s": budget, "reached": None})
        children = self.registry_children

        def api_attach(name, to=parent):
            t0 = time.perf_counter()
            self.RBD.clone_standalone(self.ioctx, to, self.ioctx, name)
            dt = time.perf_counter() - t0
            children.append(name)
            return dt

        def drop(name):
            # The removal that also completes the detach on the parent.
            self.RBD.remove_standalone(self.ioctx, name)
            children.remove(name)

        # The stock equivalent of the refusal: stock `rbd rm` of an image
        # that has a snapshot ("image has snapshots - not removing").
        snapped = self.name("rmsnap")
        self.create_image(snapped, 16 * MiB)
        self.r.run([STOCK_RBD, "snap", "create", "--no-progress", "%s@s" % self.r.spec(snapped)])
        self.snaps.append([snapped, "s", False])
        stock_rm = [self.r.run([STOCK_RBD, "rm", "--no-progress", self.r.spec(snapped)],
                               expect_fail=True)[0] for _ in range(self.reps)]
        raw["stock_rm_refusal_s"] = stock_rm

        seq = 0
        reached = 0
        for n in ns:
            # Fill the registry to n - 1 children with real clones (Python API).
            while len(children) < n - 1:
                if budget and time.perf_counter() - t_start > budget:
                    break
                seq += 1
                raw["loop_attach_s"].append([len(children) + 1, api_attach(self.name("k%06d" % seq))])
                if len(children) % 1000 == 0:
                    log("registry: %d children, %.0f s" % (len(children), time.perf_counter() - t_start))
            if len(children) < n - 1:
                log("registry: time budget of %d s exhausted at %d children; n=%d not measured"
                    % (budget, len(children), n))
                break
            # Attach the n-th child with the CLI and with the API, each
            # removed again (untimed) so that each is the n-th.  Three times
            # the repetitions: a CLI attach is mostly process start-up, whose
            # jitter on a busy machine would otherwise hide the trend in n.
            cli, api, cli0, api0 = [], [], [], []
            for rep in range(3 * self.reps):
                pairs = [(parent, cli, api), (control, cli0, api0)]
                if rep % 2:
                    pairs.reverse()
                for to, cli_times, _ in pairs:
                    seq += 1
                    name = self.name("k%06d" % seq)
                    cli_times.append(self.clone_standalone_cli(to, name))
                    self.created.remove(name)
                    children.append(name)
                    drop(name)
                for to, _, api_times in pairs:
                    seq += 1
                    name = self.name("k%06d" % seq)
                    api_times.append(api_attach(name, to))
                    drop(name)
            # The n-th child stays; then list n children and refuse removal.
            seq += 1
            raw["loop_attach_s"].append([len(children) + 1, api_attach(self.name("k%06d" % seq))])
            lists, rms = [], []
            for rep in range(self.reps):
                dt, p = self.r.run([self.r.project_rbd, "children", self.r.spec(parent)])
                lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
                if len(lines) != n or any("stale" in ln or "trash" in ln for ln in lines):
                    raise BenchError("rbd children listed %d children (expected %d healthy)"
                                     % (len(lines), n))
                lists.append(dt)
                dt, p = self.r.run([self.r.project_rbd, "rm", self.r.spec(parent)],
                                   expect_fail=True)
                if "has %d standalone child" % n not in p.stderr:
                    raise BenchError("rbd rm refusal does not name %d children: %r"
                                     % (n, p.stderr.strip()))
                rms.append(dt)
            raw["checkpoints"].append({"n": n, "attach_cli_s": cli, "attach_api_s": api,
                                       "control_cli_s": cli0, "control_api_s": api0,
                                       "list_s": lists, "rm_refusal_s": rms,
                                       "elapsed_s": time.perf_counter() - t_start})
            reached = n
            log("registry n=%d: attach CLI %.1f ms (no children: %.1f), API %.1f ms (%.1f); "
                "list %.1f ms; rm refusal %.1f ms"
                % (n, median(cli) * 1e3, median(cli0) * 1e3, median(api) * 1e3,
                   median(api0) * 1e3, median(lists) * 1e3, median(rms) * 1e3))
        raw["reached"] = reached
        raw["fill_seconds"] = time.perf_counter() - t_start
        cps = raw["checkpoints"]
        if not cps:
            return
        base = cps[0]
        flat = ("ratio_max", FLAT_TOLERANCE, "<= %.2f (flat)" % FLAT_TOLERANCE)

        def same_n1(key):  # the reference of a listing row: the n=1 figure
            return "same, n=%d" % base["n"], base[key]

        rows = [  # (case, key, what, reference (name, key or samples), target)
            ("attach n-th child (CLI)", "attach_cli_s", "CLI clone-standalone",
             ("1st child, same time", "control_cli_s"), flat),
            ("attach n-th child (API)", "attach_api_s", "API clone_standalone",
             ("1st child, same time", "control_api_s"), flat),
            ("list n children (CLI)", "list_s", "rbd children", same_n1("list_s"),
             ("abs_max", LIST_TARGET_S, "< %.0f s" % LIST_TARGET_S)),
            ("rm refuses parent (CLI)", "rm_refusal_s", "rbd rm",
             ("stock rm, has snapshots", stock_rm),
             ("abs_max", RM_TARGET_S, "< %.0f ms" % (RM_TARGET_S * 1e3))),
        ]
        for case, key, what, (ref_name, ref), target in rows:
            for cp in cps:
                paired = isinstance(ref, str)
                self.res.add("registry", "%s, n=%d" % (case, cp["n"]), "s", False, what,
                             cp[key], ref_name, cp[ref] if paired else ref, target,
                             paired=paired)

    # -- cleanup (only needed on a cluster we did not start) -----------------

    def cleanup(self):
        log("cleanup: %d registry children, %d other images" % (len(self.registry_children),
                                                                  len(self.created)))
        for name in list(self.registry_children):
            try:
                self.RBD.remove_standalone(self.ioctx, name)
            except Exception as e:  # noqa: BLE001
                log("cleanup: %s: %s" % (name, e))
        for name in reversed(self.created):
            try:
                self.RBD.remove_standalone(self.ioctx, name)
            except self.rbd_mod.ImageNotFound:
                pass
            except Exception:  # noqa: BLE001
                # An image with snapshots: unprotect and remove them first.
                try:
                    with self.rbd_mod.Image(self.ioctx, name) as img:
                        for s in list(img.list_snaps()):
                            if img.is_protected_snap(s["name"]):
                                img.unprotect_snap(s["name"])
                            img.remove_snap(s["name"])
                    self.RBD.remove_standalone(self.ioctx, name)
                except Exception as e:  # noqa: BLE001
                    log("cleanup: %s: %s" % (name, e))
        for run in self.rados_runs:
            subprocess.run([RADOS, "-p", self.args.pool, "cleanup", "--run-name", run],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.r.env)


# ------------------------------------------------------------- machine ----

def machine_info(runner, cluster, profile, args):
    def out(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, env=runner.env, timeout=60).stdout.strip()
        except Exception:  # noqa: BLE001
            return None
    mem = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_bytes": mem,
        "memory": "%.1f GiB" % (mem / GiB) if mem else None,
        "kernel": platform.release(),
        "os": out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "ceph_osd_version": out(["ceph-osd", "--version"]),
        "python": sys.version.split()[0],
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "cluster": "own vstart cluster (%s)" % cluster.dir if cluster.own else args.ceph_conf,
        "project_commit": out(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
    }
    meta = out([CEPH, "osd", "metadata", "--format", "json"])
    try:
        osds = json.loads(meta)
        info["osds"] = len(osds)
        info["objectstore"] = sorted({o.get("osd_objectstore") for o in osds})
    except Exception:  # noqa: BLE001
        info["objectstore"] = None
    if cluster.own:
        info["memstore_device_bytes"] = args.memstore_bytes or profile["memstore_bytes"]
    return info


def plot(path, results, mode):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    reg = results.raw.get("registry")
    if not reg or not reg.get("checkpoints"):
        log("no registry data; no plot")
        return False
    cps = reg["checkpoints"]
    ns = [c["n"] for c in cps]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    loop = reg["loop_attach_s"]
    if loop:
        ax1.scatter([x[0] for x in loop], [x[1] * 1e3 for x in loop], s=2, color="0.75",
                    label="API, every child of the fill loop")
        # Medians over logarithmic bins of the fill loop.
        bins, lo = [], 1
        while lo <= loop[-1][0]:
            hi = lo * 2
            vals = [x[1] for x in loop if lo <= x[0] < hi]
            if vals:
                bins.append((statistics.median([x[0] for x in loop if lo <= x[0] < hi]),
                             statistics.median(vals) * 1e3))
            lo = hi
        ax1.plot([b[0] for b in bins], [b[1] for b in bins], color="0.4", lw=1,
                 label="API, fill-loop median per octave")
    for key, lab, col in (("attach_cli_s", "CLI rbd clone-standalone", "C0"),
                          ("attach_api_s", "API clone_standalone", "C1")):
        med = [median(c[key]) * 1e3 for c in cps]
        lo_ = [m - min(c[key]) * 1e3 for m, c in zip(med, cps)]
        hi_ = [max(c[key]) * 1e3 - m for m, c in zip(med, cps)]
        ax1.errorbar(ns, med, yerr=[lo_, hi_], marker="o", capsize=3, color=col,
                     label=lab + " (median, min-max)")
    ax1.set_xscale("log")
    ax1.set_ylim(bottom=0)
    ax1.set_xlabel("n (the n-th child of one parent)")
    ax1.set_ylabel("attach time (ms)")
    ax1.set_title("time to attach the n-th standalone child")
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    for key, lab, col in (("list_s", "rbd children (list all n)", "C2"),
                          ("rm_refusal_s", "rbd rm (refusal)", "C3")):
        med = [median(c[key]) * 1e3 for c in cps]
        ax2.plot(ns, med, marker="o", color=col, label=lab)
    ax2.axhline(LIST_TARGET_S * 1e3, color="C2", ls="--", lw=0.8, label="list target 1 s")
    ax2.axhline(RM_TARGET_S * 1e3, color="C3", ls="--", lw=0.8, label="rm target 100 ms")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("n (children registered)")
    ax2.set_ylabel("time (ms, whole command)")
    ax2.set_title("list children / refuse removal vs n")
    ax2.legend(fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)
    fig.suptitle("standalone clones: parent child-registry scaling (%s mode)" % mode)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ---------------------------------------------------------------- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, one repetition, registry up to 100 (CTest)")
    ap.add_argument("--ceph-conf", help="use this cluster instead of starting one")
    ap.add_argument("--mon-port", type=int, default=17600,
                    help="mon port of the cluster we start (default 17600; daemons use P+1..P+99)")
    ap.add_argument("--cluster-dir", help="directory of the cluster we start "
                    "(default: a new /tmp/bench-XXXX, removed at the end)")
    ap.add_argument("--keep-cluster-dir", action="store_true",
                    help="keep the cluster directory (logs, memstore dump) after stopping the cluster")
    ap.add_argument("--memstore-bytes", type=int,
                    help="memstore bytes of the cluster we start (default: 16 GiB full, 3 GiB quick)")
    ap.add_argument("--pool", default="rbd", help="pool to use (default rbd)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"),
                    help="the project's build directory (bin/rbd, lib/python, lib/rados-classes)")
    ap.add_argument("--reps", type=int, help="repetitions per case (default 5; quick 1)")
    ap.add_argument("--out-json", default="standalone_clone_bench.json")
    ap.add_argument("--out-png", help="scaling plot (default: --out-json with .png)")
    ap.add_argument("--only", default="creation,io,registry",
                    help="comma-separated sections to run (creation, io, registry)")
    ap.add_argument("--registry-max", type=int, help="largest n of the registry scaling")
    ap.add_argument("--registry-budget", type=int, default=1200,
                    help="seconds allowed for filling the registry; checkpoints beyond are "
                         "reported as not reached (default 1200)")
    ap.add_argument("--prefix", help="image name prefix (default sb<pid>)")
    ap.add_argument("--report", metavar="JSON",
                    help="print the table of a saved JSON result and exit (no cluster)")
    ap.add_argument("--default-debug", action="store_true",
                    help="keep vstart's OSD debug objclass 20 (default: the production "
                         "default 0/5 on a cluster we start)")
    args = ap.parse_args(argv)
    if args.out_png is None:
        base = args.out_json[:-5] if args.out_json.endswith(".json") else args.out_json
        args.out_png = base + ".png"
    return args


def print_header(mode, reps, info):
    print("standalone-clone benchmark (%s mode, %d rep(s), 3 pairs each for reads, attaches, sizes;"
          " median; ratio = standalone / stock, p: median of back-to-back pairs' ratios)"
          % (mode, reps))
    if info:
        print("machine: %s CPUs (%s), %s RAM, %s, objectstore %s"
              % (info.get("nproc"), info.get("cpu"), info.get("memory"),
                 (info.get("ceph_osd_version") or "").split(" (")[0],
                 ",".join(info.get("objectstore") or ["?"])))


def report(path):
    with open(path) as f:
        doc = json.load(f)
    print_header(doc["mode"], doc["reps"], doc.get("machine"))
    print()
    print(table(doc["cases"]))
    print()
    for msg in doc.get("failures", []):
        print("FAILED: " + msg.splitlines()[0])
    print("%d passed, %d failed" % (doc["passed"], doc["failed"]))
    return 1 if doc["failed"] else 0


def main(argv):
    args = parse_args(argv)
    if args.report:
        return report(args.report)
    mode = "quick" if args.quick else "full"
    profile = PROFILES[mode]
    t_start = time.perf_counter()
    results = Results()
    cluster = Cluster(args, profile)
    bench = None

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    info = {}
    try:
        for path in (os.path.join(args.build_dir, "bin", "rbd"),
                     os.path.join(args.build_dir, "lib", "rados-classes", "libcls_rbd.so"),
                     STOCK_RBD, RADOS):
            if not os.path.exists(path):
                raise BenchError("%s is missing (build the project first)" % path)
        cluster.start()
        runner = Runner(args, cluster.conf)
        if cluster.own and not args.default_debug:
            # vstart logs every object-class call at level 20 (tests grep it);
            # benchmark with the production default instead.
            runner.run([CEPH, "tell", "osd.*", "config", "set", "debug_objclass", "0/5"])
        info = machine_info(runner, cluster, profile, args)
        info["debug_objclass"] = "20/20 (vstart)" if (args.default_debug or not cluster.own) \
            else "0/5"
        bench = Bench(args, profile, runner, results)
        sections = [s.strip() for s in args.only.split(",") if s.strip()]
        for section, fn in (("creation", bench.bench_creation), ("io", bench.bench_io),
                            ("registry", bench.bench_registry)):
            if section not in sections:
                continue
            t0 = time.perf_counter()
            try:
                fn()
            except BenchError as e:
                results.fail(section, e)
            except (SystemExit, KeyboardInterrupt):
                raise
            except Exception as e:  # noqa: BLE001  (a library error is a failed operation)
                results.fail(section, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
            results.raw.setdefault("section_seconds", {})[section] = time.perf_counter() - t0
        if not cluster.own:
            bench.cleanup()
    except BenchError as e:
        results.fail("setup", e)
    except Exception as e:  # noqa: BLE001
        results.fail("setup", "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
    finally:
        if bench is not None:
            bench.close()
        if info:
            info["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        cluster.stop()

    total = time.perf_counter() - t_start
    passed, failed = len(results.cases), len(results.failures)
    doc = {
        "mode": mode,
        "command": " ".join([sys.executable] + [os.path.relpath(sys.argv[0], ROOT)
                                                if os.path.isabs(sys.argv[0]) else sys.argv[0]]
                            + argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "profile": profile,
        "reps": args.reps or profile["reps"],
        "machine": info,
        "targets": {"io_ratio_min": IO_TOLERANCE, "size_ratio_max": SIZE_TOLERANCE,
                    "attach_flat_ratio_max": FLAT_TOLERANCE, "list_max_s": LIST_TARGET_S,
                    "rm_refusal_max_s": RM_TARGET_S},
        "cases": results.cases,
        "raw": results.raw,
        "failures": results.failures,
        "passed": passed,
        "failed": failed,
        "total_seconds": total,
    }
    out_dir = os.path.dirname(os.path.abspath(args.out_json))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out_json, "w") as f:
        json.dump(doc, f, indent=1)
    png = False
    try:
        png = plot(args.out_png, results, mode)
    except Exception as e:  # noqa: BLE001
        results.fail("plot", e)
        failed = len(results.failures)
    print()
    print_header(mode, args.reps or profile["reps"], info)
    print()
    print(table(results.cases))
    print()
    for msg in results.failures:
        print("FAILED: " + msg.splitlines()[0])
    print("json: %s%s; %.0f s" % (args.out_json, "; png: " + args.out_png if png else "", total))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
