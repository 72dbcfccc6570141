"""A flatten that does not trust the child's object map.

Stock librbd (16.2) flatten skips every object whose HEAD object-map state
is OBJECT_EXISTS.  A copy-up sets that state on disk *before* it sends the
copy-up write, so a client that dies (SIGKILL, crash, blocklisted after a
lock break) between the two leaves EXISTS on an object that was never
written.  While the child still has its parent such an object reads the
parent's data, so nothing shows; but a later flatten skips it, removes the
parent link, and the object then reads as zeros: silent data loss.  Stock
``rbd object-map check`` accepts "EXISTS but missing" (a map may be a
superset) and ``rbd object-map rebuild`` does not clear it either, so
neither repairs the map (measured on 16.2.15, qa/workunits/rbd/
flatten_after_kill.py).

``flatten()`` here sets the stock RBD_FLAG_OBJECT_MAP_INVALID flag of the
child's HEAD before the flatten opens the image.  With the flag set, stock
flatten trusts no map state: for each object under the overlap it sends a
guarded zero-length write (assert_exists), which costs one small op for an
object that exists and copies up one that does not.  The parent link is
removed only after every object request completed, so every object under
the overlap then exists in the child.  Afterwards the stock object-map
rebuild clears the flag.  This module has no ceph-mgr dependency, so tests
import it by path.
"""

import struct

import rbd

CEPH_NOSNAP = 0xfffffffffffffffe
RBD_FLAG_OBJECT_MAP_INVALID = 1 << 0


def invalidate_object_map(ioctx, image_id):
    """Sets the HEAD object map's invalid flag on the child's header with
    the stock ``rbd.set_flags`` class method (flags, mask, snap id)."""
    payload = struct.pack('<QQQ', RBD_FLAG_OBJECT_MAP_INVALID,
                          RBD_FLAG_OBJECT_MAP_INVALID, CEPH_NOSNAP)
    ioctx.execute('rbd_header.' + image_id, 'rbd', 'set_flags', payload)


def parent_id_of(image):
    try:
        return image.parent_id()
    except rbd.ImageNotFound:
        return None


def flatten(ioctx, image_id, expected_parent_id=None, on_progress=None):
    """Flattens the image ``image_id`` without trusting its object map.

    ``expected_parent_id``: flatten only if the image's parent is this one
    (None: whatever its parent is).  Returns 'flattened', 'no_parent'
    (already flattened: only the flag is cleared, if set) or 'other_parent'.
    Raises rbd.ImageNotFound if the image is gone, and whatever
    Image.flatten raises (rbd.OperationCanceled from on_progress included).
    """
    with rbd.Image(ioctx, image_id=image_id, read_only=True) as image:
        pid = parent_id_of(image)
        has_map = bool(image.features() & rbd.RBD_FEATURE_OBJECT_MAP)
    if pid is None:
        finish(ioctx, image_id)
        return 'no_parent'
    if expected_parent_id is not None and pid != expected_parent_id:
        return 'other_parent'
    if has_map:
        # Before the flatten's handle is opened, so it reads the flag from
        # the header; checked below rather than assumed.
        invalidate_object_map(ioctx, image_id)
    with rbd.Image(ioctx, image_id=image_id) as image:
        if parent_id_of(image) is None:  # flattened meanwhile
            result = 'no_parent'
        else:
            if has_map and not image.flags() & rbd.RBD_FLAG_OBJECT_MAP_INVALID:
                raise rbd.InvalidArgument('object map of %s not flagged invalid before '
                                          'the flatten' % image_id)
            if on_progress is not None:
                image.flatten(on_progress=on_progress)
            else:
                image.flatten()
            result = 'flattened'
        if has_map:
            rebuild_if_invalid(image)
    return result


def rebuild_if_invalid(image):
    """The stock rebuild clears the flag.  Only without a parent: on a
    child the map would again be trusted by the next flatten."""
    if parent_id_of(image) is None and image.flags() & rbd.RBD_FLAG_OBJECT_MAP_INVALID:
        image.rebuild_object_map()


def finish(ioctx, image_id):
    """A flatten that completed before the previous run could clear the
    flag (its process died): clear it now."""
    try:
        with rbd.Image(ioctx, image_id=image_id) as image:
            if image.features() & rbd.RBD_FEATURE_OBJECT_MAP:
                rebuild_if_invalid(image)
    except rbd.ReadOnlyImage:
        pass

