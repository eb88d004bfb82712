#ifndef FORGECHAIN_COPENSSL_SHIM_X509_H
#define FORGECHAIN_COPENSSL_SHIM_X509_H

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

/// Frees memory OpenSSL allocated (OPENSSL_free is a macro).
static inline void fc_openssl_free(void *p) { OPENSSL_free(p); }

/// Adds one X.509v3 extension given in OpenSSL's configuration syntax; 1 on success.
static inline int fc_x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/// Issues an X.509 v3 certificate for the public key `subject_spki` (DER SubjectPublicKeyInfo), named `cn`,
/// valid from `not_before` to `not_after` (seconds since 1970), signed with the PKCS#8 DER key `issuer_pkcs8`.
/// `issuer_der` is the issuer's certificate (DER), or NULL for a self-signed one. `is_ca` makes a CA
/// (basicConstraints CA:TRUE, keyCertSign); otherwise a TLS peer (CA:FALSE, digitalSignature, server and client
/// authentication). `subject_alt_names` (NULL or empty for none) is an OpenSSL subjectAltName value such as
/// `DNS:localhost,IP:127.0.0.1`. Ed25519 issuers sign without a digest, others with SHA-256.
/// Returns the DER (free with fc_openssl_free) and its length in *out_len, or NULL.
static inline unsigned char *fc_x509_issue(const unsigned char *subject_spki, long subject_len,
                                           const unsigned char *issuer_pkcs8, long issuer_len,
                                           const unsigned char *issuer_der, long issuer_der_len,
                                           const char *cn, long long serial, long long not_before, long long not_after,
                                           int is_ca, const char *subject_alt_names, int *out_len) {
    unsigned char *result = NULL;
    const unsigned char *p = subject_spki;
    EVP_PKEY *subject = d2i_PUBKEY(NULL, &p, subject_len);
    p = issuer_pkcs8;
    EVP_PKEY *signer = d2i_AutoPrivateKey(NULL, &p, issuer_len);
    X509 *issuer = NULL;
    if (issuer_der != NULL) {
        p = issuer_der;
        issuer = d2i_X509(NULL, &p, issuer_der_len);
    }
    X509 *cert = X509_new();
    if (subject == NULL || signer == NULL || cert == NULL || (issuer_der != NULL && issuer == NULL)) goto done;
    if (!X509_set_version(cert, 2)) goto done;
    if (!ASN1_INTEGER_set_int64(X509_get_serialNumber(cert), serial)) goto done;
    if (ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before) == NULL) goto done;
    if (ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) == NULL) goto done;
    if (!X509_set_pubkey(cert, subject)) goto done;
    X509_NAME *name = X509_get_subject_name(cert);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) goto done;
    if (!X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name)) goto done;
    X509 *ctx_issuer = issuer != NULL ? issuer : cert;
    if (is_ca) {
        if (!fc_x509_add_ext(cert, ctx_issuer, NID_basic_constraints, "critical,CA:TRUE")) goto done;
        if (!fc_x509_add_ext(cert, ctx_issuer, NID_key_usage, "critical,keyCertSign,cRLSign")) goto done;
    } else {
        if (!fc_x509_add_ext(cert, ctx_issuer, NID_basic_constraints, "critical,CA:FALSE")) goto done;
        if (!fc_x509_add_ext(cert, ctx_issuer, NID_key_usage, "critical,digitalSignature")) goto done;
        if (!fc_x509_add_ext(cert, ctx_issuer, NID_ext_key_usage, "serverAuth,clientAuth")) goto done;
    }
    if (subject_alt_names != NULL && subject_alt_names[0] != 0
        && !fc_x509_add_ext(cert, ctx_issuer, NID_subject_alt_name, subject_alt_names)) goto done;
    if (!fc_x509_add_ext(cert, ctx_issuer, NID_subject_key_identifier, "hash")) goto done;
    if (issuer != NULL && !fc_x509_add_ext(cert, ctx_issuer, NID_authority_key_identifier, "keyid:always")) goto done;
    const EVP_MD *md = EVP_PKEY_get_id(signer) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    if (X509_sign(cert, signer, md) <= 0) goto done;
    int len = i2d_X509(cert, &result);
    if (len <= 0) { result = NULL; goto done; }
    *out_len = len;
done:
    X509_free(cert);
    X509_free(issuer);
    EVP_PKEY_free(subject);
    EVP_PKEY_free(signer);
    return result;
}

/// Reads a DER certificate: its subject common name into cn (NUL-terminated, at most cn_cap bytes), its validity in
/// seconds since 1970, whether it is a CA, and its public key as DER SubjectPublicKeyInfo (free with
/// fc_openssl_free). Returns 1 on success, 0 when the DER is not a certificate.
static inline int fc_x509_read(const unsigned char *der, long der_len, char *cn, int cn_cap,
                               long long *not_before, long long *not_after, int *is_ca,
                               unsigned char **spki, int *spki_len) {
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, der_len);
    if (cert == NULL) return 0;
    int ok = 0;
    if (p != der + der_len) goto done;
    cn[0] = 0;
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, cn_cap) < 0) cn[0] = 0;
    struct tm t;
    memset(&t, 0, sizeof t);
    if (!ASN1_TIME_to_tm(X509_get0_notBefore(cert), &t)) goto done;
    *not_before = (long long)timegm(&t);
    memset(&t, 0, sizeof t);
    if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t)) goto done;
    *not_after = (long long)timegm(&t);
    *is_ca = X509_check_ca(cert) > 0 ? 1 : 0;
    *spki = NULL;
    *spki_len = i2d_PUBKEY(X509_get0_pubkey(cert), spki);
    if (*spki_len <= 0) goto done;
    ok = 1;
done:
    X509_free(cert);
    return ok;
}

/// 1 when the DER certificate `cert_der` is signed by the key of the DER certificate `issuer_der`.
static inline int fc_x509_signed_by(const unsigned char *cert_der, long cert_len, const unsigned char *issuer_der, long issuer_len) {
    const unsigned char *p = cert_der;
    X509 *cert = d2i_X509(NULL, &p, cert_len);
    p = issuer_der;
    X509 *issuer = d2i_X509(NULL, &p, issuer_len);
    int ok = cert != NULL && issuer != NULL && X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
    X509_free(cert);
    X509_free(issuer);
    return ok;
}

#endif
