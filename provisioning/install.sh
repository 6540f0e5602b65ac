#!/usr/bin/env bash
# Returpost kiosk installer: one command for a kiosk (Raspberry Pi) or for the central host.
# The steps live in provisioning/install-kiosk.sh and install-central.sh, the helpers in lib.sh.
#
#   sudo provisioning/install.sh kiosk   --site SITE --kiosk-id ID --broker-host HOST [options]
#   sudo provisioning/install.sh kiosk   --bundle DIR            (config.toml + ca.crt from central)
#   sudo provisioning/install.sh central --broker-name HOST --kiosk SITE/ID [--kiosk SITE/ID ...]
#   sudo provisioning/install.sh wheelhouse DIR   (on one Pi: wheels for the fleet, see --wheelhouse)
#
# Idempotent: it only writes what differs and says what it changed; a second run reports
# "0 changes". Run it again after `git pull` to update the installed code.
#
# --root DIR (or RETURPOST_ROOT=DIR) installs into a throw-away root: every file is written under
# DIR, and the steps that act on the running system (apt-get, useradd/usermod, chown, pip,
# systemctl, udevadm) are printed as "plan: ..." instead of run. The tests use that.
#
# Kiosk options:
#   --config FILE         a kiosk config (TOML) to install; options below override its keys
#   --bundle DIR          DIR/config.toml and DIR/ca.crt as made by the central role
#   --site ID, --kiosk-id ID, --broker-host HOST, --broker-port N (default 8883 with TLS)
#   --mqtt-user USER      (default SITE/ID); the password from --mqtt-password-file FILE or
#                         $RETURPOST_MQTT_PASSWORD, never from the command line
#   --ca-file FILE        the broker's CA certificate: installs it and turns TLS on
#   --scanner VID:PID     udev gives it /dev/input/returpost-scanner (or a name pattern)
#   --badge VID:PID       udev gives it /dev/input/returpost-badge (or a name pattern)
#   --printer SPEC        required: usb:VID:PID | serial-usb:VID:PID | serial:/dev/PORT[@BAUD] |
#                         network:HOST[:PORT] | file:/dev/NODE (a device node, e.g. /dev/usb/lp0;
#                         never a file on disk: dödsbo labels carry personnummer)
#   --display NAME        official-7 | td2 | td2-landscape | hdmi (boot config and ui.size)
#   --data-device SPEC    persistent partition for /var/lib/returpost-kiosk, e.g.
#                         /dev/disk/by-label/returpost-data (needed with a read-only overlay root)
# Central options:
#   --broker-name NAME    the DNS name or IP kiosks use for the broker (in the TLS certificate)
#   --kiosk SITE/ID       a kiosk that may connect (repeat); users are only ever added
#   --tls-dir DIR         use DIR/ca.crt, DIR/server.crt, DIR/server.key instead of a generated CA
# Both:
#   --root DIR, --source DIR (the project to install; default: this repository),
#   --no-packages (skip apt-get), --start (start or restart the service now), -h/--help
#   --wheelhouse DIR      install the Python packages from wheels made by `install.sh wheelhouse DIR`
#                         on a Pi of the same OS (else pip compiles evdev on each Pi); versions are
#                         always those of constraints.txt
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

role=""
root="${RETURPOST_ROOT:-}"
config_file="" bundle="" site="" kiosk_id="" broker_host="" broker_port="" mqtt_user=""
password_file="" ca_file="" scanner="" badge="" printer="" display="" data_device=""
broker_name="" tls_dir="" no_packages=0 start=0 wheelhouse="" wheelhouse_dir=""
kiosks=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        kiosk|central|wheelhouse) [ -z "$role" ] || die "give one role"; role=$1 ;;
        --wheelhouse) need_arg "$@"; wheelhouse=$(cd "$2" 2>/dev/null && pwd) || die "--wheelhouse $2: no such folder"; shift ;;
        --root) need_arg "$@"; root=$2; shift ;;
        --source) need_arg "$@"; source_dir=$(cd "$2" && pwd); shift ;;
        --config) need_arg "$@"; config_file=$2; shift ;;
        --bundle) need_arg "$@"; bundle=$2; shift ;;
        --site) need_arg "$@"; site=$2; shift ;;
        --kiosk-id) need_arg "$@"; kiosk_id=$2; shift ;;
        --broker-host) need_arg "$@"; broker_host=$2; shift ;;
        --broker-port) need_arg "$@"; broker_port=$2; shift ;;
        --mqtt-user) need_arg "$@"; mqtt_user=$2; shift ;;
        --mqtt-password-file) need_arg "$@"; password_file=$2; shift ;;
        --ca-file) need_arg "$@"; ca_file=$2; shift ;;
        --scanner) need_arg "$@"; scanner=$2; shift ;;
        --badge) need_arg "$@"; badge=$2; shift ;;
        --printer) need_arg "$@"; printer=$2; shift ;;
        --display) need_arg "$@"; display=$2; shift ;;
        --data-device) need_arg "$@"; data_device=$2; shift ;;
        --broker-name) need_arg "$@"; broker_name=$2; shift ;;
        --kiosk) need_arg "$@"; kiosks+=("$2"); shift ;;
        --tls-dir) need_arg "$@"; tls_dir=$2; shift ;;
        --no-packages) no_packages=1 ;;
        --start) start=1 ;;
        -h|--help) usage; exit 0 ;;
        *) if [ "$role" = wheelhouse ] && [ -z "$wheelhouse_dir" ] && [ "${1#-}" = "$1" ]; then
               wheelhouse_dir=$1
           else
               die "unknown argument: $1 (see --help)"
           fi ;;
    esac
    shift
done
[ -n "$role" ] || die "say which role: kiosk, central or wheelhouse (see --help)"
[ "$role" != wheelhouse ] || [ -n "$wheelhouse_dir" ] || die "wheelhouse: say where: install.sh wheelhouse DIR"

if [ -n "$root" ]; then
    mkdir -p "$root"
    root=$(cd "$root" && pwd)
    [ "$root" != / ] || root=""
fi
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo), or give --root DIR for a trial install"
fi

changes=0
changed_paths=()
units_to_enable=()

# The roles' steps (sourced, they only define install_kiosk and install_central).
# shellcheck source=SCRIPTDIR/install-kiosk.sh
. "$here/install-kiosk.sh"
# shellcheck source=SCRIPTDIR/install-central.sh
. "$here/install-central.sh"

load_saved
case "$role" in
    kiosk) install_kiosk ;;
    central) install_central ;;
    wheelhouse) build_wheelhouse "$wheelhouse_dir" ;;
esac
say "done: $changes changes${root:+ (under $root)}"
