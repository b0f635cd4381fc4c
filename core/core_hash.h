/*
 * core_hash: the FNV-1a hashes of the tree, in one place.
 *
 * Some of these values leave the process: the "h:" + 16 hex digit id of a
 * message or feed entry that has none (ingest's JSONL source and feed
 * parser, `finsent backtest`), and the 128-bit tail of an over-long id
 * (core_item, the alerting seen key), are persisted in Redis as dedup keys.
 * Every place that must produce the same id calls the functions below, and
 * their values never change: a different hash would give every item a new
 * id after an upgrade and count every replayed item twice.
 *
 * finsent's FNV-1a variant: offset basis 1469598103934665603, kept for id
 * stability. It is a digit short of the standard 64-bit FNV-1a offset basis
 * (14695981039346656037); the prime is the standard one. The 32-bit hash is
 * standard FNV-1a and is used only inside the process (hash tables).
 *
 * Pure functions; any thread.
 */
#ifndef CORE_HASH_H
#define CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* finsent's FNV-1a variant: offset basis 1469598103934665603, kept for id
 * stability (see above). Seed of core_fnv64 and core_fnv64_str. */
#define CORE_FNV64_BASIS 1469598103934665603ULL

/* The size of a hash id, "h:" + 16 lowercase hex digits + NUL. */
#define CORE_HASH_ID_SIZE 19

/* core_fnv64 continues the hash h (CORE_FNV64_BASIS to start) over the n
 * bytes at p and returns it; feeding "ab" in two calls gives the hash of
 * "ab" in one. */
uint64_t core_fnv64(uint64_t h, const void *p, size_t n);

/* core_fnv64_str: core_fnv64 over the NUL-terminated s (NULL reads as ""). */
uint64_t core_fnv64_str(uint64_t h, const char *s);

/* core_hash128 hashes the n bytes at p into two independent 64-bit words:
 * out[0] is finsent's FNV-1a variant (core_fnv64 from CORE_FNV64_BASIS),
 * out[1] an FNV-1a with another seed and an xor-shift after each byte. The
 * stable 128-bit hash that replaces the tail of an over-long id. */
void core_hash128(const void *p, size_t n, uint64_t out[2]);

/* core_fnv32: standard 32-bit FNV-1a of the n bytes at p (in-process hash
 * tables only). */
uint32_t core_fnv32(const void *p, size_t n);

/* core_hash_id writes "h:" + h as 16 lowercase hex digits into id and
 * returns its length (18). */
size_t core_hash_id(char id[CORE_HASH_ID_SIZE], uint64_t h);

#endif
