/* metrics: a libmicrohttpd server thread serving the last published Prometheus text. */
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coord_metrics {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    char *text;
    size_t len;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    coord_metrics_t *m = cls;
    int ok = strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0;
    pthread_mutex_lock(&m->lock);
    const char *body = ok ? (m->text ? m->text : "") : "not found: GET /metrics\n";
    size_t len = ok ? m->len : strlen(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&m->lock);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(conn, ok ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, r);
    MHD_destroy_response(r);
    return rc;
}

int coord_bind_parse(const char *what, const char *bind, const char *any_host,
                     struct sockaddr_in *sa, rs_err_t *err)
{
    const char *colon = strrchr(bind, ':');
    char host[64];
    snprintf(host, sizeof(host), "%s", any_host);
    if (!colon) return rs_err_set(err, "%s '%s': expected host:port", what, bind);
    if (colon > bind) {
        size_t n = (size_t)(colon - bind) < sizeof(host) - 1 ? (size_t)(colon - bind) : sizeof(host) - 1;
        memcpy(host, bind, n);
        host[n] = '\0';
        if (strcmp(host, "localhost") == 0) memcpy(host, "127.0.0.1", 10);
    }
    int64_t port;
    if (rs_parse_i64(colon + 1, &port) || port < 0 || port > 65535)
        return rs_err_set(err, "%s '%s': bad port", what, bind);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return rs_err_set(err, "%s '%s': expected an IPv4 address", what, bind);
    return 0;
}

coord_metrics_t *coord_metrics_start(const char *bind, rs_err_t *err)
{
    struct sockaddr_in sa;
    if (coord_bind_parse("cluster.metrics_bind", bind, "0.0.0.0", &sa, err)) return NULL;
    coord_metrics_t *m = rs_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 answer, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_END);
    if (!m->daemon) {
        rs_err_set(err, "cannot serve metrics on %s (address in use?)", bind);
        coord_metrics_stop(&m);
        return NULL;
    }
    return m;
}

void coord_metrics_publish(coord_metrics_t *m, const char *text, size_t len)
{
    char *copy = rs_xstrndup(text, len);
    pthread_mutex_lock(&m->lock);
    free(m->text);
    m->text = copy;
    m->len = len;
    pthread_mutex_unlock(&m->lock);
}

void coord_metrics_stop(coord_metrics_t **mp)
{
    if (!mp || !*mp) return;
    coord_metrics_t *m = *mp;
    if (m->daemon) MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->lock);
    free(m->text);
    free(m);
    *mp = NULL;
}
