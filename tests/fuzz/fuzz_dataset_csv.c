/* fuzz_dataset_csv: CSV / TSV bytes fed to common/csvrec.c line by line, as the dataset scan feeds
 * them (the first byte picks the delimiter: even ',', odd '\t'; the rest is the file). Every record
 * the line-by-line parse completes is parsed again from its bytes alone with rs_csv_parse_record,
 * as rs_dataset_read does for a task: both must give the same fields, or a task would see another
 * case than the scan validated. A syntax error must say why and point inside its line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csvrec.h"

/* The fields of a and b are the same. */
static void same_fields(const rs_csv_t *a, const rs_csv_t *b)
{
    if (rs_csv_nfields(a) != rs_csv_nfields(b)) abort();
    for (size_t i = 0; i < rs_csv_nfields(a); i++) {
        size_t la, lb;
        const char *fa = rs_csv_field(a, i, &la), *fb = rs_csv_field(b, i, &lb);
        if (la != lb || memcmp(fa, fb, la) != 0) abort();
    }
}

/* The record at s (len bytes, its last newline left out) read again on its own. */
static void reread(const rs_csv_t *scan, rs_csv_t *again, char delim, const char *s, size_t len)
{
    size_t bad;
    rs_err_t err = {{0}};
    if (rs_csv_parse_record(again, s, len, &bad, &err) != 0) abort();
    same_fields(scan, again);
    size_t k = rs_csv_nfields(scan) / 2;
    if (rs_csv_field_offset(delim, s, len, k) > len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char delim = data[0] & 1 ? '\t' : ',';
    const char *s = (const char *)data + 1;
    size_t n = size - 1, pos = 0, rec = 0, bad;
    rs_csv_t *scan = rs_csv_new(delim), *again = rs_csv_new(delim);
    rs_err_t err = {{0}};
    while (pos < n) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - s) : n, len = end - pos + (nl ? 1 : 0);
        if (!rs_csv_open(scan)) rec = pos;
        int rc = rs_csv_feed(scan, s + pos, len, &bad, &err);
        if (rc < 0 && (err.msg[0] == '\0' || bad >= len)) abort();
        if (rc == 1) reread(scan, again, delim, s + rec, end - rec);
        pos += len;
    }
    int rc = rs_csv_finish(scan, &err);
    if (rc < 0 && err.msg[0] == '\0') abort();
    if (rc == 1) reread(scan, again, delim, s + rec, n - rec);
    rs_csv_destroy(&scan);
    rs_csv_destroy(&again);
    return 0;
}
