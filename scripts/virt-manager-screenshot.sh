#!/usr/bin/env bash
# Remakes docs/images/virt-manager-virtkitd.png: virtkitd (built in target/debug, with the test
# driver) on a private socket, virt-manager on a virtual X server listing the test node's
# domains after another client defined and started vm1 and paused test, and a screenshot of
# its main window. Needs virt-manager, xvfb (xvfb-run, xauth) and imagemagick (import).
# Usage: scripts/virt-manager-screenshot.sh [OUT.png]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs/images/virt-manager-virtkitd.png}
bin=$root/target/debug
for tool in virt-manager xvfb-run xauth import virsh; do
  command -v "$tool" >/dev/null || { echo "virt-manager-screenshot: $tool is missing" >&2; exit 1; }
done
[ -x "$bin/virtkitd" ] && [ -e "$bin/libvirtkit_driver_test.so" ] ||
  { echo "virt-manager-screenshot: build first: cargo build -p virtkitd -p virtkit-driver-test" >&2; exit 1; }

work=$(mktemp -d)
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

VIRTKIT_DRIVER_DIR=$bin "$bin/virtkitd" --socket "$work/sock" 2>"$work/virtkitd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/sock" ] && break; sleep 0.1; done
uri="test+unix:///default?socket=$work/sock"
cat >"$work/vm1.xml" <<'EOF'
<domain type='test'><name>vm1</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
EOF

cat >"$work/session.sh" <<EOF
#!/usr/bin/env bash
virt-manager --no-fork -c '$uri' >'$work/virt-manager.log' 2>&1 &
gui=\$!
sleep 10
virsh -c '$uri' 'define $work/vm1.xml; start vm1; suspend test' >/dev/null
sleep 4
import -window root -crop 550x260+0+0 '$out'
kill \$gui; wait \$gui 2>/dev/null || true
EOF
chmod +x "$work/session.sh"
HOME=$work TMPDIR=$work xvfb-run -a -f "$work/Xauthority" -s "-screen 0 1024x700x24" "$work/session.sh"
echo "virt-manager-screenshot: wrote $out"
