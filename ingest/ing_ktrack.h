/*
 * ing_ktrack: in-order acknowledgement tracking of one Kafka partition.
 *
 * The consumer hands out messages of a partition in offset order, but the
 * pipeline may acknowledge them in any order (batches, retries, several
 * classifier threads). Kafka only knows one committed offset per partition:
 * "everything below this is done". So the offset we may store is the lowest
 * offset still pending, or one past the highest acknowledged when nothing is
 * pending. An ack of 7 while 5 is pending stores nothing; the ack of 5 then
 * moves the store position past 7 at once.
 *
 * Design: a ring buffer of (offset, acked) in the order added, which is
 * ascending offset order (offsets may have gaps: compacted topics,
 * transaction markers). Acks find their entry by binary search; acked
 * entries at the head are popped, each pop moving store_pos to offset + 1.
 * Pure data structure, no locking: the owner (ing_kafka) serialises access.
 */
#ifndef ING_KTRACK_H
#define ING_KTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

typedef struct ing_ktrack {
    int64_t *off;
    unsigned char *acked;
    size_t head, n, cap;
    int64_t store_pos; /* next offset to store (committed offset); -1: nothing to store */
    int64_t hole;      /* lowest offset ing_ktrack_add could not record; -1: none */
} ing_ktrack_t;

/* ing_ktrack_init makes an empty tracker (no allocation yet). */
void ing_ktrack_init(ing_ktrack_t *t);

/* ing_ktrack_cleanup frees the buffers. */
void ing_ktrack_cleanup(ing_ktrack_t *t);

/* ing_ktrack_add records offset as pending. Offsets must be added in
 * strictly increasing order: CORE_EINVAL otherwise (nothing recorded).
 * CORE_ENOMEM: not recorded, and store_pos never passes it from then on
 * (until ing_ktrack_clear), so the message is redelivered after a restart
 * rather than committed past. */
core_err_t ing_ktrack_add(ing_ktrack_t *t, int64_t offset);

/* ing_ktrack_ack marks offset acknowledged and advances store_pos over the
 * acknowledged prefix. Returns 1 when the offset was pending, 0 when it is
 * unknown or already acknowledged (a late or duplicate ack: ignored). */
int ing_ktrack_ack(ing_ktrack_t *t, int64_t offset);

/* ing_ktrack_pending: offsets added and not yet acknowledged. */
size_t ing_ktrack_pending(const ing_ktrack_t *t);

/* ing_ktrack_clear forgets every pending offset and the store position (on
 * partition revocation: later acks of these offsets are ignored). */
void ing_ktrack_clear(ing_ktrack_t *t);

#endif
