#!/usr/bin/env bash
# Fetch real music from Debian packages (no root install: apt-get download + dpkg -x).
#
#   scripts/fetch_data.sh [DEST] [train|train-small|heldout|all]
#
# train       : the codec training pool (../shared/data/SOURCES.md, ~14 h)
# train-small : the 6-hour subset (warzone2100, singularity, drascula, sectoid)
# heldout     : the classification sources (never used to train the codec)
# Files land in DEST/<set>/<package>/... ; DEST defaults to ./data.
set -euo pipefail
dest=${1:-data}
which=${2:-all}
mkdir -p "$dest/debs"
dest=$(cd "$dest" && pwd)

train_small=(warzone2100-music singularity-music drascula-music fretsonfire-songs-sectoid)
train_rest=(ufoai-music supertux-data hedgewars-data hyperrogue-music freedroidrpg-data)
heldout=(wesnoth-1.16-music marsshooter-data fretsonfire-songs-muldjord nexuiz-music pingus-data tuxmath-data fb-music-high)

fetch() {  # fetch SET PKG...
  local set=$1; shift
  for pkg in "$@"; do
    local out="$dest/$set/$pkg"
    if [ -f "$out/.done" ]; then continue; fi
    echo "fetching $pkg -> $out" >&2
    (cd "$dest/debs" && ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null)
    mkdir -p "$out"
    dpkg -x "$(ls "$dest/debs/${pkg}"_*.deb | head -n 1)" "$out"
    # some packages keep their music inside zip archives (.pk3)
    while IFS= read -r pk3; do
      (cd "$(dirname "$pk3")" && python3 -m zipfile -e "$(basename "$pk3")" "$(basename "$pk3").d" >/dev/null 2>&1 || true)
    done < <(find "$out" -name '*.pk3' \( -name '0music.pk3' -o -name 'music.pk3' \))
    touch "$out/.done"
  done
}

case "$which" in
  train-small) fetch train "${train_small[@]}" ;;
  train) fetch train "${train_small[@]}" "${train_rest[@]}" ;;
  heldout) fetch heldout "${heldout[@]}" ;;
  all) fetch train "${train_small[@]}" "${train_rest[@]}"; fetch heldout "${heldout[@]}" ;;
  *) echo "unknown set '$which' (train, train-small, heldout, all)" >&2; exit 2 ;;
esac
echo "data ready under $dest" >&2
