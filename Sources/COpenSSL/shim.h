#ifndef FORGECHAIN_COPENSSL_SHIM_H
#define FORGECHAIN_COPENSSL_SHIM_H

// The low-level SHA256_* API is the fastest SHA-256 path in OpenSSL 3.0; it is
// deprecated there but present, so silence the deprecation.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

// Function-like macros and variadic functions are not imported into Swift;
// each area wraps the ones it needs in its own header.
#include "shim_hash.h"
#include "shim_sig.h"
#include "shim_cipher.h"
#include "shim_x509.h"

#endif
