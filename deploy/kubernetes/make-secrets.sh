#!/bin/sh
# make-secrets.sh: writes the Secrets the manifests mount, with fresh keys and a fresh Redis
# password, to OUT (mode 0600), and keeps the key pairs in KEYDIR (default ./reasonsaver-keys,
# mode 0700) so that more workers can be authorised later:
#   OPENAI_API_KEY=sk-... deploy/kubernetes/make-secrets.sh --api-key OPENAI_API_KEY secrets.yaml
#   kubectl apply -f secrets.yaml && rm secrets.yaml
# Needs `reasonsaver` (or $REASONSAVER) for `keys gen`, sha256sum and base64. Nothing secret is
# printed; an --api-key variable that is unset or empty is an error.
set -eu
RS=${REASONSAVER:-reasonsaver}
KEYDIR=./reasonsaver-keys
NAMESPACE=reasonsaver
API_KEYS=
usage() {
    echo "usage: make-secrets.sh [--keydir DIR] [--namespace NS] [--api-key VAR]... OUT.yaml" >&2
    exit 2
}
while [ $# -gt 1 ]; do
    case $1 in
    --keydir) KEYDIR=$2; shift 2 ;;
    --namespace) NAMESPACE=$2; shift 2 ;;
    --api-key)
        case $2 in '' | [0-9]* | *[!A-Za-z0-9_]*) echo "make-secrets.sh: --api-key: '$2' is not a variable name" >&2; exit 2 ;; esac
        API_KEYS="$API_KEYS $2"; shift 2 ;;
    *) usage ;;
    esac
done
[ $# -eq 1 ] || usage
case $1 in -*) usage ;; esac
OUT=$1
umask 077
mkdir -p "$KEYDIR"
chmod 700 "$KEYDIR"
for name in coordinator worker; do
    [ -f "$KEYDIR/$name.secret" ] || "$RS" keys gen "$name" --dir "$KEYDIR" >/dev/null
done
if [ ! -f "$KEYDIR/redis.password" ]; then
    head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$KEYDIR/redis.password"
fi
password=$(cat "$KEYDIR/redis.password")
hash=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)
# The coordinator's user: its own keys and channel (rs:*) and the commands it sends, nothing else,
# word for word as docs/REDIS.md gives them (test_deploy_k8s.py compares). The default user is off.
REDIS_ACL_RULES='resetkeys ~rs:* resetchannels &rs:* -@all +ping +select +info +script|load +eval +evalsha +get +set +del +pttl +pexpire +hset +hsetnx +hgetall +hmget +hscan +hincrby +zadd +zrevrange +publish'
b64() { base64 -w0; }
secret() { # NAME, then "key file" pairs
    name=$1; shift
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels: {app.kubernetes.io/name: reasonsaver}\ntype: Opaque\ndata:\n' "$name" "$NAMESPACE"
    while [ $# -gt 1 ]; do
        printf '  %s: %s\n' "$1" "$(b64 < "$2")"
        shift 2
    done
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$OUT.tmp"' EXIT
printf 'user default off\nuser reasonsaver on #%s %s\n' "$hash" "$REDIS_ACL_RULES" > "$tmp/users.acl"
{
    secret reasonsaver-coordinator-key coordinator.secret "$KEYDIR/coordinator.secret"
    # Every *.pub in KEYDIR except the coordinator's is an authorised worker.
    set --
    for pub in "$KEYDIR"/*.pub; do
        [ "$(basename "$pub")" = coordinator.pub ] || set -- "$@" "$(basename "$pub")" "$pub"
    done
    secret reasonsaver-authorized-workers "$@"
    secret reasonsaver-worker-key worker.secret "$KEYDIR/worker.secret" coordinator.pub "$KEYDIR/coordinator.pub"
    secret reasonsaver-redis password "$KEYDIR/redis.password" users.acl "$tmp/users.acl"
    set --
    for var in $API_KEYS; do
        eval "value=\${$var:-}"
        if [ -z "$value" ]; then
            echo "make-secrets.sh: --api-key $var: the variable is unset or empty" >&2
            exit 1
        fi
        printf '%s' "$value" > "$tmp/$var"
        set -- "$@" "$var" "$tmp/$var"
    done
    secret reasonsaver-api-keys "$@"
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "make-secrets.sh: wrote $OUT (keys in $KEYDIR)"
