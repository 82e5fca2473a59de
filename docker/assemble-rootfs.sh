#!/usr/bin/env bash
# Assembles the whole runtime filesystem of the JadeVectorDB image into a directory: the binary,
# exactly the shared libraries it loads (ldd, including the dynamic loader), the shipped
# configuration, /etc/passwd and /etc/group with the service user (uid/gid 999), /data and /tmp.
# docker/Dockerfile runs it in the builder stage and copies the result onto `scratch`, so the
# image holds nothing else; scripts/measure-image.sh runs it here to measure the image's size
# without a Docker engine, and the deployment tests run it and start the server chrooted into
# the result.
#
# Usage: docker/assemble-rootfs.sh BINARY CONFIG_DIR DEST
set -euo pipefail

[[ $# -eq 3 ]] || { echo "usage: $0 BINARY CONFIG_DIR DEST" >&2; exit 2; }
binary="$1" config="$2" dest="$3"
[[ -x "$binary" ]] || { echo "assemble-rootfs: $binary is not an executable" >&2; exit 2; }
[[ -d "$config" ]] || { echo "assemble-rootfs: $config is not a directory" >&2; exit 2; }

mkdir -p "$dest"/{usr/local/bin,etc/jadevectordb,data,tmp,proc,dev,run/secrets}
install -m 0755 "$binary" "$dest/usr/local/bin/jadevectordb"

# Every library the dynamic linker resolves, at the same path (symlinks followed), and the
# loader itself. A library ldd cannot find is an error, not a silent gap.
missing="$(ldd "$binary" | awk '/not found/ { print $1 }')"
[[ -z "$missing" ]] || { echo "assemble-rootfs: libraries not found: $missing" >&2; exit 1; }
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
    while read -r lib; do
        mkdir -p "$dest$(dirname "$lib")"
        cp -L "$lib" "$dest$lib"
    done

cp -R "$config/." "$dest/etc/jadevectordb/"
cat >"$dest/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
jadevectordb:x:999:999:JadeVectorDB:/data:/sbin/nologin
PASSWD
cat >"$dest/etc/group" <<'GROUP'
root:x:0:
jadevectordb:x:999:
GROUP
chmod 1777 "$dest/tmp"
chmod 0750 "$dest/data"
chown 999:999 "$dest/data" 2>/dev/null || true
