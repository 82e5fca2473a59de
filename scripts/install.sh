#!/usr/bin/env bash
# Installs JadeVectorDB for systemd: the binary, the shipped configuration and the unit files.
#
# Usage: scripts/install.sh [--prefix ROOT] [--binary PATH] [--dry-run]
#   --prefix ROOT  install under ROOT instead of / (a staging or test root; nothing outside it
#                  is touched and systemctl is not called)
#   --binary PATH  the binary to install (default: .build/release/jadevectordb; build it with
#                  `swift build -c release --product jadevectordb`)
#   --dry-run      print what would be done, change nothing
#
# Idempotent: files already identical are left alone; configuration files that exist are never
# overwritten (the operator's edits win; the shipped version is installed next to it as
# <name>.json.dist when it differs). Runtime directories (/var/lib/jadevectordb,
# /var/log/jadevectordb) are created by systemd (StateDirectory=, LogsDirectory= with
# DynamicUser=yes), not here. Exit status: 0 done, 1 failure, 2 usage.
set -euo pipefail

repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
prefix="/"
binary="$repo/.build/release/jadevectordb"
dry_run=0

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || usage; prefix="$2"; shift 2 ;;
        --binary) [[ $# -ge 2 ]] || usage; binary="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage ;;
        *) echo "install.sh: unknown argument $1" >&2; usage ;;
    esac
done
[[ -x "$binary" ]] || { echo "install.sh: no executable at $binary (build it first)" >&2; exit 1; }
prefix="${prefix%/}"
bindir="$prefix/usr/local/bin"
confdir="$prefix/etc/jadevectordb"
unitdir="$prefix/etc/systemd/system"

run() {
    echo "+ $*"
    if [[ $dry_run -eq 0 ]]; then "$@"; fi
}

# install_file MODE SOURCE DEST: copies unless DEST already has the same bytes.
install_file() {
    local mode="$1" src="$2" dest="$3"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest"; then
        echo "  unchanged $dest"
    else
        run install -m "$mode" "$src" "$dest"
    fi
}

# install_config SOURCE DEST: never overwrites an existing (possibly edited) config file.
install_config() {
    local src="$1" dest="$2"
    if [[ ! -e "$dest" ]]; then
        run install -m 0644 "$src" "$dest"
    elif cmp -s "$src" "$dest"; then
        echo "  unchanged $dest"
    else
        echo "  kept $dest (locally modified); shipped version in $dest.dist"
        install_file 0644 "$src" "$dest.dist"
    fi
}

run install -d -m 0755 "$bindir" "$confdir" "$unitdir"
install_file 0755 "$binary" "$bindir/jadevectordb"
for file in "$repo"/config/*.json; do
    install_config "$file" "$confdir/$(basename "$file")"
done
for unit in jadevectordb.service jadevectordb.socket; do
    install_file 0644 "$repo/systemd/$unit" "$unitdir/$unit"
done

if [[ -z "$prefix" && $dry_run -eq 0 ]] && [[ -d /run/systemd/system ]]; then
    run systemctl daemon-reload
    echo "installed. Next: put the secrets in place (see docs/operations_runbook.md), then"
    echo "  systemctl enable --now jadevectordb.service"
else
    if [[ $dry_run -eq 1 ]]; then echo "dry run: nothing changed under ${prefix:-/}"; else echo "installed under ${prefix:-/}"; fi
fi
