/* test_peers: rejection counts per peer and reason, the per-minute budget, bans, the bound on
 * names, and the totals a resume restores; and rs_sanitize, which makes peers' names printable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../coordinator/peers.h"
#include "../../coordinator/peers_int.h"
#include "util.h"

static json_int_t field(json_t *j, const char *a, const char *b)
{
    json_t *v = json_object_get(j, a);
    return json_integer_value(b ? json_object_get(v, b) : v);
}

static void test_budget_per_minute(void **state)
{
    coord_peers_t *p = coord_peers_new(10, 60000);
    coord_peer_window_t w = {0};
    assert_int_equal(coord_peers_reject(p, &w, "w1", "duplicate", 10, 1000), 0);
    assert_int_equal(coord_peers_reject(p, &w, "w1", "duplicate", 1, 1001), 1); /* the 11th */
    /* A new minute starts a new budget. */
    coord_peer_window_t w2 = {0};
    assert_int_equal(coord_peers_reject(p, &w2, "w2", "not_leased", 10, 1000), 0);
    assert_int_equal(coord_peers_reject(p, &w2, "w2", "not_leased", 10, 62000), 0);
    assert_int_equal(coord_peers_rejected(p), 31);
    json_t *j = coord_peers_json(p);
    assert_int_equal(field(j, "reasons", "duplicate"), 11);
    assert_int_equal(field(j, "reasons", "not_leased"), 20);
    json_t *w1 = json_object_get(json_object_get(j, "by_peer"), "w1");
    assert_int_equal(json_integer_value(json_object_get(w1, "rejected")), 11);
    json_decref(j);
    coord_peers_destroy(&p);
    assert_null(p);
}

static void test_bans_expire(void **state)
{
    coord_peers_t *p = coord_peers_new(10, 5000);
    assert_int_equal(coord_peers_banned(p, "abcd", 0), 0);
    coord_peers_cut_off(p, "w1", "abcd", 1000);
    assert_int_equal(coord_peers_banned(p, "abcd", 5999), 1);
    assert_int_equal(coord_peers_banned(p, "abce", 5999), 0);
    assert_int_equal(coord_peers_banned(p, "abcd", 6000), 0);
    json_t *j = coord_peers_json(p);
    assert_int_equal(field(j, "cut_off", NULL), 1);
    json_decref(j);
    coord_peers_destroy(&p);
}

static void test_bans_bounded(void **state)
{
    coord_peers_t *p = coord_peers_new(10, 60000);
    char key[32];
    for (int i = 0; i < COORD_PEERS_MAX_BANS + 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        coord_peers_cut_off(p, "x", key, i);
    }
    assert_int_equal(coord_peers_n_bans(p), COORD_PEERS_MAX_BANS);
    assert_int_equal(coord_peers_banned(p, key, COORD_PEERS_MAX_BANS + 10), 1); /* newest kept */
    assert_int_equal(coord_peers_banned(p, "k0", COORD_PEERS_MAX_BANS + 10), 0); /* oldest went */
    coord_peers_destroy(&p);
}

static void test_names_bounded(void **state)
{
    coord_peers_t *p = coord_peers_new(1000000, 60000);
    coord_peer_window_t w = {0};
    char name[32];
    for (int i = 0; i < COORD_PEERS_MAX_NAMES + 50; i++) {
        snprintf(name, sizeof(name), "peer-%d", i);
        coord_peers_reject(p, &w, name, "malformed", 1, 0);
    }
    json_t *j = coord_peers_json(p);
    json_t *by = json_object_get(j, "by_peer");
    assert_int_equal(json_object_size(by), COORD_PEERS_MAX_NAMES + 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(by, "(others)"), "rejected")),
                     50);
    assert_int_equal(field(j, "rejected", NULL), COORD_PEERS_MAX_NAMES + 50);
    json_decref(j);
    coord_peers_destroy(&p);
}

static void test_restore_adds(void **state)
{
    coord_peers_t *p = coord_peers_new(10, 60000);
    coord_peer_window_t w = {0};
    coord_peers_reject(p, &w, "w1", "duplicate", 2, 0);
    coord_peers_late(p, "w1", 3);
    json_t *j = coord_peers_json(p);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    coord_peers_t *q = coord_peers_new(10, 60000);
    assert_int_equal(coord_peers_restore(q, text), 0);
    assert_int_equal(coord_peers_restore(q, text), 0);
    assert_int_equal(coord_peers_restore(q, "[1]"), -1);
    assert_int_equal(coord_peers_restore(q, "not json"), -1);
    assert_int_equal(coord_peers_rejected(q), 4);
    assert_int_equal(coord_peers_late_total(q), 6);
    j = coord_peers_json(q);
    assert_int_equal(field(j, "reasons", "duplicate"), 4);
    json_decref(j);
    free(text);
    coord_peers_destroy(&p);
    coord_peers_destroy(&q);
}

static void test_sanitize(void **state)
{
    char *s = rs_sanitize("evil\x1b[31m\nFORGED", 64);
    assert_string_equal(s, "evil?[31m?FORGED");
    free(s);
    s = rs_sanitize("h\xff\xfe\xc3\xa9", 64); /* invalid UTF-8, then a valid e-acute */
    assert_string_equal(s, "h????");
    free(s);
    s = rs_sanitize("abcdefgh", 4);
    assert_string_equal(s, "abcd...");
    free(s);
    s = rs_sanitize(NULL, 4);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_per_minute), cmocka_unit_test(test_bans_expire),
        cmocka_unit_test(test_bans_bounded),      cmocka_unit_test(test_names_bounded),
        cmocka_unit_test(test_restore_adds),      cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
