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

# The Xen conversion targets: xend S-expressions for the S-expression targets, and the domain
# XML of the Xen corpus for the XML → S-expression target.
for target in parse_sexpr sexpr_to_xml; do
    mkdir -p "$here/corpus/$target"
    find "$shared/corpus/sexpr2xml" "$shared/corpus/xml2sexpr" -name '*.sexpr' -exec cp {} "$here/corpus/$target/" \;
    cp "$here"/../crates/virtkit-xen/tests/data/bad-sexpr/*.sexpr "$here/corpus/$target/"
    echo "$(ls "$here/corpus/$target" | wc -l) seeds in $here/corpus/$target"
done
mkdir -p "$here/corpus/xml_to_sexpr"
find "$shared/corpus/sexpr2xml" "$shared/corpus/xml2sexpr" -name '*.xml' -exec cp {} "$here/corpus/xml_to_sexpr/" \;
echo "$(ls "$here/corpus/xml_to_sexpr" | wc -l) seeds in $here/corpus/xml_to_sexpr"

# The conf parser and the XM conversion: libvirt's XM configs and conf files.
for target in parse_conf xm_to_xml; do
    mkdir -p "$here/corpus/$target"
    find "$shared/corpus/xmconfig" -name '*.cfg' -exec cp {} "$here/corpus/$target/" \;
    find "$shared/corpus/conf" -name '*.conf' -exec cp {} "$here/corpus/$target/" \;
    echo "$(ls "$here/corpus/$target" | wc -l) seeds in $here/corpus/$target"
done
