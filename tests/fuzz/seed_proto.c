/* seed_proto: writes the protocol fuzz target's seed corpus (tests/fuzz/corpus/proto/) with the
 * real encoder, one valid frame of every message type with its fields empty, typical and at their
 * bounds: `build-fuzz/tests/fuzz/seed_proto tests/fuzz/corpus/proto`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define R0 "{\"idx\":0,\"id\":\"arith-1\",\"models\":{\"sim-1\":{\"correct\":true}}}"
#define R1 "{\"idx\":1,\"id\":\"2\",\"error\":\"timeout\"}"

static const char *dir;
static int n_written;

static void save(rs_buf_t *b, const char *name)
{
    char *path = rs_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    free(path);
    rs_buf_reset(b);
    n_written++;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_proto DIR\n");
        return 2;
    }
    dir = argv[1];
    rs_buf_t b;
    rs_buf_init(&b);

    rs_proto_encode_hello(&b, &(rs_hello_t){"w-host-1234", "host", 1234, "0.1.0", 64});
    save(&b, "hello");
    rs_proto_encode_hello(&b, &(rs_hello_t){"", "", 0, "", 1});
    save(&b, "hello-empty");
    rs_proto_encode_hello(&b, &(rs_hello_t){"w\x1b[31m\nforged", "h\xff\xfe", INT64_MAX, "9", 4096});
    save(&b, "hello-odd-names");

    rs_proto_encode_welcome(&b, &(rs_welcome_t){"run-20261204-1", "{\"run\":{\"name\":\"demo\"},"
        "\"models\":[{\"provider\":\"sim\",\"model\":\"sim-1\"}]}", 1000});
    save(&b, "welcome");
    rs_proto_encode_welcome(&b, &(rs_welcome_t){"", "{}", 1});
    save(&b, "welcome-min");

    rs_chat_msg_t msgs[] = {{"system", "Solve it."}, {"user", "What is 17 + 25?"}};
    char *targets[] = {"42", "forty-two"}, *tags[] = {"math", "ops:1"};
    rs_case_t cases[] = {
        {0, "arith-1", msgs, 2, targets, 2, tags, 2, "What is 17 + 25?", 2, 1, "passage-1"},
        {1, "2", msgs + 1, 1, targets, 1, NULL, 0, NULL, 0, 0, NULL},
        {UINT64_MAX, "", msgs + 1, 1, NULL, 0, NULL, 0, "", 0, 0, NULL},
    };
    rs_proto_encode_task(&b, &(rs_task_t){1, 1, 600000, cases, 3});
    save(&b, "task");
    rs_proto_encode_task(&b, &(rs_task_t){UINT64_MAX, UINT64_MAX, 1, cases + 1, 1});
    save(&b, "task-one");
    rs_proto_encode_task(&b, &(rs_task_t){2, 0, 1, NULL, 0});
    save(&b, "task-empty");

    rs_case_result_t results[] = {
        {0, 0, R0, sizeof(R0) - 1},
        {1, 1, R1, sizeof(R1) - 1},
        {UINT64_MAX, 0, "", 0},
    };
    const char *stats = "{\"sim-1\":{\"calls\":2,\"input_tokens\":40,\"output_tokens\":9,"
                        "\"errors\":{\"timeout\":1},\"latency_ms\":[12,30],\"stage\":[0,0]}}";
    rs_proto_encode_result(&b, &(rs_result_t){1, 1, results, 3, (char *)stats, strlen(stats)});
    save(&b, "result");
    rs_proto_encode_result(&b, &(rs_result_t){1, 1, results, 1, NULL, 0});
    save(&b, "result-no-stats");
    rs_proto_encode_result(&b, &(rs_result_t){3, 4, NULL, 0, NULL, 0});
    save(&b, "result-empty");

    /* bigger frames: many cases, text in several scripts */
    enum { MANY = 40 };
    rs_case_t many[MANY];
    rs_case_result_t many_results[MANY];
    for (size_t i = 0; i < MANY; i++) {
        many[i] = cases[i % 3];
        many[i].idx = 1000 + i;
        many_results[i] = results[i % 2];
        many_results[i].idx = 1000 + i;
    }
    rs_proto_encode_task(&b, &(rs_task_t){9, 3, 600000, many, MANY});
    save(&b, "task-many");
    rs_proto_encode_result(&b, &(rs_result_t){9, 3, many_results, MANY, NULL, 0});
    save(&b, "result-many");
    rs_chat_msg_t intl[] = {{"system", "Réponds en une ligne."},
                            {"user", "Grüße! 世界まで何キロ? Привет \xf0\x9f\x98\x80"},
                            {"assistant", "42"}, {"user", "Und jetzt?"}};
    rs_case_t conv = {5, "conv-ü", intl, 4, targets, 1, tags, 1, "Grüße! 世界まで何キロ?", 0, 0, NULL};
    rs_proto_encode_task(&b, &(rs_task_t){5, 5, 1000, &conv, 1});
    save(&b, "task-conversation");
    rs_proto_encode_hello(&b, &(rs_hello_t){"worker-ÿ-世界", "höst.example", 1, "0.1.0", 2});
    save(&b, "hello-utf8");
    rs_proto_encode_welcome(&b, &(rs_welcome_t){"r", "{\"judges\":[{\"model\":\"m\",\"rubric\":"
        "[\"a\",\"b\"]}],\"revise\":{\"rounds\":2},\"embedder\":{\"type\":\"openai\"}}", 250});
    save(&b, "welcome-chains");
    const char *usage2 = "{\"embedder\":{\"calls\":1,\"input_tokens\":12,\"output_tokens\":0,"
                         "\"errors\":{},\"latency_ms\":[5],\"stage\":[3]},\"m\":{\"calls\":0}}";
    rs_proto_encode_result(&b, &(rs_result_t){2, 2, results + 1, 1, (char *)usage2, strlen(usage2)});
    save(&b, "result-embedder-stats");

    int64_t credits[] = {0, 1, 64, INT64_MAX};
    for (size_t i = 0; i < sizeof(credits) / sizeof(credits[0]); i++) {
        char name[32];
        rs_proto_encode_credit(&b, credits[i]);
        snprintf(name, sizeof(name), "credit-%zu", i);
        save(&b, name);
        rs_proto_encode_heartbeat(&b, &(rs_heartbeat_t){credits[i], NULL, 0});
        snprintf(name, sizeof(name), "heartbeat-%zu", i);
        save(&b, name);
    }
    const char *hb = "{\"m\":{\"calls\":2,\"retries\":{\"http_429\":1},\"retry_after_ms\":1500}}";
    rs_proto_encode_heartbeat(&b, &(rs_heartbeat_t){3, (char *)hb, strlen(hb)});
    save(&b, "heartbeat-stats");
    rs_proto_encode_pause(&b, &(rs_pause_t){"m", 2000});
    save(&b, "pause");
    rs_proto_encode_drain(&b);
    save(&b, "drain");
    rs_proto_encode_cancel(&b, 7);
    save(&b, "cancel");
    rs_proto_encode_cancel(&b, UINT64_MAX);
    save(&b, "cancel-max");
    rs_buf_cleanup(&b);
    printf("seed_proto: %d frames in %s\n", n_written, dir);
    return 0;
}
