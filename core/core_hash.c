/* core_hash: see core_hash.h. The loops are the ones the ids were first made
 * with; the tests pin their values on known inputs. */
#include "core/core_hash.h"

#include <stdio.h>

#define FNV64_PRIME 1099511628211ULL
#define FNV32_BASIS 2166136261u
#define FNV32_PRIME 16777619u

uint64_t core_fnv64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV64_PRIME;
    }
    return h;
}

uint64_t core_fnv64_str(uint64_t h, const char *s)
{
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= FNV64_PRIME;
    }
    return h;
}

void core_hash128(const void *p, size_t n, uint64_t out[2])
{
    const unsigned char *s = p;
    uint64_t h1 = CORE_FNV64_BASIS, h2 = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; i++) {
        h1 = (h1 ^ s[i]) * FNV64_PRIME;
        h2 = (h2 ^ s[i]) * FNV64_PRIME;
        h2 ^= h2 >> 29;
    }
    out[0] = h1;
    out[1] = h2;
}

uint32_t core_fnv32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = FNV32_BASIS;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV32_PRIME;
    }
    return h;
}

size_t core_hash_id(char id[CORE_HASH_ID_SIZE], uint64_t h)
{
    snprintf(id, CORE_HASH_ID_SIZE, "h:%016llx", (unsigned long long)h);
    return CORE_HASH_ID_SIZE - 1;
}
