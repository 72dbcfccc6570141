// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#ifndef LIBRBD_STANDALONE_IMAGE_FLATTEN_REQUEST_H
#define LIBRBD_STANDALONE_IMAGE_FLATTEN_REQUEST_H

#include <rados/librados.hpp>

#include <functional>
#include <string>

namespace librbd::standalone::image {

/**
 * Flattens a clone (standalone or snapshot) without trusting its object
 * map.  Stock 16.2 flatten skips every object its HEAD object map says
 * exists, and a copy-up marks the object there before its write reaches
 * the OSD: a client killed in between leaves an object that is marked but
 * missing.  It still reads the parent's data while the parent is attached,
 * but a later flatten skips it, detaches, and the object then reads as
 * zeros (qa/workunits/rbd/flatten_after_kill.py; fixed upstream after
 * Pacific).  Stock `object-map check` and `rebuild` keep such marks.
 *
 * @verbatim
 *
 * <start>
 *    |
 *    v
 * MARK_MAP_INVALID   RBD_FLAG_OBJECT_MAP_INVALID on the HEAD (stock
 *    |               set_flags), and a header notification so a client
 *    |               that holds the lock (and would run the flatten for
 *    |               us) refreshes: with the flag, flatten checks every
 *    |               object under the overlap on the OSD and copies up the
 *    |               missing ones before it detaches
 *    v
 * FLATTEN            stock flatten, or the caller's (the CLI runs the
 *    |               stock rbd, so output and progress stay stock's)
 *    v
 * REBUILD_MAP        stock object-map rebuild, which clears the flag;
 *    |               also run alone when a flatten died after detaching
 *    v
 * <finish>           then the caller completes a standalone child's
 *                    detach on its parent
 *
 * @endverbatim
 *
 * No rollback: a failure after MARK_MAP_INVALID leaves the map flagged
 * invalid, which is safe (stock librbd then trusts no map state) and
 * cleared by the next flatten or `rbd object-map rebuild`.  Images
 * without the object-map feature go straight to FLATTEN.
 */
class FlattenRequest {
public:
  // `flatten`: the FLATTEN step; by default librbd's Image::flatten.
  FlattenRequest(librados::IoCtx& ioctx, const std::string& name,
                 std::function<int()> flatten = nullptr);

  int send();

private:
  librados::IoCtx& m_ioctx;
  std::string m_name;
  std::function<int()> m_flatten;
  std::string m_id;
  bool m_has_parent = false;
  bool m_has_map = false;
  uint64_t m_flags = 0;

  int inspect();
  int mark_map_invalid();
  int flatten();
  int rebuild_map();
};

}  // namespace librbd::standalone::image

#endif  // LIBRBD_STANDALONE_IMAGE_FLATTEN_REQUEST_H
