#!/usr/bin/python3
"""Fuzz the class methods of the cls_rbd overlay, seeded and time-bounded.

Every method the overlay registers (src/cls/rbd/cls_rbd_overlay.cc: the
standalone_* methods and the stock methods it overrides; the list here is
checked against that table, RD flags included, when the source is beside
this script) is called as class "rbd" on a set of targets, with generated
payloads, and checked:

  timeouts      every call returns within --op-timeout (the client's
                rados_osd_op_timeout); a timeout is a failure (an OSD was
                once wedged by a read call)
  state         before and after each call the target object is read in full
                (omap keys and values, xattrs, size, data sha256), and so is
                its partner (the other image of a parent/child pair, or the
                image behind an rbd_id/data object).  A failed call must
                change nothing; a read-only method must change nothing; no
                call may change the partner (class methods only reach their
                own object).  A successful write is undone by writing the
                saved state back (verified), so every call starts from the
                same targets
  OSD up        after every batch, and after any timeout: the OSD processes
                are alive with the pids they had at the start (from the
                conf's "pid file"), `osd stat` reports them all up, and
                `rbd info` of a plain image answers within the timeout
  differential  the overridden stock methods (child_attach, child_detach,
                children_list, set_size, snapshot_add, snapshot_remove,
                get_parent, get_features) on the targets that are not
                standalone images are also called on a stock cluster (no
                overlay) holding the same kinds of targets, with the same
                payload; the errnos must be equal.  Ids, sizes and snapshot
                ids inside payloads are rendered for each cluster (inflated
                lengths stay relative: "k bytes too many"); a payload cut or
                bit-flipped at a byte position is not compared when its two
                renderings differ in length (counted as skipped)
  malformed     the design document's promise: a malformed payload is
                answered EINVAL.  A payload counts as malformed only when it
                certainly is (empty, or cut inside its required fields, a
                length or count of 0x10000000 or more, a compat newer than
                known); checked on image headers (elsewhere ENOEXEC/ENOENT
                may come first) for the overlay's own methods and for the
                overridden ones on standalone images

Targets (pool `fuzz`, created with `rbd pool init` if missing, on both
clusters; the images are made at the start and removed at the end):
  sa_parent   header of a fenced standalone parent   (overlay cluster only)
  sa_child    header of its standalone child, made by `rbd clone-standalone`
  snap_parent header of a parent with a protected snapshot
  snap_child  header of its clone (stock `rbd clone`)
  plain       header of a plain image
  directory   rbd_directory;  id_obj  rbd_id.<plain>;  data_obj  the plain
  image's first data object;  missing  an object that does not exist

Payloads (seeded: --seed, printed): random bytes (sometimes after a
CEPH_NOSNAP snap id), empty, valid encodings of the method's input, valid
ones naming other targets / nonexistent pools and ids ("foreign"), and
valid ones truncated, bit-flipped, with a length field inflated (string or
envelope lengths, list counts: 0xffffffff and friends), with a wrong struct
version or compat, or with trailing bytes.

Output: one table, method x (calls, ok, each errno, timeouts, differential
compared/mismatched, malformed not EINVAL, state violations), then each
kind of failure with its shortest reproducer (method, target, payload hex;
`--replay` runs one again) and the OSD checks.  Exit 1 on any state
violation, differential mismatch, malformed payload not answered EINVAL,
timeout, OSD down or harness error; 0 otherwise.  `--inject` makes one of
the checks fire on purpose, to show that it can fail.

Usage (Debian's /usr/bin/python3, PYTHONPATH holding rados and rbd):
  cls_fuzz.py [--seconds N] [--seed S] [--conf C] [--stock-conf C]
              [--rbd PROJECT_RBD] [--quick]
  cls_fuzz.py --replay METHOD:ROLE:HEX [--replay ...]
                (HEX may hold {pool}, {id:ROLE}, {snap:ROLE}, {child:ROLE},
                {parent:ROLE}: rendered for each cluster)
Defaults: --conf $CEPH_CONF, --stock-conf $STOCK_CEPH_CONF, --rbd
$PROJECT_RBD or build/bin/rbd.  --quick: a few seconds of fuzzing, for CTest.
"""

import argparse
import collections
import errno
import hashlib
import json
import os
import random
import re
import struct
import subprocess
import sys
import time

import rados
import rbd

POOL = 'fuzz'
STOCK_RBD = '/usr/bin/rbd'
NOSNAP = 0xFFFFFFFFFFFFFFFE
MAXSNAP = 0xFFFFFFFFFFFFFFFD
U64_MAX = 0xFFFFFFFFFFFFFFFF
IMAGE_SIZE = 8 << 20
OUT_LEN = 1 << 16

# The overlay's method table; read-only ones are registered RD (must never
# change state).  The first eight are stock methods the overlay overrides.
OVERRIDDEN_STOCK = ['child_attach', 'child_detach', 'children_list', 'set_size',
                    'snapshot_add', 'snapshot_remove', 'get_parent', 'get_features']
OVERLAY_ONLY = ['standalone_children_list', 'standalone_children_count',
                'standalone_child_attach', 'standalone_child_remove',
                'standalone_fence_status', 'standalone_fence_repair',
                'standalone_parent_attach', 'standalone_parent_detach',
                'standalone_parent_prepare', 'standalone_parent_abort',
                'standalone_link_state', 'standalone_overlay_info']
METHODS = OVERRIDDEN_STOCK + OVERLAY_ONLY
READ_ONLY = {'children_list', 'get_parent', 'get_features', 'standalone_children_list',
             'standalone_children_count', 'standalone_fence_status',
             'standalone_link_state', 'standalone_overlay_info'}

# Target roles.  Image roles have a header; the rest are other objects.
IMAGE_NAMES = {'plain': 'fz-plain', 'snap_parent': 'fz-snp', 'snap_child': 'fz-snc',
               'sa_parent': 'fz-sap', 'sa_child': 'fz-sac'}
IMAGE_ROLES = ['sa_parent', 'sa_child', 'snap_parent', 'snap_child', 'plain']
STANDALONE_ROLES = {'sa_parent', 'sa_child'}
ROLES = IMAGE_ROLES + ['directory', 'id_obj', 'data_obj', 'missing']
# The object whose state must not change along with the target's.
PARTNER = {'sa_parent': 'sa_child', 'sa_child': 'sa_parent', 'snap_parent': 'snap_child',
           'snap_child': 'snap_parent', 'id_obj': 'plain', 'data_obj': 'plain',
           'directory': 'plain'}

# Payload kinds and their weights.
KINDS = [('random', 12), ('empty', 4), ('valid', 18), ('foreign', 10), ('truncate', 12),
         ('bitflip', 12), ('inflate', 12), ('version', 10), ('trailing', 10)]
ETIMEDOUT = errno.ETIMEDOUT
EUNKNOWN = 9999  # a rados error without an errno (never seen)


def errname(e):
    return 'ok' if e == 0 else errno.errorcode.get(e, 'E%d' % e)


# ---------------------------------------------------------------- payloads --
#
# A payload is a tree of fields, so that mutations can reach the length
# fields and struct versions, and so that values that differ between the
# clusters (pool id, image ids, sizes, snapshot ids) stay symbolic (Ref)
# until the payload is rendered for one cluster.

class Ref:
    """A per-cluster value: ('pool'), ('id', role), ('snap', role),
    ('seq', role, k) = snap_seq + k, ('size', role, (num, den))."""

    def __init__(self, what, role=None, arg=None):
        self.what, self.role, self.arg = what, role, arg


class Node:
    """kind: u8 u32 u64 i64 (value int or Ref), str (bytes or Ref: u32
    length + bytes), raw (bytes), env (u8 v, u8 compat, u32 length, then
    children), seq (u32 count, then children), group (children only)."""

    def __init__(self, kind, value=None, children=None, v=0, compat=0):
        self.kind, self.value, self.children = kind, value, children or []
        self.v, self.compat = v, compat
        self.optional = False       # may be left out (an optional trailing field)
        self.len_override = None    # str/env: what the length field says instead
        self.count_override = None  # seq: what the count says instead


def U8(v): return Node('u8', v)
def U32(v): return Node('u32', v)
def U64(v): return Node('u64', v)
def I64(v): return Node('i64', v)
def Str(v): return Node('str', v)
def Seq(*children): return Node('seq', children=list(children))
def Group(*children): return Node('group', children=list(children))


def Env(v, compat, *children, known=1):
    """An envelope; `known`: the newest compat that stock's decoder of the
    structure accepts (a newer one is malformed)."""
    node = Node('env', children=list(children), v=v, compat=compat)
    node.known = known
    return node


def Opt(node):
    """Marks an optional trailing field (payloads are valid without it)."""
    node.optional = True
    return node


def walk(node):
    yield node
    for c in node.children:
        yield from walk(c)


def length_field(real, override):
    """What a length/count field says: the real value, an absolute override,
    or ('+', k): real + k, so it stays "k too many" on either cluster."""
    if override is None:
        return real
    if isinstance(override, tuple):
        return (real + override[1]) & 0xffffffff
    return override


def render(node, ctx):
    k = node.kind
    if k in ('u8', 'u32', 'u64', 'i64'):
        v = ctx.value(node.value)
        fmt, bits = {'u8': ('<B', 8), 'u32': ('<I', 32), 'u64': ('<Q', 64), 'i64': ('<Q', 64)}[k]
        return struct.pack(fmt, v & ((1 << bits) - 1))
    if k == 'str':
        b = ctx.value(node.value)
        b = b.encode() if isinstance(b, str) else b
        return struct.pack('<I', length_field(len(b), node.len_override)) + b
    if k == 'raw':
        return node.value
    body = b''.join(render(c, ctx) for c in node.children)
    if k == 'env':
        n = length_field(len(body), node.len_override)
        return struct.pack('<BBI', node.v & 0xff, node.compat & 0xff, n) + body
    if k == 'seq':
        n = length_field(len(node.children), node.count_override)
        return struct.pack('<I', n) + body
    return body  # group


class Payload:
    """A tree plus byte-level edits (cut, bit flips, appended bytes) chosen
    once, from the overlay rendering, and applied to every rendering."""

    def __init__(self, kind, tree, edits=(), malformed=False):
        self.kind, self.tree, self.edits = kind, tree, list(edits)
        # Certainly not a valid encoding: a required field missing or cut,
        # a length or count past the end, a compat newer than known.
        self.malformed = malformed

    def positional(self):
        """Whether the edits hit byte positions (then both renderings must
        have the same length for a fair comparison)."""
        return any(op in ('cut', 'flip') for op, _ in self.edits)

    def render(self, ctx):
        b = bytearray(render(self.tree, ctx))
        for op, arg in self.edits:
            if op == 'cut':
                del b[arg:]
            elif op == 'flip':
                for pos, bit in arg:
                    if pos < len(b):
                        b[pos] ^= 1 << bit
            elif op == 'append':
                b += arg
        return bytes(b)


class Gen:
    """Seeded payload generator.  `foreign` payloads name other targets,
    nonexistent pools and ids instead of the natural partner."""

    def __init__(self, rng, ctx):
        self.rng, self.ctx = rng, ctx  # ctx: the overlay's, for byte positions

    def pick(self, weighted):
        vals = [v for v, _ in weighted]
        return self.rng.choices(vals, weights=[w for _, w in weighted])[0]

    def u64_any(self):
        return self.rng.choice([0, 1, 2, 0x7fffffffffffffff, 1 << 63, U64_MAX,
                                self.rng.getrandbits(64), self.rng.randrange(1, 64)])

    def snap(self, role, foreign=False):
        role = role if role in IMAGE_NAMES else 'plain'
        other = self.rng.choice(IMAGE_ROLES)
        return self.pick([(NOSNAP, 5), (Ref('snap', role), 3 if not foreign else 0),
                          (Ref('snap', 'snap_parent'), 2), (Ref('snap', other), 1),
                          (Ref('seq', role, 1), 1), (MAXSNAP, 1), (MAXSNAP - 1, 1),
                          (U64_MAX, 1), (0, 1), (self.u64_any(), 1)])

    def pool(self, foreign=False):
        return self.pick([(Ref('pool'), 1 if foreign else 8), (9999, 2), (-1, 1), (-2, 1),
                          (1 << 62, 1), (self.rng.randrange(0, 16), 1)])

    def image_id(self, role, foreign=False):
        partner = PARTNER.get(role, 'plain')
        if partner not in IMAGE_NAMES:
            partner = 'plain'
        alnum = 'abcdef0123456789'
        rand_id = ''.join(self.rng.choice(alnum) for _ in range(self.rng.randrange(1, 24)))
        return self.pick([(Ref('id', partner), 0 if foreign else 8),
                          (Ref('id', self.rng.choice(IMAGE_ROLES)), 4),
                          (Ref('id', role if role in IMAGE_NAMES else 'plain'), 1),
                          ('deadbeef0000', 2), (rand_id, 1), ('', 1), ('bad/id!', 1),
                          ('a' * 300, 1)])

    def namespace(self):
        return self.pick([('', 12), ('fzns', 1), ('n' * 70, 1), ('\x00\xff', 1)])

    def child_spec(self, role, foreign=False):
        pool, iid, ns = self.pool(foreign), self.image_id(role, foreign), self.namespace()
        form = self.pick([('v2', 8), ('v1', 2), ('entry', 1)])
        if form == 'v1':
            return Env(1, 1, I64(pool), Str(iid), known=2)
        if form == 'entry':  # the overlay's HeadChildEntry (3,1)
            return Env(3, 1, I64(pool), Str(iid), Str(ns), U8(self.rng.randrange(3)),
                       U32(self.rng.getrandbits(32)), U32(0), known=2)
        # Stock decodes ChildImageSpec with DECODE_START(2): compat 2 is valid.
        return Env(2, 1, I64(pool), Str(iid), Str(ns), known=2)

    def parent_spec(self, role, foreign=False):
        parent = 'sa_parent' if role == 'sa_child' else self.rng.choice(IMAGE_ROLES)
        iid = self.image_id(role, foreign) if foreign or self.rng.random() < 0.3 \
            else Ref('id', parent)
        snap = NOSNAP if self.rng.random() < 0.8 else self.snap(role, foreign)
        return Env(1, 1, I64(self.pool(foreign)), Str(self.namespace()), Str(iid), U64(snap))

    def size(self, role):
        r = role if role in IMAGE_NAMES else 'plain'
        return self.pick([(Ref('size', r, (1, 1)), 2), (Ref('size', r, (1, 2)), 3),
                          (Ref('size', r, (2, 1)), 2), (Ref('size', r, (1, 4096)), 1),
                          (0, 1), (1, 1), (U64_MAX, 1), (1 << 63, 1), (self.u64_any(), 1)])

    def snap_namespace(self):
        t = self.pick([('user', 3), ('group', 2), ('trash', 2), ('mirror', 2), ('unknown', 1)])
        if t == 'user':
            return Env(1, 1, U32(0))
        if t == 'group':
            return Env(1, 1, U32(1), I64(self.pool()), Str('grp1'), Str('gsnap1'))
        if t == 'trash':
            return Env(1, 1, U32(2), Str('s'), U32(self.rng.choice([0, 1, 3, 9])))
        if t == 'mirror':
            return Env(1, 1, U32(3), U8(self.rng.randrange(4)), U8(self.rng.randrange(2)),
                       Seq(Str('peer-uuid-1')), Str('primary-uuid'), U64(self.u64_any()),
                       U64(0), Seq(Group(U64(1), U64(2))))
        return Env(1, 1, U32(self.rng.choice([4, 7, 0xffffffff])), U64(1))

    def fields(self, method, role, foreign):
        """The valid encoding of `method`'s input, as a list of nodes."""
        rng = self.rng
        if method in ('child_attach', 'child_detach'):
            return [U64(self.snap(role, foreign)), self.child_spec(role, foreign)]
        if method in ('children_list', 'snapshot_remove', 'get_parent'):
            return [U64(self.snap(role, foreign))]
        if method == 'set_size':
            return [U64(self.size(role))]
        if method == 'snapshot_add':
            role = role if role in IMAGE_NAMES else 'plain'
            name = self.pick([('s', 3), ('fz-new', 4), ('', 1), ('n' * 300, 1)])
            sid = self.pick([(Ref('seq', role, 1), 5), (Ref('seq', role, 0), 2),
                             (Ref('snap', 'snap_parent'), 1), (MAXSNAP, 1), (NOSNAP, 1),
                             (U64_MAX, 1), (0, 1), (self.u64_any(), 1)])
            out = [Str(name), U64(sid)]
            if rng.random() < 0.6:
                out.append(Opt(self.snap_namespace()))
            return out
        if method == 'get_features':
            out = [U64(self.snap(role, foreign))]
            if rng.random() < 0.7:
                out.append(Opt(U8(rng.choice([0, 1, 1, 2, 255]))))
            return out
        if method == 'standalone_children_list':
            start = self.child_spec(role, foreign) if rng.random() < 0.4 else \
                Env(2, 1, I64(-1), Str(''), Str(''), known=2)
            return [start, U64(self.pick([(1, 3), (16, 3), (4096, 2), (0, 1), (4097, 1),
                                          (U64_MAX, 1)]))]
        if method in ('standalone_child_attach', 'standalone_child_remove'):
            return [self.child_spec(role, foreign)]
        if method == 'standalone_parent_attach':
            return [self.parent_spec(role, foreign),
                    U64(self.pick([(Ref('size', 'sa_parent', (1, 1)), 4), (0, 1), (1, 1),
                                   (U64_MAX, 1), (self.u64_any(), 1)]))]
        if method == 'standalone_parent_prepare':
            return [self.parent_spec(role, foreign),
                    U64(self.pick([(300, 4), (1, 1), (86400, 1), (0, 1), (86401, 1),
                                   (U64_MAX, 1)]))]
        if method == 'standalone_parent_abort':
            return [self.parent_spec(role, foreign), U64(self.pick([(0, 3), (1, 3), (2, 1),
                                                                    (U64_MAX, 1)]))]
        if method in ('standalone_parent_detach', 'standalone_link_state'):
            return [self.parent_spec(role, foreign)]
        return []  # count, fence_status, fence_repair, overlay_info: no input

    def random_bytes(self):
        n = self.rng.randrange(1, 4097) if self.rng.random() < 0.1 else self.rng.randrange(0, 80)
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def make(self, method, role, kind=None):
        rng = self.rng
        kind = kind or self.pick(KINDS)
        tree = Group(*self.fields(method, role, kind == 'foreign'))
        # The bytes every valid payload of this method has at least.
        required = len(render(Group(*[c for c in tree.children if not c.optional]), self.ctx))
        if kind == 'empty':
            return Payload(kind, Node('raw', b''), malformed=required > 0)
        if kind == 'random':
            b = self.random_bytes()
            if rng.random() < 0.5 and method in OVERRIDDEN_STOCK:
                b = struct.pack('<Q', NOSNAP) + b  # reach the overlay's NOSNAP branches
            return Payload(kind, Node('raw', b))
        malformed = False
        if kind == 'inflate':
            nodes = [n for n in walk(tree) if n.kind in ('str', 'env', 'seq')]
            if not nodes:
                kind = 'trailing'
            else:
                n = rng.choice(nodes)
                big = rng.choice([0xffffffff, 0xfffffffe, 0x80000000, 0x7fffffff, 0x10000000,
                                  ('+', 1), ('+', rng.randrange(2, 64))])
                if n.kind == 'seq':
                    n.count_override = rng.choice([0xffffffff, 0x10000000, 1000000, ('+', 1)])
                else:
                    n.len_override = big
                # Absolute values are all past any payload's end ("+k" may not be).
                malformed = not isinstance(n.len_override or n.count_override, tuple)
        if kind == 'version':
            envs = [n for n in walk(tree) if n.kind == 'env']
            if not envs:
                kind = 'trailing'
            else:
                n = rng.choice(envs)
                what = rng.choice(['v', 'compat', 'both'])
                if what in ('v', 'both'):
                    n.v = rng.choice([0, max(n.v - 1, 0), n.v + 1, 255])
                if what in ('compat', 'both'):
                    n.compat = rng.choice([n.v + 1, n.compat + 1, 255, 0]) & 0xff
                malformed = n.compat > n.known
        length = len(render(tree, self.ctx))
        edits = []
        if kind == 'truncate':
            if length == 0:
                kind = 'trailing'
            else:
                edits.append(('cut', rng.randrange(length)))
                malformed = edits[-1][1] < required
        if kind == 'bitflip':
            if length == 0:
                kind = 'trailing'
            else:
                edits.append(('flip', [(rng.randrange(length), rng.randrange(8))
                                       for _ in range(rng.randrange(1, 4))]))
        if kind == 'trailing':
            edits.append(('append', bytes(rng.getrandbits(8)
                                          for _ in range(rng.randrange(1, 65)))))
        return Payload(kind, tree, edits, malformed)


# ------------------------------------------------------------------ state --

class State:
    """Everything a class method can change on one object."""

    def __init__(self, exists, data=b'', omap=None, xattrs=None):
        self.exists, self.data = exists, data
        self.omap, self.xattrs = omap or {}, xattrs or {}
        self.digest = hashlib.sha256(data).hexdigest()

    def key(self):
        return (self.exists, len(self.data), self.digest, sorted(self.omap.items()),
                sorted(self.xattrs.items()))

    def __eq__(self, other):
        return self.key() == other.key()

    def diff(self, other):
        """What changed from self to other, briefly."""
        if self.exists != other.exists:
            return 'object %s' % ('created' if other.exists else 'removed')
        out = []
        if len(self.data) != len(other.data):
            out.append('size %d -> %d' % (len(self.data), len(other.data)))
        elif self.digest != other.digest:
            out.append('data changed')
        for name, a, b in (('omap', self.omap, other.omap), ('xattr', self.xattrs, other.xattrs)):
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    what = 'added' if k not in a else 'removed' if k not in b else 'changed'
                    out.append('%s %s %s' % (name, k, what))
        return ', '.join(out[:6]) + (' ...' if len(out) > 6 else '')


# ---------------------------------------------------------------- cluster --

class Ctx:
    """The per-cluster values that Refs resolve to."""

    def __init__(self, fallback=None):
        self.pool_id = None
        self.ids, self.sizes, self.snaps, self.snap_seq = {}, {}, {}, {}
        self.fallback = fallback  # for roles this cluster lacks (standalone ones)

    def value(self, v):
        if not isinstance(v, Ref):
            return v
        if v.what == 'pool':
            return self.pool_id
        if v.role not in self.ids and self.fallback is not None:
            return self.fallback.value(v)
        if v.what == 'id':
            return self.ids[v.role]
        if v.what == 'snap':  # its first snapshot, else the next free id
            return self.snaps[v.role][0] if self.snaps[v.role] else self.snap_seq[v.role] + 1
        if v.what == 'seq':
            return self.snap_seq[v.role] + v.arg
        if v.what == 'size':
            return self.sizes[v.role] * v.arg[0] // v.arg[1]
        raise ValueError(v.what)


class HarnessError(Exception):
    pass


def decode_u64(b):
    return struct.unpack('<Q', b[:8])[0]


class Side:
    """One cluster: its targets, raw calls, state snapshots, health."""

    def __init__(self, label, conf, rbd_cli, op_timeout, standalone):
        self.label, self.conf, self.rbd_cli = label, conf, rbd_cli
        self.op_timeout, self.standalone = op_timeout, standalone
        t = str(int(op_timeout))
        self.cluster = rados.Rados(conffile=conf, conf={
            'rados_osd_op_timeout': t, 'rados_mon_op_timeout': t, 'client_mount_timeout': t})
        self.cluster.connect(timeout=int(op_timeout))
        self.env = dict(os.environ, CEPH_CONF=conf)
        self.ctx = Ctx()
        self.io = None
        self.osd_pids = {}
        self.cache = {}  # oid -> (object version, State)
        self.roles = [r for r in ROLES if standalone or r not in STANDALONE_ROLES]

    # -- commands
    def run(self, argv, check=True, timeout=120):
        # A binary being rebuilt cannot be run for a moment (EACCES, ETXTBSY):
        # wait for it rather than fail the run.
        for _ in range(60):
            try:
                p = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                                   timeout=timeout)
            except (PermissionError, OSError) as e:
                if e.errno not in (errno.EACCES, errno.ETXTBSY):
                    raise
                p = None
            if p is not None and p.returncode != 126:
                break
            time.sleep(1)
        else:
            raise HarnessError('%s: cannot run %s' % (self.label, argv[0]))
        if check and p.returncode != 0:
            raise HarnessError('%s: `%s` exited %d: %s' % (self.label, ' '.join(argv),
                                                           p.returncode, p.stderr.strip()[-300:]))
        return p

    def mon(self, **cmd):
        ret, out, outs = self.cluster.mon_command(json.dumps(dict(cmd, format='json')), b'')
        if ret < 0:
            raise HarnessError('%s: mon command %s: %d %s' % (self.label, cmd['prefix'], ret,
                                                              outs))
        return json.loads(out) if out else None

    def spec(self, role):
        return '%s/%s' % (POOL, IMAGE_NAMES[role])

    # -- set-up
    def ensure_pool(self):
        if not self.cluster.pool_exists(POOL):
            self.mon(prefix='osd pool create', pool=POOL, pg_num=8, pgp_num=8)
        self.io = self.cluster.open_ioctx(POOL)
        if 'rbd' not in self.io.application_list():
            self.run([STOCK_RBD, 'pool', 'init', POOL])

    def remove_images(self):
        """Removes this harness's images (children first); True if none is left."""
        rbd_cli = self.rbd_cli if self.standalone else STOCK_RBD
        steps = [['rm', '--no-progress', self.spec('sa_child')],
                 ['rm', '--no-progress', self.spec('sa_parent')],
                 ['rm', '--no-progress', self.spec('snap_child')],
                 ['snap', 'unprotect', self.spec('snap_parent') + '@s'],
                 ['snap', 'purge', '--no-progress', self.spec('snap_parent')],
                 ['rm', '--no-progress', self.spec('snap_parent')],
                 ['rm', '--no-progress', self.spec('plain')]]
        present = set(self.list_images())
        errors = []
        for argv in steps:
            if argv[-1].split('/')[1].split('@')[0] in present:
                p = self.run([rbd_cli] + argv, check=False)
                if p.returncode != 0:
                    errors.append('`rbd %s`: %s' % (' '.join(argv), p.stderr.strip()[-200:]))
        left = [n for n in self.list_images() if n in IMAGE_NAMES.values()]
        if left:
            print('# %s: images left: %s; %s' % (self.label, ' '.join(left), '; '.join(errors)),
                  flush=True)
        return not left

    def list_images(self):
        out = self.run([STOCK_RBD, 'ls', '--format', 'json', POOL]).stdout
        return json.loads(out or '[]')

    def write_data(self, role):
        with rbd.Image(self.io, IMAGE_NAMES[role]) as img:
            img.write(bytes([0xa5]) * 4096, 0)

    def build(self):
        if not self.remove_images():
            raise HarnessError('%s: cannot remove the images of a previous run' % self.label)
        create = [STOCK_RBD, 'create', '--size', '%dM' % (IMAGE_SIZE >> 20)]
        # The snapshot parent first on both clusters, so snapshot ids match.
        self.run(create + [self.spec('snap_parent')])
        self.write_data('snap_parent')
        self.run([STOCK_RBD, 'snap', 'create', '--no-progress', self.spec('snap_parent') + '@s'])
        self.run([STOCK_RBD, 'snap', 'protect', self.spec('snap_parent') + '@s'])
        self.run([STOCK_RBD, 'clone', self.spec('snap_parent') + '@s', self.spec('snap_child')])
        self.run(create + [self.spec('plain')])
        self.write_data('plain')
        if self.standalone:
            self.run(create + [self.spec('sa_parent')])
            self.write_data('sa_parent')
            self.run([self.rbd_cli, 'clone-standalone', self.spec('sa_parent'),
                      self.spec('sa_child')])
        self.read_ctx()

    def read_ctx(self):
        self.ctx.pool_id = self.io.get_pool_id()
        for role, name in IMAGE_NAMES.items():
            if role in STANDALONE_ROLES and not self.standalone:
                continue
            iid = self.io.read('rbd_id.' + name)[4:].decode()
            self.ctx.ids[role] = iid
            omap = self.snapshot('rbd_header.' + iid).omap
            self.ctx.sizes[role] = decode_u64(omap['size'])
            self.ctx.snap_seq[role] = decode_u64(omap.get('snap_seq', bytes(8)))
            self.ctx.snaps[role] = sorted(int(k[9:], 16) for k in omap
                                          if k.startswith('snapshot_'))

    def oid(self, role):
        if role in IMAGE_NAMES:
            return 'rbd_header.' + self.ctx.ids[role]
        return {'directory': 'rbd_directory', 'id_obj': 'rbd_id.' + IMAGE_NAMES['plain'],
                'data_obj': 'rbd_data.%s.%016x' % (self.ctx.ids['plain'], 0),
                'missing': 'fz-no-such-object'}[role]

    # -- calls and state
    def call(self, oid, method, payload):
        """(errno, seconds, output); errno 0 on success."""
        t0 = time.monotonic()
        try:
            _, out = self.io.execute(oid, 'rbd', method, payload, length=OUT_LEN)
            err = 0
        except rados.Error as e:
            err, out = getattr(e, 'errno', None) or EUNKNOWN, b''
        return abs(err), time.monotonic() - t0, out

    def snapshot(self, oid, cached=False):
        """The object's whole state.  cached: reuse the last full read if the
        object's version has not moved since (every RADOS write bumps it)."""
        try:
            size, _ = self.io.stat(oid)
        except rados.ObjectNotFound:
            return State(False)
        version = self.io.get_last_version()
        if cached and oid in self.cache and self.cache[oid][0] == version:
            return self.cache[oid][1]
        data = self.io.read(oid, size) if size else b''
        omap, after = {}, ''
        while True:
            with rados.ReadOpCtx() as op:
                it, _ = self.io.get_omap_vals(op, after, '', 1000)
                self.io.operate_read_op(op, oid)
                page = list(it)
            omap.update(page)
            if len(page) < 1000:
                break
            after = page[-1][0]
        xattrs = dict(self.io.get_xattrs(oid))
        st = State(True, data, omap, xattrs)
        self.cache[oid] = (version, st)
        return st

    def restore(self, oid, st):
        """Writes a saved state back, in one write op; True if it reads back equal."""
        if not st.exists:
            try:
                self.io.remove_object(oid)
            except rados.ObjectNotFound:
                pass
        else:
            cur = self.snapshot(oid)
            with rados.WriteOpCtx() as op:
                op.write_full(st.data)
                self.io.clear_omap(op)
                if st.omap:
                    keys = tuple(st.omap)
                    self.io.set_omap(op, keys, tuple(st.omap[k] for k in keys))
                for k in cur.xattrs:
                    if k not in st.xattrs:
                        op.rm_xattr(k)
                for k, v in st.xattrs.items():
                    op.set_xattr(k, v)
                self.io.operate_write_op(op, oid)
        return self.snapshot(oid) == st

    # -- health
    def find_osd_pids(self):
        """osd id -> pid, from the conf's `pid file` (vstart: run/$name.pid)."""
        template, section = None, ''
        with open(self.conf) as f:
            for line in f:
                line = line.split('#')[0].split(';')[0].strip()
                if line.startswith('['):
                    section = line.strip('[]').strip()
                elif '=' in line and section in ('global', 'osd'):
                    k, v = (s.strip() for s in line.split('=', 1))
                    if k.replace('_', ' ') == 'pid file' and (template is None or
                                                              section == 'osd'):
                        template = v
        pids = {}
        for osd in self.mon(prefix='osd ls'):
            if template is None:
                pids[osd] = None
                continue
            path = template.replace('$name', 'osd.%d' % osd).replace('$id', str(osd)) \
                           .replace('$cluster', 'ceph').replace('$type', 'osd')
            try:
                pids[osd] = int(open(path).read().strip())
            except (OSError, ValueError):
                pids[osd] = None
        self.osd_pids = pids

    def pids_alive(self):
        """Problems with the OSD processes (empty: all alive, same pids)."""
        bad = []
        for osd, pid in self.osd_pids.items():
            if pid is None:
                continue
            try:
                with open('/proc/%d/stat' % pid) as f:
                    state = f.read().rsplit(')', 1)[1].split()[0]
                with open('/proc/%d/cmdline' % pid, 'rb') as f:
                    cmd = f.read()
                ok = state not in ('Z', 'X') and b'ceph-osd' in cmd
            except OSError:
                ok = False
            if not ok:
                bad.append('osd.%d (pid %d) is gone' % (osd, pid))
        return bad

    def health(self):
        """Problems: dead OSD processes, OSDs not up, `rbd info` failing."""
        bad = self.pids_alive()
        try:
            st = self.mon(prefix='osd stat')
            st = st.get('osdmap', st)  # older releases nest it
            if st['num_up_osds'] != st['num_osds']:
                bad.append('%d of %d OSDs up' % (st['num_up_osds'], st['num_osds']))
        except (HarnessError, rados.Error, KeyError, ValueError) as e:
            bad.append('osd stat failed: %s' % e)
        try:
            p = self.run([STOCK_RBD, 'info', self.spec('plain')], check=False,
                         timeout=self.op_timeout)
            if p.returncode != 0:
                bad.append('rbd info exited %d: %s' % (p.returncode, p.stderr.strip()[-200:]))
        except subprocess.TimeoutExpired:
            bad.append('rbd info did not answer within %d s' % self.op_timeout)
        return ['%s: %s' % (self.label, b) for b in bad]


# ------------------------------------------------------------------ fuzzer --

class Stats:
    def __init__(self):
        self.calls = collections.Counter()      # method -> calls
        self.errnos = collections.defaultdict(collections.Counter)  # method -> errno -> n
        self.kinds = collections.Counter()
        self.timeouts = collections.Counter()
        self.compared = collections.Counter()
        self.skipped = collections.Counter()    # differential: positions do not line up
        self.mismatch = collections.Counter()
        self.mismatch_groups = collections.OrderedDict()  # (method, role, ov, st) -> [n, ex]
        self.violations = collections.Counter()
        self.malformed_checked = collections.Counter()
        self.not_einval = collections.Counter()  # malformed payloads not answered EINVAL
        self.not_einval_groups = collections.OrderedDict()  # (method, role, errno) -> [n, ex]
        self.violation_examples = []
        self.timeout_examples = []
        self.harness_errors = []
        self.osd_problems = []
        self.health_checks = 0
        self.max_latency = (0.0, None)


def hexcut(h, n=96):
    """A payload's hex, cut to n digits."""
    return h if len(h) <= n else h[:n] + '...(%d bytes)' % (len(h) // 2)


class Fuzzer:
    def __init__(self, args, ov, st):
        self.args, self.ov, self.st = args, ov, st
        self.stats = Stats()
        self.recent = collections.deque(maxlen=5)
        self.injected = set()

    def checked_call(self, side, method, role, payload_bytes, kind):
        """One call with its state checks; returns its errno (None: timeout)."""
        s = self.stats
        oid = side.oid(role)
        objs = [oid]
        if role in PARTNER and PARTNER[role] in side.roles:
            objs.append(side.oid(PARTNER[role]))
        before = {o: side.snapshot(o, cached=True) for o in objs}
        self.recent.append((side.label, method, role, payload_bytes.hex()))
        err, secs, _ = side.call(oid, method, payload_bytes)
        if self.args.inject == 'timeout' and 'timeout' not in self.injected:
            self.injected.add('timeout')
            secs = side.op_timeout + 1  # simulated: the reported duration
        if side is self.ov and secs > s.max_latency[0]:
            s.max_latency = (secs, '%s on %s' % (method, role))
        if err == ETIMEDOUT or secs >= side.op_timeout:
            s.timeouts[method] += 1
            if len(s.timeout_examples) < 50:
                s.timeout_examples.append((side.label, method, role, kind,
                                           payload_bytes.hex(), secs))
            return None
        if (self.args.inject == 'state' and 'state' not in self.injected and err != 0
                and before[oid].exists and side is self.ov):
            self.injected.add('state')  # a real change, made behind the call's back
            with rados.WriteOpCtx() as op:
                self.ov.io.set_omap(op, ('fz_injected',), (b'1',))
                self.ov.io.operate_write_op(op, oid)
        after = {o: side.snapshot(o) for o in objs}
        for o in objs:
            if after[o] == before[o]:
                continue
            legit = o == oid and err == 0 and method not in READ_ONLY
            if not legit:
                why = ('read-only method' if method in READ_ONLY and err == 0 else
                       'failed call (%s)' % errname(err) if err else 'partner object')
                s.violations[method] += 1
                if len(s.violation_examples) < 50:
                    s.violation_examples.append((side.label, method, role, kind, why, o,
                                                 before[o].diff(after[o]), payload_bytes.hex()))
            if not side.restore(o, before[o]):
                s.harness_errors.append('%s: could not restore %s after %s' %
                                        (side.label, o, method))
        return err

    def one(self, method, role, payload):
        """Runs a payload on the overlay (and, for the differential, on the
        stock cluster).  Returns (go on, overlay errno, stock errno); an
        errno is None when there was no such call or it timed out."""
        s = self.stats
        ov_bytes = payload.render(self.ov.ctx)
        s.calls[method] += 1
        s.kinds[payload.kind] += 1
        err = self.checked_call(self.ov, method, role, ov_bytes, payload.kind)
        s.errnos[method]['timeout' if err is None else err] += 1
        if err is None or self.ov.pids_alive():
            return False, err, None
        # The design's promise: a malformed payload is EINVAL (on an image
        # header, where no ENOEXEC/ENOENT comes first).  Checked for the
        # overlay's own methods, and for the overridden ones on standalone
        # images (elsewhere the differential holds them to stock's answer).
        if (payload.malformed and role in IMAGE_ROLES and
                (method in OVERLAY_ONLY or role in STANDALONE_ROLES)):
            s.malformed_checked[method] += 1
            if err != errno.EINVAL:
                s.not_einval[method] += 1
                key = (method, role, err)
                group = s.not_einval_groups.setdefault(key, [0, None])
                group[0] += 1
                if group[1] is None or len(ov_bytes) < len(group[1][1]) // 2:
                    group[1] = (payload.kind, ov_bytes.hex())
        if self.st is None or method not in OVERRIDDEN_STOCK or role in STANDALONE_ROLES:
            return True, err, None
        st_bytes = payload.render(self.st.ctx)
        if payload.positional() and (len(render(payload.tree, self.st.ctx)) !=
                                     len(render(payload.tree, self.ov.ctx))):
            s.skipped[method] += 1
            return True, err, None
        st_role = role
        if self.args.inject == 'mismatch' and 'mismatch' not in self.injected:
            st_role = 'missing' if role != 'missing' else 'plain'  # ask the wrong object
        st_err = self.checked_call(self.st, method, st_role, st_bytes, payload.kind)
        if st_err is None:
            return False, err, None  # a stock timeout: check that cluster too
        s.compared[method] += 1
        if st_err != err:
            if st_role != role:
                self.injected.add('mismatch')
            s.mismatch[method] += 1
            key = (method, role, err, st_err)
            group = s.mismatch_groups.setdefault(key, [0, None])
            group[0] += 1
            if group[1] is None or len(ov_bytes) < len(group[1][1]) // 2:
                group[1] = (payload.kind, ov_bytes.hex(), st_bytes.hex())  # the shortest
        return True, err, st_err

    def health(self):
        s = self.stats
        s.health_checks += 1
        if self.args.inject == 'osd' and 'osd' not in self.injected:
            self.injected.add('osd')  # simulated: a pid no process has
            self.ov.osd_pids = dict(self.ov.osd_pids)
            self.ov.osd_pids[-1] = 0x3ffffff0
        bad = self.ov.health() + (self.st.health() if self.st else [])
        s.osd_problems += [b for b in bad if b not in s.osd_problems]
        return not bad

    def run(self, seconds, seed):
        rng = random.Random(seed)
        gen = Gen(rng, self.ov.ctx)
        deadline = time.monotonic() + seconds
        t_print = time.monotonic() + 30
        order, n = [], 0
        while time.monotonic() < deadline:
            if not order:  # every method once per round, in a seeded order
                order = METHODS[:]
                rng.shuffle(order)
            method = order.pop()
            role = rng.choice(ROLES)
            payload = gen.make(method, role)
            n += 1
            ok = self.one(method, role, payload)[0]
            if not ok or n % self.args.batch == 0:
                if not self.health():
                    print('# OSD check failed after call %d; last calls:' % n, flush=True)
                    for r in self.recent:
                        print('#   %s %s on %s payload %s' % r, flush=True)
                    return False
            if time.monotonic() > t_print:
                t_print += 30
                s = self.stats
                print('# %d calls, %d timeouts, %d violations, %d mismatches' % (
                    n, sum(s.timeouts.values()), sum(s.violations.values()),
                    sum(s.mismatch.values())), flush=True)
        return self.health()

    def replay(self, items):
        for item in items:
            method, role, hexs = item.split(':', 2)
            if method not in METHODS or role not in ROLES:
                raise HarnessError('bad --replay %r: METHOD:ROLE:HEX' % item)
            _, ov_err, st_err = self.one(method, role, Payload('replay', parse_replay(hexs)))
            show = lambda e: '-' if e is None else errname(e)  # no call, or a timeout
            print('# replay %s on %s: overlay %s, stock %s' % (method, role, show(ov_err),
                                                               show(st_err)), flush=True)
        return self.health()


def parse_replay(text):
    """A replay payload: hex, with placeholders for what differs between the
    clusters: {pool} (i64 pool id), {id:ROLE} (string image id), {snap:ROLE}
    (u64: its first snapshot), {child:ROLE} (ChildImageSpec v2 of the image
    in pool `fuzz`), {parent:ROLE} (ParentImageSpec of it at CEPH_NOSNAP)."""
    parts = []
    for i, chunk in enumerate(re.split(r'\{([^}]*)\}', text)):
        what, _, role = chunk.partition(':')
        if i % 2 == 0:
            parts.append(Node('raw', bytes.fromhex(chunk)))
        elif chunk == 'pool':
            parts.append(I64(Ref('pool')))
        elif role not in IMAGE_NAMES:
            raise HarnessError('bad placeholder {%s}: {pool}, {id|snap|child|parent:ROLE}, '
                               'ROLE one of %s' % (chunk, ', '.join(IMAGE_NAMES)))
        elif what == 'id':
            parts.append(Str(Ref('id', role)))
        elif what == 'snap':
            parts.append(U64(Ref('snap', role)))
        elif what == 'child':
            parts.append(Env(2, 1, I64(Ref('pool')), Str(Ref('id', role)), Str('')))
        elif what == 'parent':
            parts.append(Env(1, 1, I64(Ref('pool')), Str(''), Str(Ref('id', role)), U64(NOSNAP)))
        else:
            raise HarnessError('bad placeholder {%s}' % chunk)
    return Group(*parts)


# ------------------------------------------------------------------ report --

def report(f, osd_ok, seed, seconds, elapsed):
    """Prints the summary table and the failures; returns the exit status."""
    s = f.stats
    codes = collections.Counter()
    for m in METHODS:
        for e, n in s.errnos[m].items():
            if e not in (0, 'timeout'):
                codes[e] += n
    cols = [e for e, _ in codes.most_common()]
    tail = ' %7s %9s %8s %9s %5s'
    head = '%-26s %6s %6s' % ('method', 'calls', 'ok') + ''.join(
        ' %8s' % errname(e) for e in cols) + tail % ('timeout', 'diff', 'mismatch', 'malformed',
                                                      'viol')
    print(head)
    print('-' * len(head))
    for m in METHODS:
        diff = '%d' % s.compared[m] if m in OVERRIDDEN_STOCK else '-'
        if s.skipped[m]:
            diff += '+%ds' % s.skipped[m]
        print('%-26s %6d %6d' % (m, s.calls[m], s.errnos[m][0]) + ''.join(
            ' %8d' % s.errnos[m][e] for e in cols) + tail % (
                s.timeouts[m], diff, s.mismatch[m] if m in OVERRIDDEN_STOCK else '-',
                '%d/%d' % (s.not_einval[m], s.malformed_checked[m]), s.violations[m]))
    print('-' * len(head))
    total = sum(s.calls.values())
    tot = lambda c: sum(c.values())
    print('%-26s %6d %6d' % ('total', total, sum(s.errnos[m][0] for m in METHODS)) + ''.join(
        ' %8d' % codes[e] for e in cols) + tail % (
            tot(s.timeouts), tot(s.compared), tot(s.mismatch),
            '%d/%d' % (tot(s.not_einval), tot(s.malformed_checked)), tot(s.violations)))
    print('# diff: calls compared with the stock cluster (+Ns: skipped: a cut or bit flip '
          'in renderings of different lengths)')
    print('# malformed: not answered EINVAL / malformed payloads on image headers checked')
    print('# payload kinds: ' + ', '.join('%s %d' % kv for kv in sorted(s.kinds.items())))
    if s.max_latency[1]:
        print('# slowest overlay call: %.3f s (%s)' % s.max_latency)

    mism = tot(s.mismatch)
    print('\ndifferential mismatches: %d (%d kinds)' % (mism, len(s.mismatch_groups)))
    for (method, role, ov_e, st_e), (n, (kind, ovh, sth)) in s.mismatch_groups.items():
        print('  %-15s on %-11s overlay %-8s stock %-8s x%-5d e.g. %s: %s' % (
            method, role, errname(ov_e), errname(st_e), n, kind, hexcut(ovh)))
        if sth != ovh:
            print('  %67s stock payload %s' % ('', hexcut(sth)))
    bad = tot(s.not_einval)
    print('\nmalformed payloads not answered EINVAL: %d (%d kinds)' % (
        bad, len(s.not_einval_groups)))
    for (method, role, err), (n, (kind, h)) in s.not_einval_groups.items():
        print('  %-26s on %-11s %-8s x%-5d e.g. %s: %s' % (method, role, errname(err), n,
                                                          kind, hexcut(h)))
    viol = tot(s.violations)
    print('\nstate-change violations: %d' % viol)
    for side, method, role, kind, why, oid, diff, h in s.violation_examples[:20]:
        print('  [%s] %s on %s (%s, %s payload): %s changed: %s; payload %s' % (
            side, method, role, why, kind, oid, diff, hexcut(h)))
    print('\ntimeouts: %d' % tot(s.timeouts))
    for side, method, role, kind, h, secs in s.timeout_examples[:10]:
        print('  [%s] %s on %s after %.1f s (%s payload) %s' % (side, method, role, secs, kind,
                                                                hexcut(h, 400)))
    print('\nOSD up: %s (%d checks: pids alive and unchanged, osd stat all up, rbd info '
          'answers)' % ('yes' if osd_ok else 'NO', s.health_checks))
    for p in s.osd_problems:
        print('  ' + p)
    for e in s.harness_errors[:10]:
        print('harness error: ' + e)
    print('\nseed %d, %d calls in %.0f s (fuzzing %d s)' % (seed, total, elapsed, seconds))
    failed = mism or bad or viol or tot(s.timeouts) or not osd_ok or s.harness_errors
    print('RESULT: %s' % ('FAIL' if failed else 'PASS'))
    return 1 if failed else 0


def check_method_table(here):
    """The fuzzer's method list and read-only set match the overlay's table
    (when the source is beside this script), so a new method is not missed."""
    path = os.path.join(here, '..', '..', '..', 'src', 'cls', 'rbd', 'cls_rbd_overlay.cc')
    if not os.path.exists(path):
        return None
    table = dict(re.findall(r'\{"(\w+)", (RD|RW), \w+\}', open(path).read()))
    if set(table) != set(METHODS) or {m for m, f in table.items() if f == 'RD'} != READ_ONLY:
        raise HarnessError('the overlay registers %s (RD: %s); this fuzzer knows %s (RD: %s)' % (
            sorted(table), sorted(m for m, f in table.items() if f == 'RD'), sorted(METHODS),
            sorted(READ_ONLY)))
    return path


def check_targets(ov, st):
    """The overlay is loaded on one cluster only, and the standalone pair is one."""
    err, _, out = ov.call(ov.oid('plain'), 'standalone_overlay_info', b'')
    if err:
        raise HarnessError('overlay cluster: standalone_overlay_info: %s' % errname(err))
    version = struct.unpack_from('<I', out, 6)[0]
    err, _, _ = st.call(st.oid('plain'), 'standalone_overlay_info', b'')
    if err != errno.EOPNOTSUPP:
        raise HarnessError('stock cluster answers standalone_overlay_info with %s: '
                           'not a stock cluster' % errname(err))
    err, _, out = ov.call(ov.oid('sa_parent'), 'standalone_fence_status', b'')
    # envelope, u8 marker, u8 non-primary, u8 lock, string owner, u8 children
    owner_len = struct.unpack_from('<I', out, 9)[0] if len(out) >= 13 else 0
    if err or out[6:8] != b'\x01\x01' or out[13 + owner_len] != 1:
        raise HarnessError('standalone parent is not fenced with children: %s %s' %
                           (errname(err), out.hex()))
    print('# overlay v%d; stock snap_parent snapshots %s, overlay %s' % (
        version, st.ctx.snaps['snap_parent'], ov.ctx.snaps['snap_parent']), flush=True)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    default_rbd = os.environ.get('PROJECT_RBD') or os.path.join(here, '..', '..', '..',
                                                                'build', 'bin', 'rbd')
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=float, default=300, help='fuzzing time (default 300)')
    ap.add_argument('--seed', type=int, default=None, help='default: from the clock, printed')
    ap.add_argument('--conf', default=os.environ.get('CEPH_CONF'),
                    help='overlay cluster (default $CEPH_CONF)')
    ap.add_argument('--stock-conf', default=os.environ.get('STOCK_CEPH_CONF'),
                    help='stock cluster for the differential (default $STOCK_CEPH_CONF)')
    ap.add_argument('--rbd', default=default_rbd, help="the project's rbd (clone-standalone)")
    ap.add_argument('--quick', action='store_true', help='a few seconds, for CTest')
    ap.add_argument('--batch', type=int, default=400, help='calls between OSD checks')
    ap.add_argument('--op-timeout', type=int, default=30,
                    help='rados_osd_op_timeout: a call not done by then is a failure')
    ap.add_argument('--replay', action='append', default=[], metavar='METHOD:ROLE:HEX',
                    help='run these payloads (on both clusters) instead of fuzzing')
    ap.add_argument('--inject', choices=['state', 'mismatch', 'timeout', 'osd'],
                    help='make one check fire on purpose (state, mismatch: real; timeout, '
                         'osd: simulated in the measurement)')
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.batch = min(args.seconds, 8), 150
    if not args.conf:
        print('FAIL: no overlay cluster: set CEPH_CONF or --conf')
        return 1
    if not args.stock_conf:
        print('FAIL: no stock cluster for the differential: set STOCK_CEPH_CONF or --stock-conf')
        return 1
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % (1 << 31)
    print('# cls_fuzz seed %d, %s s, overlay %s, stock %s' % (
        seed, 'replay' if args.replay else '%g' % args.seconds, args.conf, args.stock_conf),
        flush=True)
    t0 = time.monotonic()
    try:
        check_method_table(here)
    except HarnessError as e:
        print('FAIL: %s' % e)
        return 1
    try:
        ov = Side('overlay', args.conf, args.rbd, args.op_timeout, standalone=True)
        st = Side('stock', args.stock_conf, STOCK_RBD, args.op_timeout, standalone=False)
    except rados.Error as e:
        print('FAIL: cannot connect: %s' % e)
        return 1
    f = Fuzzer(args, ov, st)
    osd_ok = None  # unknown until checked
    built = False
    try:
        for side in (ov, st):
            side.ensure_pool()
            side.find_osd_pids()
            side.build()
        built = True
        st.ctx.fallback = ov.ctx
        check_targets(ov, st)
        print('# targets ready in %.1f s; osd pids: overlay %s, stock %s' % (
            time.monotonic() - t0, ov.osd_pids, st.osd_pids), flush=True)
        if args.replay:
            osd_ok = f.replay(args.replay)
        else:
            osd_ok = f.run(args.seconds, seed)
    except (HarnessError, rados.Error, subprocess.TimeoutExpired, OSError) as e:
        f.stats.harness_errors.append('%s: %s' % (type(e).__name__, e))
        osd_ok = f.health()
    finally:
        if built and osd_ok is not False:
            for side in (ov, st):
                try:
                    if not side.remove_images():
                        f.stats.harness_errors.append('%s: images left in pool %s' %
                                                      (side.label, POOL))
                except (HarnessError, subprocess.TimeoutExpired, OSError) as e:
                    f.stats.harness_errors.append('%s: %s' % (type(e).__name__, e))
        elif built:
            print('# OSD down: images left in pool %s' % POOL)
    rc = report(f, bool(osd_ok), seed, 0 if args.replay else args.seconds,
                time.monotonic() - t0)
    for side in (ov, st):
        side.cluster.shutdown()
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
