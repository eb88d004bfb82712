#ifndef FORGECHAIN_CSQLITE_SHIM_H
#define FORGECHAIN_CSQLITE_SHIM_H
#include <sqlite3.h>

/* SQLITE_TRANSIENT and SQLITE_STATIC are casts of integers to function
   pointers; Swift does not import them, so expose them as functions. */
static inline sqlite3_destructor_type forgechain_sqlite_transient(void) { return SQLITE_TRANSIENT; }
static inline sqlite3_destructor_type forgechain_sqlite_static(void) { return SQLITE_STATIC; }

#endif
