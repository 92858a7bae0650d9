#!/bin/sh
# Run a command on a fixed UTC slot, forever: every PERIOD seconds, OFFSET seconds past the slot.
#   every.sh 3600 300 -- feature-pipeline run      # hourly at hh:05 UTC
#   every.sh 86400 9000 -- training-pipeline run   # daily at 02:30 UTC
#
# Why a loop and not cron or ofelia: it needs no root, no crontab and no Docker socket inside the
# stack, and every job is idempotent, so a missed or failed slot is simply redone by the next one.
# A failure is logged and the loop goes on; the container's restart policy covers the loop itself.
set -eu

usage() { echo "usage: every.sh PERIOD_S OFFSET_S -- COMMAND [ARG...]" >&2; exit 2; }
[ "$#" -ge 4 ] && [ "$3" = "--" ] || usage
period=$1
offset=$2
shift 3
case "$period$offset" in *[!0-9]*) usage ;; esac
[ "$period" -gt 0 ] && [ "$offset" -lt "$period" ] || { echo "every.sh: need 0 <= OFFSET_S < PERIOD_S" >&2; exit 2; }

while :; do
    now=$(date -u +%s)
    next=$(( (now - offset) / period * period + period + offset ))
    echo "every.sh: next run of '$*' at $(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo "$next")"
    sleep $(( next - now ))
    started=$(date -u +%s)
    if "$@"; then
        echo "every.sh: '$*' succeeded in $(( $(date -u +%s) - started )) s"
    else
        echo "every.sh: '$*' failed with exit code $?; the next slot retries" >&2
    fi
done
