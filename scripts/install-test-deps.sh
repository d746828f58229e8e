#!/usr/bin/env bash
# Installs what the test suite needs on a Debian 12 machine: QEMU 10 (from bookworm-backports,
# matching the qemu-utils the machine already has), libvirt's virsh and Python bindings (the
# peer that CLI and benchmark outputs are compared with), xenstore clients, Xen's public headers (libxen-dev, for the hypercall layout probe), hyperfine, and what a
# virtual network needs when the qemu driver starts one (dnsmasq, iptables; busybox's udhcpc is the
# DHCP client the network test leases an address with), zsh and fish, whose completion
# scripts the CLI tests run, the C and C++ compilers the header and fixture tests use, lintian
# and GNU time for the packaging check, pkg-config (the C driver SDK test finds the installed
# headers with it), virt-manager with xvfb-run and xauth (the virtkitd test runs the
# graphical client on a virtual X server), and OpenSSH's server and client with
# netcat-openbsd (the remote plugin's +ssh tests start their own sshd on a loopback port;
# libvirt's relay runs `nc -U`). Installing openssh-server on a machine with a service
# manager also starts the system's sshd on port 22, as the package always does; the tests
# never use that one.
# Says what it installs; installs nothing that is already there. Needs root and apt-get.
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
command -v virsh >/dev/null 2>&1 || need+=(libvirt-clients)
[ -x /usr/sbin/libvirtd ] || need+=(libvirt-daemon)
[ -e /usr/lib/python3/dist-packages/libvirt.py ] || need+=(python3-libvirt)
command -v xenstore-read >/dev/null 2>&1 || need+=(xenstore-utils)
[ -e /usr/include/xen/sysctl.h ] || need+=(libxen-dev)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
[ -x /usr/sbin/iptables ] || need+=(iptables)
command -v busybox >/dev/null 2>&1 || need+=(busybox)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
[ -x /usr/bin/time ] || need+=(time)
command -v pkg-config >/dev/null 2>&1 || need+=(pkgconf)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v virt-manager >/dev/null 2>&1 || need+=(virt-manager)
command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb)
command -v xauth >/dev/null 2>&1 || need+=(xauth)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-test-deps: everything is installed"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${need[*]}, and this is not root on a Debian machine: the tests that need them will report skipped" >&2
  exit 0
fi
echo "install-test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
plain=()
for n in "${need[@]}"; do
  case "$n" in
    qemu) ;;
    libvirt-clients) plain+=(libvirt-clients libvirt-daemon) ;;
    *) plain+=("$n") ;;
  esac
done
if [ ${#plain[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${plain[@]}" >/dev/null
fi
if [[ " ${need[*]} " == *" qemu "* ]]; then
  # QEMU from backports, with the source derived from the machine's own list and passed on the
  # command line only (nothing under /etc/apt changes).
  src=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  list=$(mktemp)
  echo "deb $src bookworm-backports main" > "$list"
  apt_bpo=(-o "Dir::Etc::sourcelist=$list" -o APT::Get::List-Cleanup=0)
  apt-get "${apt_bpo[@]}" update -qq
  apt-get "${apt_bpo[@]}" install -y -qq --no-install-recommends \
    qemu-system-x86/bookworm-backports qemu-system-common/bookworm-backports \
    qemu-system-data/bookworm-backports seabios/bookworm-backports libbrlapi0.8/bookworm-backports >/dev/null
  rm -f "$list"
fi
echo "install-test-deps: done"
