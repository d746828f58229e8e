#!/bin/sh
# Fills fuzz/corpus/parse_xml with seeds: every XML file of the shared conformance corpus and
# the crate's own expected-failure documents; and fuzz/corpus/openvz_config with the shared
# corpus's OpenVZ container config. The seeds are copied here at run time only;
# fuzz/corpus is ignored by git.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
shared=${VIRTKIT_SHARED:-$here/../../shared}
out=$here/corpus/parse_xml
mkdir -p "$out"
find "$shared/corpus" -name '*.xml' -exec cp {} "$out/" \;
cp "$here"/../crates/virtkit-xml/tests/data/invalid/*.xml "$out/"
echo "$(ls "$out" | wc -l) seeds in $out"
vz=$here/corpus/openvz_config
mkdir -p "$vz"
cp "$shared"/corpus/openvz/*.conf "$vz/"
echo "$(ls "$vz" | wc -l) seeds in $vz"
