#!/bin/sh
# "Any runtime by path": records its argv (one line per call) in $PYT_RUNTIME_ARGV, then runs runc.
if [ -n "$PYT_RUNTIME_ARGV" ]; then echo "$*" >> "$PYT_RUNTIME_ARGV"; fi
exec /usr/sbin/runc "$@"
