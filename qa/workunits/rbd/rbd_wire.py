"""Encoders of the cls_rbd payloads the workunits send by hand (Ceph's
little-endian encoding; layouts in ../shared/FACTS-pacific-cls-rbd.md)."""

import struct

NOSNAP = 0xFFFFFFFFFFFFFFFE


def envelope(v, compat, payload):
    """ENCODE_START(v, compat): u8 v, u8 compat, u32 length, payload."""
    return struct.pack('<BBI', v, compat, len(payload)) + payload


def enc_str(s):
    b = s.encode()
    return struct.pack('<I', len(b)) + b


def child_spec(pool_id, image_id, namespace=''):
    """cls::rbd::ChildImageSpec (2,1): pool, image id, namespace."""
    return envelope(2, 1, struct.pack('<q', pool_id) + enc_str(image_id) + enc_str(namespace))


def parent_spec(pool_id, image_id, namespace='', snap_id=NOSNAP):
    """cls::rbd::ParentImageSpec (1,1): pool, namespace, image id, snap id."""
    return envelope(1, 1, struct.pack('<q', pool_id) + enc_str(namespace) + enc_str(image_id) +
                    struct.pack('<Q', snap_id))
