/* csvrec: CSV and TSV records through libcsv (RFC 4180: fields in double quotes may hold the
 * delimiter, newlines and doubled quotes ""), fed line by line so that a caller knows where each
 * record ends, and no I/O.
 *
 * Strict quoting for CSV: a quote inside an unquoted field, text after a closing quote or a quoted
 * field that never closes is an error at its line and column, not a guess. TSV keeps a quote
 * inside an unquoted field as data (TSV text often holds raw quotes); an unclosed quoted field is
 * an error there too. Only '\n' ends a record; a
 * '\r' at the start or end of an unquoted field is dropped (CRLF files), one inside quotes is kept
 * as data. Spaces are data (RFC 4180 §2.4). Field bytes are copied; a record's fields live until
 * the next record starts. */
#ifndef RS_CSVREC_H
#define RS_CSVREC_H

#include <stddef.h>

#include "util.h"

typedef struct rs_csv rs_csv_t;

/* delim: ',' for CSV, '\t' for TSV. */
rs_csv_t *rs_csv_new(char delim);
void rs_csv_destroy(rs_csv_t **p);

/* Drops the record being read (after an error outside this module, such as a record too long)
 * and uses delim from now on. */
void rs_csv_reset(rs_csv_t *p);
void rs_csv_set_delim(rs_csv_t *p, char delim);

/* Feeds one physical line with its '\n' (the file's last line may lack it). Returns 1 when the
 * line ended a record (its fields are ready), 0 when the record goes on (an open quoted field) or
 * the line was empty, -1 on a syntax error with *bad_at the offset in the line of the byte that
 * broke it and err saying what. After 1 or -1 the next feed starts a new record. */
int rs_csv_feed(rs_csv_t *p, const char *line, size_t len, size_t *bad_at, rs_err_t *err);
/* At the end of the input: 1 when the last line ended a record without '\n', 0 when no record was
 * open, -1 when a quoted field never closed. */
int rs_csv_finish(rs_csv_t *p, rs_err_t *err);
/* Whether a record is open (a quoted field spans the line end). */
int rs_csv_open(const rs_csv_t *p);

/* The fields of the record that the last 1 completed. */
size_t rs_csv_nfields(const rs_csv_t *p);
const char *rs_csv_field(const rs_csv_t *p, size_t i, size_t *len);

/* Parses bytes (one record as the scan found it: its lines without the last '\n') on its own.
 * 0 with the fields ready, -1 with *bad_at the offset in bytes. */
int rs_csv_parse_record(rs_csv_t *p, const char *bytes, size_t len, size_t *bad_at, rs_err_t *err);
/* The offset in bytes (one record, as for rs_csv_parse_record) where field k (0-based) starts,
 * or len when the record has k fields or fewer: for an error that points at the first extra or
 * missing field. */
size_t rs_csv_field_offset(char delim, const char *bytes, size_t len, size_t k);

#endif
