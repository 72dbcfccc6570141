/*
 * Standalone (parentless) clones for RBD: C API.
 *
 * A standalone clone is a copy-on-write child of another image's HEAD (no
 * snapshot).  It needs the cls_rbd overlay on the OSDs; without it
 * rbd_standalone_clone() fails with -EOPNOTSUPP and creates nothing.
 * Link with -lrbd_standalone (on top of the stock librbd and librados).
 */
#ifndef CEPH_RBD_STANDALONE_H
#define CEPH_RBD_STANDALONE_H

#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stddef.h>
#include <stdint.h>

/* Marks the library's exported API: librbd_standalone.so is built with
 * hidden visibility by default and exports only what carries this. */
#ifndef CEPH_RBD_STANDALONE_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define CEPH_RBD_STANDALONE_API __attribute__((visibility("default")))
#else
#define CEPH_RBD_STANDALONE_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Where a child's data comes from. */
typedef enum {
  RBD_PARENT_TYPE_SNAPSHOT = 0,   /* a (protected or clone v2) snapshot */
  RBD_PARENT_TYPE_STANDALONE = 1, /* another image's HEAD */
} rbd_parent_type_t;

/* How a registered child relates to its parent. */
typedef enum {
  RBD_CHILD_STATE_OK = 0,
  RBD_CHILD_STATE_TRASH = 1,      /* the child is in the trash, still linked */
  RBD_CHILD_STATE_MISSING = 2,    /* stale: no such image any more */
  RBD_CHILD_STATE_NOT_LINKED = 3, /* stale: the image no longer reads from this parent
                                     (or a clone died before linking it) */
  RBD_CHILD_STATE_IN_PROGRESS = 4, /* a clone is still making it: never pruned */
  RBD_CHILD_STATE_DETACHING = 5,   /* a detach was asked (stock flatten/rm) but the
                                      image still reads from this parent: the
                                      flatten/rm died half way; run it again */
  RBD_CHILD_STATE_UNVERIFIED = 6,  /* its header could not be checked (no access,
                                      or no overlay on its OSD): kept */
} rbd_child_state_t;

typedef struct {
  int64_t pool_id;
  char *pool_name;
  char *pool_namespace;
  char *image_id;
  char *image_name;             /* empty for MISSING children */
  rbd_parent_type_t parent_type;
  uint64_t parent_snap_id;      /* CEPH_NOSNAP for standalone children */
  char *parent_snap_name;       /* empty for standalone children */
  char *parent_image_name;      /* the image this child hangs from */
  int depth;                    /* 1 = direct child, 2 = grandchild, ... */
  rbd_child_state_t state;
  uint64_t state_since;         /* HEAD children: when the registry entry got its
                                   state (attach or detach asked), seconds since the
                                   epoch; 0 if unknown (entries of overlay v1/v2) */
} rbd_standalone_child_t;

typedef struct {
  rbd_parent_type_t parent_type;
  int64_t pool_id;
  char *pool_name;
  char *pool_namespace;
  char *image_name;
  char *image_id;
  uint64_t snap_id;             /* CEPH_NOSNAP for a standalone parent */
  char *snap_name;              /* empty for a standalone parent */
  uint64_t overlap;
} rbd_standalone_parent_info_t;

/* Per-object view of a child (the seed's states, derived from the stock
 * 2-bit object maps of child and parent chain, and the overlap). */
#define RBD_OBJECT_STATE_NONEXISTENT 0
#define RBD_OBJECT_STATE_EXISTS 1        /* the child's own data */
#define RBD_OBJECT_STATE_EXISTS_PARENT 4 /* read through to the parent */
#define RBD_OBJECT_STATE_COPIEDUP 5      /* the child's copy replaces inherited data */

/* Flags of rbd_standalone_list_children(). */
#define RBD_LIST_CHILDREN_DESCENDANTS (1 << 0) /* children of children, too */
#define RBD_LIST_CHILDREN_SNAPSHOTS (1 << 1)   /* snapshot (clone v1/v2) children, too */

/* Clones the HEAD of p_name into a new image c_name.  c_opts as for
 * rbd_clone3 (features, order, stripe unit/count, data pool); features
 * default to the parent's.  Errors: -EINVAL bad options or a parent name
 * with "@snap", -ENOENT no parent, -EEXIST child exists, -EOPNOTSUPP the
 * OSDs lack the overlay or rbd_standalone_clone_enabled is false, -EBUSY a
 * client has the parent open for writing.
 * Every call of this API is named rbd_standalone_*; rbd_clone_standalone
 * is the same call under the name the original specification gave it, kept
 * for the programs written to it. */
CEPH_RBD_STANDALONE_API
int rbd_standalone_clone(rados_ioctx_t p_ioctx, const char *p_name,
                         rados_ioctx_t c_ioctx, const char *c_name,
                         rbd_image_options_t c_opts);
CEPH_RBD_STANDALONE_API
int rbd_clone_standalone(rados_ioctx_t p_ioctx, const char *p_name,
                         rados_ioctx_t c_ioctx, const char *c_name,
                         rbd_image_options_t c_opts);

/* Children of image `name`: HEAD (standalone) children, and with
 * RBD_LIST_CHILDREN_SNAPSHOTS snapshot children.  -ERANGE and *max set
 * when `children` is too small. */
CEPH_RBD_STANDALONE_API
int rbd_standalone_list_children(rados_ioctx_t ioctx, const char *name, int flags,
                                 rbd_standalone_child_t *children, size_t *max);
CEPH_RBD_STANDALONE_API
void rbd_standalone_list_children_cleanup(rbd_standalone_child_t *children,
                                          size_t num);

/* Unregisters stale HEAD children (MISSING / NOT_LINKED) of `name`;
 * *pruned = how many. */
CEPH_RBD_STANDALONE_API
int rbd_standalone_prune_children(rados_ioctx_t ioctx, const char *name,
                                  size_t *pruned);

/* Number of HEAD children of `name` (registry size). */
CEPH_RBD_STANDALONE_API
int rbd_standalone_count_children(rados_ioctx_t ioctx, const char *name,
                                  uint64_t *count);

/* The parent of an open image with its type; -ENOENT if none. */
CEPH_RBD_STANDALONE_API
int rbd_standalone_get_parent(rbd_image_t image, rbd_standalone_parent_info_t *info);
CEPH_RBD_STANDALONE_API
void rbd_standalone_parent_info_cleanup(rbd_standalone_parent_info_t *info);

/* One RBD_OBJECT_STATE_* per object of image `name`; -ERANGE and *num
 * set when `states` is too small. */
CEPH_RBD_STANDALONE_API
int rbd_standalone_object_states(rados_ioctx_t ioctx, const char *name,
                                 uint8_t *states, size_t *num);

/* Message of this thread's last failed call, for users ("" if none). */
CEPH_RBD_STANDALONE_API
const char *rbd_standalone_last_error(void);

/* Removes `name` unless it has standalone children (-EBUSY, with the
 * count in the log); removing a child detaches it from its parent. */
CEPH_RBD_STANDALONE_API
int rbd_standalone_remove(rados_ioctx_t ioctx, const char *name);

/* Flattens image `name` (a standalone or a snapshot clone) without
 * trusting its object map, which a client killed during a copy-up can leave
 * listing objects that were never written (stock 16.2 flatten skips them,
 * and they read as zeros once the parent is detached): the map is flagged
 * invalid for the flatten and rebuilt after it.  A standalone child is then
 * detached from its parent (the last one lifts the parent's fence).
 * -EINVAL if the image has no parent. */
CEPH_RBD_STANDALONE_API
int rbd_standalone_flatten(rados_ioctx_t ioctx, const char *name);

/* The overlay version the OSD serving `name`'s header runs (-EOPNOTSUPP
 * if none). */
CEPH_RBD_STANDALONE_API
int rbd_standalone_overlay_version(rados_ioctx_t ioctx, const char *name,
                                   uint32_t *version);

/* Whether one OSD runs the cls_rbd overlay (rbd_standalone_overlay_status). */
typedef struct {
  int osd;
  int up;                /* 1 if the osdmap has it up */
  int status;            /* 0 probed; -EOPNOTSUPP stock cls_rbd only; -ENOENT down or
                            primary of no PG (not probed); else the probe's error */
  uint32_t version;      /* overlay version when status == 0 */
  char *ceph_version;    /* the Ceph version the overlay was built for */
  char *probe_pool;      /* pool of the object the probe ran on */
} rbd_standalone_osd_overlay_t;

/* Asks every up OSD (through an object it is primary for) which overlay
 * version it runs; writes nothing.  -ERANGE and *max set when `osds` is
 * too small. */
CEPH_RBD_STANDALONE_API
CEPH_RBD_STANDALONE_API
int rbd_standalone_overlay_status(rados_t cluster, rbd_standalone_osd_overlay_t *osds,
                                  size_t *max);
CEPH_RBD_STANDALONE_API
CEPH_RBD_STANDALONE_API
void rbd_standalone_overlay_status_cleanup(rbd_standalone_osd_overlay_t *osds, size_t num);

#ifdef __cplusplus
}
#endif

#endif /* CEPH_RBD_STANDALONE_H */
