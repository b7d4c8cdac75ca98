#!/bin/sh
# A runtime that fails every verb the way crun does on a hybrid-cgroup host: a JSON error line in
# --log (when given) and the text on stderr, exit status 1.
msg="cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
log=""
while [ $# -gt 0 ]; do
    case "$1" in
        --log) log="$2"; shift 2 ;;
        --log-format|--root) shift 2 ;;
        *) break ;;
    esac
done
if [ -n "$log" ]; then
    printf '{"level":"error","msg":"%s","time":"2026-01-01T00:00:00Z"}\n' "$msg" >> "$log"
fi
echo "$msg" >&2
exit 1
