/* SHA-256 (FIPS 180-4): subscribers' confirmation secrets are stored as
 * hashes, never as they were sent. */
#ifndef CRIER_SHA256_H
#define CRIER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* The digest of len bytes at data into out. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* The digest as 64 lowercase hex digits and a NUL into hex. */
void sha256_hex(const void *data, size_t len, char hex[2 * SHA256_LEN + 1]);

#endif
