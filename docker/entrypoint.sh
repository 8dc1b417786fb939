#!/bin/sh
# Started as root: give the data folder to the server's user, then run the server as that user.
set -e
[ "$#" -gt 0 ] || set -- "$SERVER"
case "$1" in
  redis-server|redis-sentinel|valkey-server|valkey-sentinel)
    if [ "$(id -u)" = 0 ]; then
      find . \! -user "$SERVER_USER" -exec chown "$SERVER_USER" '{}' +
      exec setpriv --reuid="$SERVER_USER" --regid="$SERVER_USER" --init-groups "$@"
    fi
    ;;
esac
exec "$@"
