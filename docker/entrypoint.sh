#!/bin/sh
# Container entrypoint: copy the service's configuration from the read-only /conf mount into /etc/inline-signer with
# owner-only modes, then run `inline-signer` with the container's arguments.
#
# Why a copy: git does not keep file modes, so a checkout's conf/node1.pass arrives 0644, and a node refuses a
# passphrase file that group or others can read. The files are private keys and passphrases, so all of them get 0600.
# Files that are not in /conf (a node's share store, the signer's keys.json) are left alone.
set -eu
if [ -d /conf ]; then
    for file in /conf/*; do
        [ -f "$file" ] || continue
        cp "$file" "/etc/inline-signer/$(basename "$file").tmp"
        chmod 0600 "/etc/inline-signer/$(basename "$file").tmp"
        mv -f "/etc/inline-signer/$(basename "$file").tmp" "/etc/inline-signer/$(basename "$file")"
    done
fi
exec /usr/local/bin/inline-signer "$@"
