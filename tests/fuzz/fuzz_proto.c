/* fuzz_proto: the coordinator <-> worker frame decoder (rs_proto_decode), the network trust
 * boundary. Any bytes must decode or fail cleanly; a frame that decodes must survive
 * encode -> decode -> encode byte for byte (the decoder keeps everything the encoder writes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void encode(rs_buf_t *out, const rs_msg_t *m)
{
    switch (m->type) {
    case RS_MSG_HELLO: rs_proto_encode_hello(out, &m->u.hello); break;
    case RS_MSG_WELCOME: rs_proto_encode_welcome(out, &m->u.welcome); break;
    case RS_MSG_TASK: rs_proto_encode_task(out, &m->u.task); break;
    case RS_MSG_RESULT: rs_proto_encode_result(out, &m->u.result); break;
    case RS_MSG_CREDIT: rs_proto_encode_credit(out, m->u.credit); break;
    case RS_MSG_HEARTBEAT: rs_proto_encode_heartbeat(out, &m->u.heartbeat); break;
    case RS_MSG_PAUSE: rs_proto_encode_pause(out, &m->u.pause); break;
    case RS_MSG_DRAIN: rs_proto_encode_drain(out); break;
    case RS_MSG_CANCEL: rs_proto_encode_cancel(out, m->u.cancel); break;
    default: abort(); /* the decoder returned a type it does not know */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rs_msg_t m, m2;
    rs_err_t err = {{0}};
    if (rs_proto_decode(data, size, &m, &err) != 0) {
        if (err.msg[0] == '\0') abort(); /* a failure always says why */
        return 0;
    }
    rs_buf_t a, b;
    rs_buf_init(&a);
    rs_buf_init(&b);
    encode(&a, &m);
    if (rs_proto_decode(a.data, a.len, &m2, &err) != 0) abort(); /* our own frame refused */
    if (m2.type != m.type) abort();
    encode(&b, &m2);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) abort(); /* lost or changed a field */
    rs_msg_cleanup(&m2);
    rs_msg_cleanup(&m);
    rs_buf_cleanup(&a);
    rs_buf_cleanup(&b);
    return 0;
}
