#!/usr/bin/python3
"""Drive the cls_rbd overlay's standalone-clone methods directly.

The overlay's workunits use this to build a standalone child without the
project's client library, so that what they test is the OSD side alone:

  cls_standalone.py link POOL/PARENT POOL/CHILD   prepare CHILD's link, register
                                                  CHILD on PARENT's HEAD (fencing
                                                  PARENT), point CHILD at it
  cls_standalone.py children POOL/PARENT          list HEAD children
  cls_standalone.py info POOL/IMAGE               overlay version, asked on the
                                                  image's header (exit 2 if absent)
  cls_standalone.py raw POOL OBJECT METHOD HEX    call any rbd method

CHILD must already exist (created with the stock `rbd create`, usually with
the parent's size).  Specs are pool[/namespace]/image.  Uses Debian's
python3-rados; run it with /usr/bin/python3.
"""

import errno
import json
import struct
import subprocess
import sys

import rados

from rbd_wire import NOSNAP, child_spec, parent_spec

def split_spec(spec):
    parts = spec.split('/')
    if len(parts) == 2:
        return parts[0], '', parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise SystemExit('bad image spec %r: use pool[/namespace]/image' % spec)


def image_info(spec):
    out = subprocess.run(['/usr/bin/rbd', 'info', '--format', 'json', spec],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def execute(cluster, pool, namespace, obj, method, payload):
    with cluster.open_ioctx(pool) as ioctx:
        ioctx.set_namespace(namespace)
        ret, out = ioctx.execute(obj, 'rbd', method, payload, length=1 << 20)
        return ret, out


def decode_children(buf):
    (count,) = struct.unpack_from('<I', buf, 0)
    off, out = 4, []
    for _ in range(count):
        v, compat, length = struct.unpack_from('<BBI', buf, off)
        body = buf[off + 6:off + 6 + length]
        pool_id, = struct.unpack_from('<q', body, 0)
        (n,) = struct.unpack_from('<I', body, 8)
        image_id = body[12:12 + n].decode()
        ns = ''
        if v >= 2:
            (m,) = struct.unpack_from('<I', body, 12 + n)
            ns = body[16 + n:16 + n + m].decode()
        out.append((pool_id, ns, image_id))
        off += 6 + length
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 1
    cluster = rados.Rados(conffile='')
    cluster.connect()
    try:
        cmd = argv[1]
        if cmd == 'link' and len(argv) == 4:
            ppool, pns, pname = split_spec(argv[2])
            cpool, cns, cname = split_spec(argv[3])
            pinfo, cinfo = image_info(argv[2]), image_info(argv[3])
            ppool_id = cluster.pool_lookup(ppool)
            cpool_id = cluster.pool_lookup(cpool)
            # As clone-standalone does it: the child's link intent, then the
            # registration on the parent (which raises its fence), then the
            # link.  A crash between them leaves a registration that can be
            # pruned, never a child whose parent is not fenced.
            parent = parent_spec(ppool_id, pinfo['id'], pns)
            child_header = 'rbd_header.' + cinfo['id']
            execute(cluster, cpool, cns, child_header, 'standalone_parent_prepare',
                    parent + struct.pack('<Q', 300))
            execute(cluster, ppool, pns, 'rbd_header.' + pinfo['id'], 'standalone_child_attach',
                    child_spec(cpool_id, cinfo['id'], cns))
            execute(cluster, cpool, cns, child_header, 'standalone_parent_attach',
                    parent + struct.pack('<Q', pinfo['size']))
            return 0
        if cmd == 'children' and len(argv) == 3:
            ppool, pns, pname = split_spec(argv[2])
            pinfo = image_info(argv[2])
            try:
                _, out = execute(cluster, ppool, pns, 'rbd_header.' + pinfo['id'],
                                 'children_list', struct.pack('<Q', NOSNAP))
            except rados.ObjectNotFound:
                # Stock's answer, once the image is no standalone parent.
                out = struct.pack('<I', 0)
            for pool_id, ns, image_id in decode_children(out):
                print('%d/%s/%s' % (pool_id, ns, image_id))
            return 0
        if cmd == 'info' and len(argv) == 3:
            pool, ns, _ = split_spec(argv[2])
            header = 'rbd_header.' + image_info(argv[2])['id']
            try:
                _, out = execute(cluster, pool, ns, header, 'standalone_overlay_info', b'')
            except rados.Error as e:
                # python3-rados 16.2 has no exception class for EOPNOTSUPP:
                # it raises rados.OSError carrying errno 95.
                if getattr(e, 'errno', None) != errno.EOPNOTSUPP:
                    raise
                print('overlay not loaded: %s' % e)
                return 2
            body = out[6:]
            (version,) = struct.unpack_from('<I', body, 0)
            (n,) = struct.unpack_from('<I', body, 4)
            print('overlay v%d on ceph %s' % (version, body[8:8 + n].decode()))
            return 0
        if cmd == 'raw' and len(argv) == 6:
            try:
                ret, out = execute(cluster, argv[2], '', argv[3], argv[4], bytes.fromhex(argv[5]))
            except rados.Error as e:
                print('error: %s' % e)
                return 1
            print(out.hex())
            return 0
        print(__doc__)
        return 1
    finally:
        cluster.shutdown()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
