#ifndef FORGECHAIN_SHIM_SIG_H
#define FORGECHAIN_SHIM_SIG_H
// Signature and asymmetric-key helpers.
#endif
