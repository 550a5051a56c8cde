/* curvekey: CURVE key files, key names and local endpoints (see curvekey.h). */
#include "curvekey.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEY_FILE_MAX 4096 /* a key file is one line: anything longer is not one */

static const char Z85[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int rs_curvekey_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > RS_CURVEKEY_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int rs_curvekey_parse(const char *text, size_t len, char out[RS_CURVEKEY_Z85_LEN + 1],
                      rs_err_t *err)
{
    size_t n = 0;
    while (n < len && text[n] && strchr(Z85, text[n]))
        n++;
    size_t rest = len - n;
    int line_end = rest == 0 || (rest == 1 && text[n] == '\n') ||
                   (rest == 2 && text[n] == '\r' && text[n + 1] == '\n');
    if (n != RS_CURVEKEY_Z85_LEN || !line_end)
        return rs_err_set(err,
                          "expected one Z85 key of %d characters on one line (as `reasonsaver "
                          "keys gen` writes), found %s",
                          RS_CURVEKEY_Z85_LEN,
                          len == 0               ? "an empty file"
                          : n < len && !line_end ? "other characters"
                                                 : "a key of the wrong length");
    memcpy(out, text, RS_CURVEKEY_Z85_LEN);
    out[RS_CURVEKEY_Z85_LEN] = '\0';
    uint8_t raw[32];
    if (!zmq_z85_decode(raw, out)) return rs_err_set(err, "not a valid Z85 key");
    return 0;
}

/* Reads at most KEY_FILE_MAX bytes of fd into buf; the count, or -1 with errno. */
static ssize_t read_small(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int read_key(const char *path, int secret, char out[RS_CURVEKEY_Z85_LEN + 1], rs_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return rs_err_set(err, "%s: %s", path, strerror(errno));
    struct stat st;
    char buf[KEY_FILE_MAX + 1];
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = rs_err_set(err, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = rs_err_set(err, "%s: not a regular file", path);
    } else if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        rc = rs_err_set(err,
                        "%s: a secret key must be readable by its owner only (mode %04o); "
                        "run chmod 600 %s",
                        path, (unsigned)(st.st_mode & 07777), path);
    } else {
        ssize_t n = read_small(fd, buf, sizeof(buf));
        if (n < 0)
            rc = rs_err_set(err, "%s: %s", path, strerror(errno));
        else if (n > KEY_FILE_MAX)
            rc = rs_err_set(err, "%s: too long for a key file", path);
        else if (rs_curvekey_parse(buf, (size_t)n, out, err) != 0)
            rc = rs_err_prefix(err, "%s", path);
    }
    memset(buf, 0, sizeof(buf)); /* the secret does not linger on the stack */
    close(fd);
    return rc;
}

int rs_curvekey_read_public(const char *path, char out[RS_CURVEKEY_Z85_LEN + 1], rs_err_t *err)
{
    return read_key(path, 0, out, err);
}

int rs_curvekey_read_secret(const char *path, char out[RS_CURVEKEY_Z85_LEN + 1], rs_err_t *err)
{
    return read_key(path, 1, out, err);
}

int rs_curvekey_public_of(const char *secret, char pub[RS_CURVEKEY_Z85_LEN + 1], rs_err_t *err)
{
    if (zmq_curve_public(pub, secret) != 0)
        return rs_err_set(err, "cannot derive a public key: %s", zmq_strerror(errno));
    return 0;
}

int rs_curvekey_write_file(const char *path, const char *key, unsigned mode, rs_err_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0 && errno == EEXIST)
        return rs_err_set(err,
                          "%s already exists; not overwriting a key (remove it first, or "
                          "choose another name)",
                          path);
    if (fd < 0) return rs_err_set(err, "cannot create %s: %s", path, strerror(errno));
    char line[RS_CURVEKEY_Z85_LEN + 2];
    size_t n = strlen(key);
    memcpy(line, key, n);
    line[n++] = '\n';
    /* the umask must not widen nor narrow what was asked for */
    int rc = fchmod(fd, (mode_t)mode) != 0 || write(fd, line, n) != (ssize_t)n || fsync(fd) != 0;
    memset(line, 0, sizeof(line));
    if (close(fd) != 0) rc = 1;
    if (rc) {
        rs_err_set(err, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int rs_curvekey_write_pair(const char *dir, const char *name, char **secret_path, char **pub_path,
                           rs_err_t *err)
{
    if (!rs_curvekey_name_ok(name))
        return rs_err_set(err, "key name '%.80s': use 1 to %d letters, digits, '.', '_' or '-'",
                          name, RS_CURVEKEY_NAME_MAX);
    char pub[RS_CURVEKEY_Z85_LEN + 1], sec[RS_CURVEKEY_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        return rs_err_set(err, "cannot make a key pair: %s (is libzmq built with CURVE?)",
                          zmq_strerror(errno));
    char *sp = rs_xasprintf("%s/%s.secret", dir, name), *pp = rs_xasprintf("%s/%s.pub", dir, name);
    int rc = 0;
    struct stat st;
    if (lstat(pp, &st) == 0) /* checked first, so a refusal leaves no new secret behind */
        rc = rs_err_set(err,
                        "%s already exists; not overwriting a key (remove it first, or "
                        "choose another name)",
                        pp);
    else if (rs_curvekey_write_file(sp, sec, 0600, err) != 0)
        rc = -1;
    else if (rs_curvekey_write_file(pp, pub, 0644, err) != 0) {
        unlink(sp);
        rc = -1;
    }
    memset(sec, 0, sizeof(sec));
    if (rc == 0 && secret_path) *secret_path = sp, sp = NULL;
    if (rc == 0 && pub_path) *pub_path = pp, pp = NULL;
    free(sp);
    free(pp);
    return rc;
}

int rs_curvekey_endpoint_local(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0) return 1;
    if (strncmp(endpoint, "tcp://", 6) != 0) return 0;
    const char *host = endpoint + 6, *colon = strrchr(host, ':');
    if (!colon || colon == host) return 0;
    size_t n = (size_t)(colon - host);
    if (host[0] == '[' && n >= 2 && host[n - 1] == ']') host++, n -= 2;
    char h[64];
    if (n >= sizeof(h)) return 0;
    memcpy(h, host, n);
    h[n] = '\0';
    if (strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0) return 1;
    struct in_addr a4;
    if (inet_pton(AF_INET, h, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    return 0;
}
