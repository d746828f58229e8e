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

# The xenstore decoder: a READ request, a directory reply, an error reply, a watch event (in the
# byte order of a little-endian host).
xs=$here/corpus/xenstore_message
mkdir -p "$xs"
printf '\002\000\000\000\007\000\000\000\000\000\000\000\025\000\000\000/local/domain/0/name\000' >"$xs/read"
printf '\001\000\000\000\003\000\000\000\000\000\000\000\006\000\000\0000\0001\0002\000' >"$xs/directory"
printf '\020\000\000\000\004\000\000\000\000\000\000\000\007\000\000\000ENOENT\000' >"$xs/error"
printf '\017\000\000\000\000\000\000\000\000\000\000\000\011\000\000\000/a/b\000tok\000' >"$xs/event"
printf '\003\000\000\000\005\000\000\000\000\000\000\000\010\000\000\000n0\000r12\000' >"$xs/perms"
echo "$(ls "$xs" | wc -l) seeds in $xs"
