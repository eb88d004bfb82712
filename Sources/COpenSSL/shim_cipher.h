#ifndef FORGECHAIN_SHIM_CIPHER_H
#define FORGECHAIN_SHIM_CIPHER_H
// Cipher, MAC, KDF and RSA-encryption helpers. Each wraps an OpenSSL macro,
// a variadic function, or an OSSL_PARAM array whose key names must outlive
// the call (string literals here are static, unlike Swift temporaries).

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

/// Sets the IV length of an AEAD cipher context (OSSL_CIPHER_PARAM_AEAD_IVLEN).
static inline int forgechain_cipher_set_ivlen(EVP_CIPHER_CTX *ctx, size_t ivlen) {
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_CIPHER_CTX_set_params(ctx, params);
}

/// Reads the AEAD tag after EVP_EncryptFinal_ex (OSSL_CIPHER_PARAM_AEAD_TAG).
static inline int forgechain_cipher_get_tag(EVP_CIPHER_CTX *ctx, unsigned char *tag, size_t taglen) {
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, taglen);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_CIPHER_CTX_get_params(ctx, params);
}

/// Sets the expected AEAD tag before EVP_DecryptFinal_ex.
static inline int forgechain_cipher_set_tag(EVP_CIPHER_CTX *ctx, unsigned char *tag, size_t taglen) {
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, taglen);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_CIPHER_CTX_set_params(ctx, params);
}

/// HKDF (RFC 5869) through EVP_KDF. `mode` is one of
/// EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND / _EXTRACT_ONLY / _EXPAND_ONLY.
/// Returns 1 on success.
static inline int forgechain_hkdf(OSSL_LIB_CTX *libctx, const char *digest, int mode,
                                  const unsigned char *key, size_t keylen,
                                  const unsigned char *salt, size_t saltlen,
                                  const unsigned char *info, size_t infolen,
                                  unsigned char *out, size_t outlen) {
    EVP_KDF *kdf = EVP_KDF_fetch(libctx, "HKDF", NULL);
    if (kdf == NULL) return 0;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (kctx == NULL) return 0;
    static const unsigned char empty = 0;
    OSSL_PARAM params[6];
    size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                      (void *)(key != NULL ? key : &empty), keylen);
    if (saltlen > 0)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    if (infolen > 0)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    params[n] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kctx, out, outlen, params);
    EVP_KDF_CTX_free(kctx);
    return ok;
}

/// Sets an RSA-OAEP label; OpenSSL takes ownership of an OPENSSL_malloc copy.
static inline int forgechain_rsa_set_oaep_label(EVP_PKEY_CTX *ctx, const unsigned char *label, size_t len) {
    if (len == 0) return 1;
    unsigned char *copy = OPENSSL_memdup(label, len);
    if (copy == NULL) return 0;
    int ok = EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)len);
    if (ok <= 0) OPENSSL_free(copy);
    return ok;
}

/// OPENSSL_cleanse is a function, but keep all zeroing in one place.
static inline void forgechain_cleanse(void *p, size_t len) {
    if (p != NULL && len > 0) OPENSSL_cleanse(p, len);
}

#endif
