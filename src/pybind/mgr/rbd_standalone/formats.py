"""On-disk formats the module reads directly (stock Ceph Pacific layouts).

Only what the bindings do not offer is decoded here: a few keys of an image
header's omap, the image object map (``rbd_object_map.<id>``, a 2-bit
``BitVector``), the stock v2 parent record, and the payloads of the stock
``rbd.metadata_set``/``metadata_remove`` class methods.  Every decoder is
bounds-checked and raises ``ValueError`` on short or malformed input.
"""

import struct

CEPH_NOSNAP = 0xfffffffffffffffe

RBD_FEATURE_STRIPINGV2 = 1 << 1
RBD_FEATURE_OBJECT_MAP = 1 << 3
RBD_FEATURE_NON_PRIMARY = 1 << 10
RBD_FLAG_OBJECT_MAP_INVALID = 1 << 0

OBJECT_NONEXISTENT = 0

# Where the library keeps the project's options (as librbd keeps its own):
# image metadata on the header, pool metadata on the pool's rbd_info.
THRESHOLD_OPTION = 'rbd_standalone_clone_auto_flatten_threshold'
THRESHOLD_META_KEY = 'conf_' + THRESHOLD_OPTION
THRESHOLD_OMAP_KEY = 'metadata_' + THRESHOLD_META_KEY
POOL_METADATA_OID = 'rbd_info'
REGISTRY_PREFIX = 'head_child_'


class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError('truncated: need %d bytes at %d of %d' % (n, self.pos, len(self.data)))
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack('<I', self.take(4))[0]

    def u64(self):
        return struct.unpack('<Q', self.take(8))[0]

    def i64(self):
        return struct.unpack('<q', self.take(8))[0]

    def string(self):
        return self.take(self.u32()).decode('utf-8', 'replace')


def u64(data):
    return Reader(data).u64()


def decode_parent(data):
    """The stock ``cls_rbd_parent`` (v1 or v2) of a header's ``parent`` key."""
    r = Reader(data)
    version = r.u8()
    r.u8()  # compat
    length = r.u32()
    body = Reader(r.take(length))
    pool_id = body.i64()
    namespace = body.string() if version >= 2 else ''
    image_id = body.string()
    snap_id = body.u64()
    if version >= 2:
        overlap = body.u64() if body.u8() else None
    else:
        overlap = body.u64()
    return {'pool_id': pool_id, 'namespace': namespace, 'image_id': image_id,
            'snap_id': snap_id, 'overlap': overlap}


def decode_object_map(data):
    """(number of objects, packed 2-bit states) of an encoded BitVector<2>.

    Layout: a length-prefixed header (versioned: u64 element count), then
    the packed data, four elements per byte, element 0 in the top bits,
    then a length-prefixed footer of CRCs (not checked here).
    """
    r = Reader(data)
    header = Reader(r.take(r.u32()))
    header.u8()  # version
    header.u8()  # compat
    size = Reader(header.take(header.u32())).u64()
    nbytes = (size + 3) // 4
    packed = r.take(nbytes)
    return size, packed


def object_state(packed, index):
    return (packed[index >> 2] >> (6 - 2 * (index & 3))) & 3


def object_count(size, order):
    if size <= 0:
        return 0
    object_size = 1 << order
    return (size + object_size - 1) // object_size


def copied_fraction(child_map, parent_map, overlap_objects):
    """Fraction of the parent's objects under the overlap that the child
    holds a copy of (stock copy-up).  ``parent_map`` None: the child's own
    objects over all objects of the overlap.  Returns (fraction, copied,
    total); an overlap with nothing to copy counts as fully copied."""
    child_n, child_bits = child_map
    total = copied = 0
    if parent_map is not None:
        parent_n, parent_bits = parent_map
        for i in range(min(overlap_objects, parent_n)):
            if object_state(parent_bits, i) == OBJECT_NONEXISTENT:
                continue
            total += 1
            if i < child_n and object_state(child_bits, i) != OBJECT_NONEXISTENT:
                copied += 1
    else:
        total = overlap_objects
        for i in range(min(overlap_objects, child_n)):
            if object_state(child_bits, i) != OBJECT_NONEXISTENT:
                copied += 1
    if total == 0:
        return 1.0, 0, 0
    return copied / total, copied, total


def encode_string(s):
    b = s.encode('utf-8') if isinstance(s, str) else bytes(s)
    return struct.pack('<I', len(b)) + b


def encode_metadata_set(items):
    """Payload of ``rbd.metadata_set``: map<string, bufferlist>."""
    out = struct.pack('<I', len(items))
    for key, value in sorted(items.items()):
        out += encode_string(key) + encode_string(value)
    return out


def encode_metadata_remove(key):
    return encode_string(key)


def decode_dir_name(value):
    """Value of an ``id_<id>`` key of ``rbd_directory``: the image name."""
    return Reader(value).string()


def parse_threshold(text):
    """'0.5', '50%' or '0' -> float in [0, 1]; ValueError otherwise."""
    t = str(text).strip()
    try:
        v = float(t[:-1]) / 100.0 if t.endswith('%') else float(t)
    except ValueError:
        raise ValueError('threshold must be a fraction 0..1 or a percentage, got %r' % text)
    if not 0.0 <= v <= 1.0 or v != v:
        raise ValueError('threshold must be within 0..1 (0%%..100%%), got %r' % text)
    return v


def format_threshold(v):
    return ('%.4f' % v).rstrip('0').rstrip('.') if v else '0'
