"""Python bindings of standalone clones, against the live cluster (CEPH_CONF).

Run with Debian's /usr/bin/python3 -m pytest, with build/lib/python on
PYTHONPATH.  Images are checked with the stock python3-rbd.  If the cluster
is unreachable every test errors out (never skips).
"""
import errno
import json
import os

import pytest
import rados
import rbd

import rbd_standalone  # noqa: F401  (adds the methods to rbd.RBD)

MiB = 1 << 20
BASE = rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP
_names = iter(range(1, 1 << 30))


def name(prefix):
    return '%s%d' % (prefix, next(_names))


@pytest.fixture(scope='module')
def cluster():
    c = rados.Rados(conffile='')
    c.connect(timeout=20)
    yield c
    c.shutdown()


@pytest.fixture(scope='module')
def ioctx(cluster):
    pool = 'pybind-%d' % os.getpid()
    cluster.create_pool(pool)
    io = cluster.open_ioctx(pool)
    rbd.RBD().pool_init(io, True)
    yield io
    io.close()
    cluster.delete_pool(pool)


@pytest.fixture
def parent(ioctx):
    """A 16 MiB parent with a distinct byte per 4 MiB object."""
    pname = name('parent')
    rbd.RBD().create(ioctx, pname, 16 * MiB,
                     features=BASE | rbd.RBD_FEATURE_FAST_DIFF | rbd.RBD_FEATURE_DEEP_FLATTEN)
    with rbd.Image(ioctx, pname) as img:
        for i in range(4):
            img.write(bytes([0x41 + i]) * (4 * MiB), i * 4 * MiB)
    return pname


def test_clone_reads_parent_and_writes_stay_in_child(ioctx, parent):
    child = name('child')
    rbd.RBD().clone_standalone(ioctx, parent, ioctx, child)
    with rbd.Image(ioctx, child) as img:
        assert img.size() == 16 * MiB
        assert img.read(4 * MiB, 16) == b'B' * 16
        img.write(b'z' * 4096, 4 * MiB)
        assert img.read(4 * MiB, 4096) == b'z' * 4096
        assert img.read(4 * MiB + 4096, 16) == b'B' * 16
    with rbd.Image(ioctx, parent, read_only=True) as img:
        assert img.read(4 * MiB, 4096) == b'B' * 4096


def test_features_default_to_the_parents(ioctx, parent):
    child = name('child')
    rbd.RBD().clone_standalone(ioctx, parent, ioctx, child)
    with rbd.Image(ioctx, parent, read_only=True) as p, \
            rbd.Image(ioctx, child, read_only=True) as c:
        # The parent's fence adds operations and non-primary to its features.
        internal = rbd.RBD_FEATURE_OPERATIONS | rbd.RBD_FEATURE_NON_PRIMARY
        assert p.features() & rbd.RBD_FEATURE_NON_PRIMARY
        assert c.features() & ~internal == p.features() & ~internal
        assert c.stat()['order'] == p.stat()['order']


def test_every_keyword(cluster, ioctx, parent):
    data_pool = 'pybind-data-%d' % os.getpid()
    cluster.create_pool(data_pool)
    try:
        child = name('child')
        rbd.RBD().clone_standalone(ioctx, parent, ioctx, child, features=BASE, order=20,
                                   stripe_unit=256 * 1024, stripe_count=2,
                                   data_pool=data_pool)
        with rbd.Image(ioctx, child, read_only=True) as img:
            assert img.features() & BASE == BASE
            # explicit features win over the parent's (stock create adds
            # fast-diff to object-map by itself)
            assert img.features() & rbd.RBD_FEATURE_DEEP_FLATTEN == 0
            assert img.stat()['order'] == 20
            assert img.stripe_unit() == 256 * 1024
            assert img.stripe_count() == 2
            assert img.data_pool_id() == cluster.pool_lookup(data_pool)
            assert img.read(12 * MiB, 8) == b'D' * 8
        rbd.RBD().remove_standalone(ioctx, child)
    finally:
        cluster.delete_pool(data_pool)


@pytest.mark.parametrize('kwargs, exc, err', [
    (dict(p_name='nonexistent'), rbd.ImageNotFound, errno.ENOENT),
    (dict(p_name='{parent}@snap'), rbd.InvalidArgument, errno.EINVAL),
    (dict(c_name='{parent}'), rbd.ImageExists, errno.EEXIST),
    (dict(features=1 << 50), rbd.InvalidArgument, errno.EINVAL),
    (dict(features=rbd.RBD_FEATURE_LAYERING), rbd.InvalidArgument, errno.EINVAL),
    (dict(stripe_unit=65536), rbd.InvalidArgument, errno.EINVAL),
    (dict(order=99), rbd.ArgumentOutOfRange, errno.EDOM),  # as stock create
])
def test_errors_raise_stock_exceptions_and_change_nothing(ioctx, parent, kwargs, exc, err):
    args = dict(p_name=parent, c_name=name('child'))
    args.update({k: v.format(parent=parent) if isinstance(v, str) else v
                 for k, v in kwargs.items()})
    before = sorted(rbd.RBD().list(ioctx))
    with pytest.raises(exc) as info:
        rbd.RBD().clone_standalone(ioctx, args.pop('p_name'), ioctx, args.pop('c_name'), **args)
    assert info.value.errno == err
    assert str(info.value)  # carries the library's message
    assert sorted(rbd.RBD().list(ioctx)) == before
    assert rbd.RBD().list_children_standalone(ioctx, parent) == []


def test_bad_ioctx_is_a_type_error(ioctx, parent):
    with pytest.raises(TypeError):
        rbd.RBD().clone_standalone('not an ioctx', parent, ioctx, name('child'))


def test_parent_info_and_listing(ioctx, parent):
    child, grandchild = name('child'), name('grandchild')
    r = rbd.RBD()
    r.clone_standalone(ioctx, parent, ioctx, child)
    r.clone_standalone(ioctx, child, ioctx, grandchild)
    info = r.parent_info_standalone(ioctx, child)
    assert info['parent_type'] == 'standalone'
    with rbd.Image(ioctx, parent, read_only=True) as img:
        parent_id = img.id()
    assert {k: info[k] for k in ('pool_name', 'pool_namespace', 'image_name', 'snap_name',
                                 'image_id')} == \
        {'pool_name': ioctx.get_pool_name(), 'pool_namespace': '', 'image_name': parent,
         'snap_name': '', 'image_id': parent_id}
    assert info['snap_id'] == 0xFFFFFFFFFFFFFFFE
    assert info['overlap'] == 16 * MiB
    kids = r.list_children_standalone(ioctx, parent, descendants=True)
    assert [(k['image'], k['depth'], k['parent_type'], k['state']) for k in kids] == \
        [(child, 1, 'standalone', 'ok'), (grandchild, 2, 'standalone', 'ok')]
    assert [k['image'] for k in r.list_children_standalone(ioctx, parent)] == [child]
    with pytest.raises(rbd.ImageNotFound):
        r.parent_info_standalone(ioctx, parent)


def test_snapshot_clone_reports_snapshot_parent(ioctx, parent):
    with rbd.Image(ioctx, parent) as img:
        img.create_snap('s')
        img.protect_snap('s')
    clone = name('clone')
    rbd.RBD().clone(ioctx, parent, 's', ioctx, clone, features=BASE)
    info = rbd.RBD().parent_info_standalone(ioctx, clone)
    assert info['parent_type'] == 'snapshot'
    with rbd.Image(ioctx, clone, read_only=True) as img:
        stock = img.get_parent_image_spec()
    # Stock's keys, with stock's values.
    assert {k: info[k] for k in stock} == stock
    assert stock['snap_name'] == 's'
    kids = rbd.RBD().list_children_standalone(ioctx, parent)
    assert [(k['image'], k['parent_type'], k['parent_snapshot']) for k in kids] == \
        [(clone, 'snapshot', 's')]


def test_parent_is_read_only_for_stock_clients_until_last_child_goes(ioctx, parent):
    r = rbd.RBD()
    kids = [name('child') for _ in range(2)]
    for k in kids:
        r.clone_standalone(ioctx, parent, ioctx, k)
    # Every open works (the default one is read-write) and reads; writes,
    # resize and removal fail with EROFS.
    with rbd.Image(ioctx, parent) as img:
        assert img.read(0, 4) == b'AAAA'
        with pytest.raises(rbd.ReadOnlyImage):
            img.write(b'x', 0)
        with pytest.raises(rbd.ReadOnlyImage):
            img.resize(1 << 20)
    with rbd.Image(ioctx, parent, read_only=True) as img:
        assert img.read(0, 4) == b'AAAA'
    with pytest.raises(rbd.ReadOnlyImage):
        r.remove(ioctx, parent)
    with pytest.raises(rbd.ImageBusy) as info:
        r.remove_standalone(ioctx, parent)
    assert 'image has 2 standalone child(ren) - not removing' in str(info.value)
    with rbd.Image(ioctx, kids[0]) as img:
        img.flatten()  # stock flatten: the listing below completes the detach
    assert [k['image'] for k in r.list_children_standalone(ioctx, parent)] == [kids[1]]
    r.remove_standalone(ioctx, kids[1])
    assert r.list_children_standalone(ioctx, parent) == []
    with rbd.Image(ioctx, parent) as img:  # writable again
        img.write(b'x', 0)
    r.remove_standalone(ioctx, parent)
    assert parent not in r.list(ioctx)


def test_listing_names_every_child_state(ioctx, parent):
    """A detach asked by a stock client (child_detach(CEPH_NOSNAP), as stock
    flatten/rm send it) of a child that still reads through the parent:
    'detaching', the word `rbd children --format json` uses."""
    r = rbd.RBD()
    kid = name('child')
    r.clone_standalone(ioctx, parent, ioctx, kid)
    with rbd.Image(ioctx, parent, read_only=True) as img:
        parent_header = 'rbd_header.' + img.id()
    with rbd.Image(ioctx, kid, read_only=True) as img:
        kid_id = img.id()
    spec = _child_spec(ioctx.get_pool_id(), kid_id)
    ioctx.execute(parent_header, 'rbd', 'child_detach', (NOSNAP).to_bytes(8, 'little') + spec)
    assert [(k['image'], k['state']) for k in r.list_children_standalone(ioctx, parent)] == \
        [(kid, 'detaching')]
    r.remove_standalone(ioctx, kid)
    assert r.list_children_standalone(ioctx, parent) == []


NOSNAP = 0xFFFFFFFFFFFFFFFE


def _child_spec(pool_id, image_id):
    """cls::rbd::ChildImageSpec (2,1): pool, image id, namespace."""
    body = pool_id.to_bytes(8, 'little', signed=True) + \
        len(image_id).to_bytes(4, 'little') + image_id.encode() + (0).to_bytes(4, 'little')
    return bytes([2, 1]) + len(body).to_bytes(4, 'little') + body


def test_options_come_from_the_cluster_not_from_a_conf_file(tmp_path, cluster, ioctx, parent):
    """A handle built from a conf file that says rbd_standalone_clone_enabled
    = false still clones: the options are pool/image settings every client
    reads from the cluster; no ceph.conf is read behind the handle's back."""
    conf = tmp_path / 'ceph.conf'
    conf.write_text(open(os.environ['CEPH_CONF']).read() +
                    '\n[client]\nrbd_standalone_clone_enabled = false\n')
    other = rados.Rados(conffile=str(conf))
    other.connect(timeout=20)
    try:
        with other.open_ioctx(ioctx.get_pool_name()) as io:
            kid = name('child')
            rbd.RBD().clone_standalone(io, parent, io, kid)
            assert [k['image'] for k in rbd.RBD().list_children_standalone(io, parent)] == [kid]
            rbd.RBD().remove_standalone(io, kid)
    finally:
        other.shutdown()


def test_overlay_status_reports_every_osd(cluster, ioctx):
    status = rbd_standalone.overlay_status(cluster)
    osds = json.loads(cluster.mon_command(json.dumps({'prefix': 'osd ls', 'format': 'json'}),
                                          b'')[1])
    assert [o['osd'] for o in status] == sorted(osds)
    for o in status:
        assert o['up'] and o['overlay'] == 'running' and o['version'] >= 4, o
        assert o['ceph_version'].startswith('16.2.'), o
    assert rbd_standalone.overlay_status(ioctx) == status  # through an ioctx too
    assert rbd_standalone.overlay_versions_by_osd(cluster) == \
        {o['osd']: o['version'] for o in status}


def test_listing_tells_when_each_entry_got_its_state(ioctx, parent):
    import time
    r = rbd.RBD()
    before = int(time.time()) - 1
    kid = name('child')
    r.clone_standalone(ioctx, parent, ioctx, kid)
    (entry,) = r.list_children_standalone(ioctx, parent)
    assert before <= entry['state_since'] <= int(time.time()) + 1, entry
    r.remove_standalone(ioctx, kid)


def test_prune_children_standalone_drops_stale_registrations(ioctx, parent):
    r = rbd.RBD()
    kid = name('child')
    r.clone_standalone(ioctx, parent, ioctx, kid)
    assert r.prune_children_standalone(ioctx, parent) == 0  # nothing stale
    with rbd.Image(ioctx, parent, read_only=True) as img:
        parent_header = 'rbd_header.' + img.id()
    # A registration whose child does not exist: stale.
    ioctx.execute(parent_header, 'rbd', 'standalone_child_attach',
                  _child_spec(ioctx.get_pool_id(), 'feedfacecafe'))
    assert len(r.list_children_standalone(ioctx, parent)) == 2
    assert r.prune_children_standalone(ioctx, parent) == 1
    assert [k['image'] for k in r.list_children_standalone(ioctx, parent)] == [kid]
    r.remove_standalone(ioctx, kid)


def test_flatten_standalone_copies_data_and_lifts_the_fence(ioctx, parent):
    r = rbd.RBD()
    kid = name('child')
    r.clone_standalone(ioctx, parent, ioctx, kid)
    with rbd.Image(ioctx, kid) as img:
        img.write(b'k' * 4096, 4 * MiB)  # one copied-up object
    r.flatten_standalone(ioctx, kid)
    with rbd.Image(ioctx, kid, read_only=True) as img:
        with pytest.raises(rbd.ImageNotFound):
            img.parent_id()
        assert not img.flags() & rbd.RBD_FLAG_OBJECT_MAP_INVALID  # rebuilt
        for i in range(4):
            want = bytes([0x41 + i]) * (4 * MiB)
            if i == 1:
                want = b'k' * 4096 + want[4096:]
            assert img.read(i * 4 * MiB, 4 * MiB) == want, i
    assert r.list_children_standalone(ioctx, parent) == []  # detached: fence down
    with rbd.Image(ioctx, parent) as img:
        img.write(b'w', 0)
    with pytest.raises(rbd.InvalidArgument):
        r.flatten_standalone(ioctx, kid)  # no parent any more
    r.remove_standalone(ioctx, kid)
