#!/usr/bin/env bash
# Re-vendor the browser assets the map pages use from the npm registry into api/static/vendor/.
#
# Nothing is fetched at run time: the API serves these files itself (the maps must work on an intranet with no internet).
# This script is for updates only; `make` never runs it. Bump a version below, run it, look at the
# diff, run `pytest tests/unit/test_maps.py tests/browser`, commit.
#
#   scripts/vendor_assets.sh            # writes api/static/vendor/ (removes what it replaces)
#
# Needs: npm, tar. Only `npm pack` is used (no install, no node_modules, no lifecycle scripts).
set -euo pipefail

LEAFLET=1.9.4
JQUERY=3.7.1
BOOTSTRAP=5.3.8
FONTAWESOME=6.7.2           # folium's awesome markers use Font Awesome 6 class names
AWESOME_MARKERS=2.0.2       # Leaflet.awesome-markers, published on npm as drmonty-leaflet-awesome-markers

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/api/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# unpack <npm spec> <dir name>: npm pack into $WORK, extract to $WORK/<dir name>
unpack() {
    local spec="$1" name="$2" tgz
    tgz="$(cd "$WORK" && npm pack --silent --ignore-scripts "$spec" 2>/dev/null | tail -n 1)"
    mkdir -p "$WORK/$name"
    tar -xzf "$WORK/$tgz" -C "$WORK/$name" --strip-components=1
}

# licence <src pkg dir> <dest dir>: copy the package's licence file
licence() {
    local f
    for f in LICENSE LICENSE.txt LICENSE.md LICENCE license; do
        if [[ -f "$1/$f" ]]; then cp "$1/$f" "$2/LICENSE"; return; fi
    done
    echo "no licence file in $1" >&2
    exit 1
}

unpack "leaflet@$LEAFLET" leaflet
unpack "jquery@$JQUERY" jquery
unpack "bootstrap@$BOOTSTRAP" bootstrap
unpack "@fortawesome/fontawesome-free@$FONTAWESOME" fontawesome-free
unpack "drmonty-leaflet-awesome-markers@$AWESOME_MARKERS" awesome-markers

rm -rf "$DEST"
mkdir -p "$DEST"/{leaflet/images,jquery,bootstrap/css,bootstrap/js,fontawesome-free/css,fontawesome-free/webfonts}
mkdir -p "$DEST"/leaflet.awesome-markers/{css/images,js} "$DEST/folium"

# Leaflet: script, stylesheet and the default marker / layer-control images the stylesheet refers to
cp "$WORK/leaflet/dist/leaflet.js" "$WORK/leaflet/dist/leaflet.css" "$DEST/leaflet/"
cp "$WORK"/leaflet/dist/images/*.png "$DEST/leaflet/images/"
licence "$WORK/leaflet" "$DEST/leaflet"

cp "$WORK/jquery/dist/jquery.min.js" "$DEST/jquery/"
licence "$WORK/jquery" "$DEST/jquery"

cp "$WORK/bootstrap/dist/css/bootstrap.min.css" "$DEST/bootstrap/css/"
cp "$WORK/bootstrap/dist/js/bootstrap.bundle.min.js" "$DEST/bootstrap/js/"
licence "$WORK/bootstrap" "$DEST/bootstrap"

# Font Awesome: all.min.css and only the woff2 fonts (every browser that runs Leaflet 1.9 reads woff2;
# the .ttf fallbacks the stylesheet also names are never requested when woff2 loads)
cp "$WORK/fontawesome-free/css/all.min.css" "$DEST/fontawesome-free/css/"
cp "$WORK"/fontawesome-free/webfonts/*.woff2 "$DEST/fontawesome-free/webfonts/"
licence "$WORK/fontawesome-free" "$DEST/fontawesome-free"

# Leaflet.awesome-markers: script, stylesheet and the two sprite sheets it refers to (soft + shadow)
AM="$WORK/awesome-markers"
cp "$AM/js/leaflet.awesome-markers.js" "$DEST/leaflet.awesome-markers/js/"
cp "$AM/css/leaflet.awesome-markers.css" "$DEST/leaflet.awesome-markers/css/"
cp "$AM"/css/images/markers-{soft,shadow}{,@2x}.png "$DEST/leaflet.awesome-markers/css/images/"
# the npm package declares MIT (package.json "licenses") but ships no licence file: write the MIT text
cat > "$DEST/leaflet.awesome-markers/LICENSE" <<'MIT'
Leaflet.awesome-markers — https://github.com/lvoogdt/Leaflet.awesome-markers
(npm: drmonty-leaflet-awesome-markers; licence declared as MIT in its package.json)

Copyright (C) 2013 Lennard Voogdt

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR
THE USE OR OTHER DEALINGS IN THE SOFTWARE.
MIT

# folium's own tiny stylesheet for rotated awesome-marker icons (Icon(angle=...)) is not on npm:
# it is 360 generated rules, regenerated here (folium is MIT licensed, like this copy).
{
    echo "/* fa-rotate-N classes used by folium.Icon(angle=N); equivalent of folium's leaflet.awesome.rotate.css (MIT) */"
    for i in $(seq 1 360); do
        printf '.fa-rotate-%d{transform:rotate(%ddeg)}\n' "$i" "$i"
    done
} > "$DEST/folium/leaflet.awesome.rotate.css"

version_of() { node -p "require('$WORK/$1/package.json').version"; }
licence_of() {
    node -p "const p = require('$WORK/$1/package.json'); p.license || (p.licenses || []).map(l => l.type).join(' OR ')"
}

{
    echo "# Browser assets vendored from the npm registry by scripts/vendor_assets.sh — do not edit by hand."
    echo "# directory                npm package                          version   license"
    printf '%-26s %-36s %-9s %s\n' leaflet leaflet "$(version_of leaflet)" "$(licence_of leaflet)"
    printf '%-26s %-36s %-9s %s\n' jquery jquery "$(version_of jquery)" "$(licence_of jquery)"
    printf '%-26s %-36s %-9s %s\n' bootstrap bootstrap "$(version_of bootstrap)" "$(licence_of bootstrap)"
    printf '%-26s %-36s %-9s %s\n' fontawesome-free @fortawesome/fontawesome-free \
        "$(version_of fontawesome-free)" "$(licence_of fontawesome-free)"
    printf '%-26s %-36s %-9s %s\n' leaflet.awesome-markers drmonty-leaflet-awesome-markers \
        "$(version_of awesome-markers)" "$(licence_of awesome-markers)"
    printf '%-26s %-36s %-9s %s\n' folium "(generated, see script)" "-" "MIT"
} > "$DEST/VERSIONS.txt"

du -sh "$DEST"

# Leaflet.heat (folium.plugins.HeatMap's script; folium links a patched copy from a CDN by default).
# The npm release is 0.2.0 (2014): its package.json declares no licence, its LICENSE file is BSD-2-Clause.
LEAFLET_HEAT=0.2.0
unpack "leaflet.heat@$LEAFLET_HEAT" leaflet.heat
mkdir -p "$DEST/leaflet.heat"
cp "$WORK/leaflet.heat/dist/leaflet-heat.js" "$DEST/leaflet.heat/"
licence "$WORK/leaflet.heat" "$DEST/leaflet.heat"
printf '%-26s %-36s %-9s %s\n' leaflet.heat leaflet.heat "$(version_of leaflet.heat)" \
    "BSD-2-Clause (LICENSE file; package.json declares none)" >> "$DEST/VERSIONS.txt"

# Leaflet.TimeDimension: the time slider of folium.plugins.TimestampedGeoJson (the rollout map), with the
# two libraries folium's plugin loads beside it — iso8601-js-period (ISO 8601 periods such as P1M) and
# moment (the slider's date label). folium also links jQuery UI 1.10.2 and highlight.js's stylesheet
# from cdnjs: TimeDimension 1.1.1 uses neither (its slider is its own), so neither is vendored.
TIMEDIMENSION=1.1.1
ISO8601_PERIOD=0.2.1
MOMENT=2.30.1
unpack "leaflet-timedimension@$TIMEDIMENSION" leaflet-timedimension
unpack "iso8601-js-period@$ISO8601_PERIOD" iso8601-js-period
unpack "moment@$MOMENT" moment
mkdir -p "$DEST/leaflet.timedimension" "$DEST/iso8601-js-period" "$DEST/moment"
cp "$WORK/leaflet-timedimension/dist/leaflet.timedimension.min.js" "$DEST/leaflet.timedimension/"
licence "$WORK/leaflet-timedimension" "$DEST/leaflet.timedimension"
# The control's stylesheet loads Bootstrap 3's "Glyphicons Halflings" font from netdna.bootstrapcdn.com
# for its buttons. That @font-face is removed and the buttons drawn with the vendored Font Awesome 6
# (solid, weight 900) instead, each glyph mapped to its Font Awesome twin: play, pause, stop,
# step forward/back, repeat, rotate (loading) and gauge (speed).
sed -e '/@font-face {/,/^}/d' \
    -e 's/font-family: "Glyphicons Halflings";/font-family: "Font Awesome 6 Free"; font-weight: 900;/' \
    -e 's/\\e072/\\f04b/g; s/\\e073/\\f04c/g; s/\\e074/\\f04d/g; s/\\e075/\\f051/g' \
    -e 's/\\e071/\\f048/g; s/\\e030/\\f363/g; s/\\e031/\\f021/g; s/\\e141/\\f624/g' \
    "$WORK/leaflet-timedimension/dist/leaflet.timedimension.control.css" \
    > "$DEST/leaflet.timedimension/leaflet.timedimension.control.css"
if grep -Eq 'url\(|bootstrapcdn' "$DEST/leaflet.timedimension/leaflet.timedimension.control.css"; then
    echo "leaflet.timedimension.control.css still refers to a remote font" >&2
    exit 1
fi
# the npm package ships only the unminified script (folium links jsDelivr's on-the-fly minified copy)
cp "$WORK/iso8601-js-period/iso8601.js" "$DEST/iso8601-js-period/"
# no licence file in the package: its header and package.json say Apache-2.0; write where the text is
cat > "$DEST/iso8601-js-period/LICENSE" <<'APACHE'
iso8601-js-period — https://github.com/mdartic/iso8601-js-period
(npm: iso8601-js-period; © Nezasa, 2012-2013; licence declared as Apache-2.0 in its package.json and in
the header of iso8601.js. Full text: https://www.apache.org/licenses/LICENSE-2.0.txt, the same licence
as gisgrid itself.)
APACHE
cp "$WORK/moment/min/moment.min.js" "$DEST/moment/"
licence "$WORK/moment" "$DEST/moment"
printf '%-26s %-36s %-9s %s\n' leaflet.timedimension leaflet-timedimension "$(version_of leaflet-timedimension)" \
    "$(licence_of leaflet-timedimension) (control CSS patched: Font Awesome glyphs, no CDN font)" >> "$DEST/VERSIONS.txt"
printf '%-26s %-36s %-9s %s\n' iso8601-js-period iso8601-js-period "$(version_of iso8601-js-period)" \
    "$(licence_of iso8601-js-period) (no licence file in the package)" >> "$DEST/VERSIONS.txt"
printf '%-26s %-36s %-9s %s\n' moment moment "$(version_of moment)" "$(licence_of moment)" >> "$DEST/VERSIONS.txt"
