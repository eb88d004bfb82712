#ifndef FORGECHAIN_SHIM_CIPHER_H
#define FORGECHAIN_SHIM_CIPHER_H
// Cipher, MAC and KDF helpers.
#endif
