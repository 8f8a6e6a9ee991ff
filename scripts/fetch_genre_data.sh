#!/usr/bin/env bash
# Fetch the multi-artist genre packages (../shared/data/SOURCES.md, "Genre sources with several
# artists") with apt-get download + dpkg -x; no root install, nothing rendered here
# (scripts/make_genre_set.py renders tracker modules itself, under a timeout).
#
#   scripts/fetch_genre_data.sh [DEST] [small|all|PKG...]
#
# small : the packages under ~60 MB (tracker modules, OGG soundtracks): minutes to fetch
# all   : small + the big soundtracks (naev, widelands, supertuxkart, ... ~2.3 GB of .debs)
# Files land in DEST/genre/<package>/...; DEST defaults to ./data. A package already extracted
# (DEST/genre/<package>/.done) is skipped, so the script can be rerun after an interruption.
# Run `apt-get update` once before.
set -euo pipefail
dest=${1:-data}
which=${2:-all}
mkdir -p "$dest/debs"
dest=$(cd "$dest" && pwd)

small=(tecnoballz-data pekka-kana-2-data heroes-sound-tracks biniax2-data rafkill-data pachi-data
       freedroid-data bomberclone-data madbomber-data gemdropx gl-117-data wordwarvi-sound
       wizznic-data davegnukem-data lordsawar-data ardentryst enigma-data starfighter-data krank)
big=(widelands-data naev-data freecol flare-game megaglest-data unknown-horizons supertuxkart-data)

fetch() {  # fetch PKG...
  for pkg in "$@"; do
    local out="$dest/genre/$pkg"
    if [ -f "$out/.done" ]; then continue; fi
    echo "fetching $pkg -> $out" >&2
    (cd "$dest/debs" && { ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null; })
    rm -rf "$out" && mkdir -p "$out"
    dpkg -x "$(ls "$dest/debs/${pkg}"_*.deb | head -n 1)" "$out"
    touch "$out/.done"
  done
}

case "$which" in
  small) fetch "${small[@]}" ;;
  all) fetch "${small[@]}" "${big[@]}" ;;
  *) shift; fetch "$which" "$@" ;;
esac
echo "genre data ready under $dest/genre" >&2
