#ifndef FORGECHAIN_SHIM_HASH_H
#define FORGECHAIN_SHIM_HASH_H
// Hash helpers (none needed yet beyond the imported API).
#endif
