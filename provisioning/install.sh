#!/usr/bin/env bash
# Returpost kiosk installer: one command for a kiosk (Raspberry Pi) or for the central host.
#
#   sudo provisioning/install.sh kiosk   --site SITE --kiosk-id ID --broker-host HOST [options]
#   sudo provisioning/install.sh kiosk   --bundle DIR            (config.toml + ca.crt from central)
#   sudo provisioning/install.sh central --broker-name HOST --kiosk SITE/ID [--kiosk SITE/ID ...]
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
#   --printer SPEC        usb:VID:PID | serial-usb:VID:PID | serial:/dev/PORT[@BAUD] |
#                         network:HOST[:PORT] | file
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
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/.." && pwd)

APP=/opt/returpost-kiosk
ETC=/etc/returpost-kiosk
KIOSK_DATA=/var/lib/returpost-kiosk
UNIT_DIR=/etc/systemd/system
MOSQ=/etc/mosquitto/returpost
KIOSK_GROUPS=(input gpio lp dialout video render)

role=""
root="${RETURPOST_ROOT:-}"
config_file="" bundle="" site="" kiosk_id="" broker_host="" broker_port="" mqtt_user=""
password_file="" ca_file="" scanner="" badge="" printer="" display="" data_device=""
broker_name="" tls_dir="" no_packages=0 start=0
kiosks=()

die() { echo "install: error: $*" >&2; exit 2; }
say() { echo "install: $*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
    case "$1" in
        kiosk|central) [ -z "$role" ] || die "give one role"; role=$1 ;;
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
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done
[ -n "$role" ] || die "say which role: kiosk or central (see --help)"

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

# -- primitives --------------------------------------------------------------------------------
# run CMD...: act on the running system, or print the plan under --root.
run() {
    if [ -n "$root" ]; then
        echo "plan: $*"
    else
        "$@"
    fi
}

# put_file SRC DEST MODE [OWNER:GROUP]: install SRC as DEST when content or mode differ.
put_file() {
    local src=$1 dest=$2 mode=$3 owner=${4:-root:root}
    local target="$root$dest"
    mkdir -p "$(dirname "$target")"
    if [ -f "$target" ] && cmp -s "$src" "$target" && [ "$(stat -c %a "$target")" = "${mode#0}" ]; then
        :
    else
        install -m "$mode" "$src" "$target"
        changes=$((changes + 1))
        changed_paths+=("$dest")
        say "wrote $dest"
        [ "$owner" = root:root ] || run chown "$owner" "$dest"
        return 0
    fi
    # Unchanged content: still make sure of the owner on a real system.
    if [ -z "$root" ] && [ "$(stat -c %U:%G "$target")" != "$owner" ]; then
        chown "$owner" "$target"
        changes=$((changes + 1))
        say "owner of $dest set to $owner"
    fi
}

# put_text DEST MODE [OWNER:GROUP] < content
put_text() {
    local tmp
    tmp=$(mktemp)
    cat > "$tmp"
    put_file "$tmp" "$@"
    rm -f "$tmp"
}

# put_dir DIR MODE [OWNER:GROUP]
put_dir() {
    local dir=$1 mode=$2 owner=${3:-root:root}
    local target="$root$dir"
    if [ ! -d "$target" ]; then
        mkdir -p "$target"
        chmod "$mode" "$target"
        changes=$((changes + 1))
        say "created $dir"
        [ "$owner" = root:root ] || run chown "$owner" "$dir"
    elif [ "$(stat -c %a "$target")" != "${mode#0}" ]; then
        chmod "$mode" "$target"
        changes=$((changes + 1))
        say "mode of $dir set to $mode"
    fi
    if [ -z "$root" ] && [ "$(stat -c %U:%G "$target")" != "$owner" ]; then
        chown "$owner" "$target"
        changes=$((changes + 1))
        say "owner of $dir set to $owner"
    fi
}

was_changed() {
    local p
    for p in "${changed_paths[@]}"; do
        case "$p" in "$1"*) return 0 ;; esac
    done
    return 1
}

# replace_block FILE NAME < body: keep FILE, with the lines between "# BEGIN NAME" and
# "# END NAME" replaced by body (appended when the marks are not there yet).
replace_block() {
    local file=$1 name=$2 body tmp
    body=$(mktemp)
    tmp=$(mktemp)
    cat > "$body"
    awk -v begin="# BEGIN $name" -v end="# END $name" -v bodyfile="$body" '
        function emit() { print begin; while ((getline l < bodyfile) > 0) print l; print end; done = 1 }
        $0 == begin { skip = 1; emit(); next }
        $0 == end { skip = 0; next }
        !skip { print }
        END { if (!done) emit() }
    ' "$root$file" > "$tmp"
    put_file "$tmp" "$file" "$(stat -c %a "$root$file")"
    rm -f "$body" "$tmp"
}

# add_tokens FILE TOKEN...: the one-line kernel command line, with each token added once.
add_tokens() {
    local file=$1 line tok tmp
    shift
    line=$(head -n1 "$root$file")
    for tok in "$@"; do
        case " $line " in
            *" ${tok%%=*}="*|*" $tok "*) ;;   # already set (possibly to another value: kept)
            *) line="$line $tok" ;;
        esac
    done
    tmp=$(mktemp)
    printf '%s\n' "$line" > "$tmp"
    put_file "$tmp" "$file" "$(stat -c %a "$root$file")"
    rm -f "$tmp"
}

have_group() {
    if [ -n "$root" ]; then
        grep -q "^$1:" "$root/etc/group" 2>/dev/null
    else
        getent group "$1" >/dev/null
    fi
}

ensure_packages() {
    local missing=() p
    if [ "$no_packages" = 1 ]; then
        say "skipping system packages (--no-packages): $*"
        return
    fi
    if [ -n "$root" ]; then
        echo "plan: apt-get install -y --no-install-recommends $*"
        return
    fi
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
        changes=$((changes + 1))
    fi
}

# ensure_user NAME HOME GROUP...: a system user with no login and no password, in the
# groups given that exist here.
ensure_user() {
    local name=$1 home=$2 g
    shift 2
    if [ -n "$root" ]; then
        echo "plan: useradd --system --user-group --home-dir $home --no-create-home --shell /usr/sbin/nologin $name"
    elif ! id -u "$name" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin "$name"
        changes=$((changes + 1))
        say "created user $name"
    fi
    for g in "$@"; do
        have_group "$g" || continue
        if [ -n "$root" ]; then
            echo "plan: usermod -aG $g $name"
        elif ! id -nG "$name" | tr ' ' '\n' | grep -qx "$g"; then
            usermod -aG "$g" "$name"
            changes=$((changes + 1))
            say "added $name to group $g"
        fi
    done
}

source_files() {
    if [ -d "$source_dir/.git" ] || [ -f "$source_dir/.git" ]; then
        git -C "$source_dir" ls-files --cached --others --exclude-standard -z \
            | while IFS= read -r -d '' f; do [ -f "$source_dir/$f" ] && printf '%s\0' "$f"; done
    else
        (cd "$source_dir" && find . -type f ! -path './.venv/*' ! -path './var/*' \
            ! -path '*/__pycache__/*' ! -path './.pytest_cache/*' ! -path './.hypothesis/*' \
            ! -path '*.egg-info/*' -printf '%P\0')
    fi | LC_ALL=C sort -z
}

# The project's files into /opt/returpost-kiosk/src, then a venv with the project installed.
install_project() {
    local extras=$1 digest stamp="$root$APP/.source-digest" src="$root$APP/src"
    if [ "$source_dir" = "$(cd "$src" 2>/dev/null && pwd)" ]; then
        die "run the installer from your clone of the repository, not from $APP/src"
    fi
    digest=$( { source_files | (cd "$source_dir" && xargs -0 sha256sum); echo "extras=$extras"; } \
        | sha256sum | cut -c1-32)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ] || [ ! -d "$src" ]; then
        rm -rf "$src"
        mkdir -p "$src"
        source_files | (cd "$source_dir" && xargs -0 cp --parents -t "$src")
        echo "$digest" > "$stamp"
        changes=$((changes + 1))
        changed_paths+=("$APP/src")
        say "copied the project to $APP/src"
    fi
    if [ -n "$root" ]; then
        echo "plan: python3 -m venv $APP/venv"
        echo "plan: $APP/venv/bin/pip install $APP/src$extras"
        return
    fi
    if [ ! -x "$APP/venv/bin/python" ]; then
        python3 -m venv "$APP/venv"
        changes=$((changes + 1))
    fi
    if ! cmp -s "$stamp" "$APP/venv/.installed" 2>/dev/null; then
        say "installing the project into $APP/venv (pip; a few minutes on a Pi)"
        "$APP/venv/bin/python" -m pip install -q --upgrade pip
        "$APP/venv/bin/python" -m pip install -q "$APP/src$extras"
        "$APP/venv/bin/python" -m pip install -q --no-deps --force-reinstall "$APP/src"
        cp "$stamp" "$APP/venv/.installed"
        changes=$((changes + 1))
        changed_paths+=("$APP/venv")
    fi
}

# render_config ROLE ARGS...: the validated config on stdout (provisioning/render_config.py).
render_config() {
    PYTHONPATH="$source_dir${PYTHONPATH:+:$PYTHONPATH}" python3 "$here/render_config.py" "$@"
}

enable_unit() {
    local unit=$1
    if [ -n "$root" ]; then
        echo "plan: systemctl enable $unit"
    elif ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
        systemctl enable --quiet "$unit"
        changes=$((changes + 1))
        say "enabled $unit"
    fi
}

# (re)start UNIT now when --start was given: restart when something it uses changed.
start_unit() {
    local unit=$1 changed=$2
    [ "$start" = 1 ] || return 0
    if [ -n "$root" ]; then
        echo "plan: systemctl restart $unit"
    elif [ "$changed" = 1 ] || ! systemctl is-active --quiet "$unit"; then
        systemctl restart "$unit"
        say "started $unit"
    fi
}

# finish UNIT...: reload systemd when unit files changed, then enable the units (and those
# queued in units_to_enable).
finish() {
    local unit
    if [ -n "$root" ]; then
        echo "plan: systemctl daemon-reload"
    elif was_changed /etc/systemd; then
        systemctl daemon-reload
    fi
    for unit in "${units_to_enable[@]}" "$@"; do
        enable_unit "$unit"
    done
}

boot_dir() {
    if [ -f "$root/boot/firmware/config.txt" ]; then
        echo /boot/firmware
    elif [ -f "$root/boot/config.txt" ]; then
        echo /boot
    fi
}

# The options that are not in config.toml are remembered in install.conf, so running the
# installer again without them (e.g. after `git pull`) repeats the last install.
SAVED_KEYS=(display scanner badge printer data_device broker_name)
load_saved() {
    local file="$root$ETC/install.conf" key value k
    [ -f "$file" ] || return 0
    while IFS='=' read -r key value; do
        for k in "${SAVED_KEYS[@]}"; do
            if [ "$key" = "$k" ] && [ -z "${!k}" ]; then printf -v "$k" '%s' "$value"; fi
        done
    done < "$file"
}
save_options() {
    local k
    {
        echo "# The installer's options that are not in config.toml (provisioning/install.sh)."
        for k in "${SAVED_KEYS[@]}"; do
            [ -z "${!k}" ] || echo "$k=${!k}"
        done
    } | put_text "$ETC/install.conf" 0640 "$1"
}

# -- kiosk ------------------------------------------------------------------------------------
install_kiosk() {
    local args=() groups_present=() g cfg tmp boot vid pid rules mount_unit

    if [ -n "$bundle" ]; then
        [ -f "$bundle/config.toml" ] || die "--bundle $bundle: no config.toml there"
        [ -n "$config_file" ] || config_file="$bundle/config.toml"
        [ -n "$ca_file" ] || { [ -f "$bundle/ca.crt" ] && ca_file="$bundle/ca.crt"; }
    fi
    [ -z "$config_file" ] || [ -f "$config_file" ] || die "--config $config_file: no such file"
    [ -z "$ca_file" ] || [ -f "$ca_file" ] || die "--ca-file $ca_file: no such file"
    case "$display" in ""|official-7|td2|td2-landscape|hdmi) ;;
        *) die "--display: want official-7, td2, td2-landscape or hdmi" ;; esac
    if [ -n "$password_file" ]; then
        [ -r "$password_file" ] || die "--mqtt-password-file $password_file: cannot read it"
        RETURPOST_MQTT_PASSWORD=$(head -n1 "$password_file")
        export RETURPOST_MQTT_PASSWORD
    fi

    ensure_packages python3 python3-venv python3-dev gcc linux-libc-dev \
        libgl1 libegl1 libgles2 libgl1-mesa-dri libgbm1 libdrm2 libmtdev1 libusb-1.0-0 \
        fonts-dejavu-core systemd-timesyncd
    ensure_user kiosk "$KIOSK_DATA" "${KIOSK_GROUPS[@]}"
    for g in "${KIOSK_GROUPS[@]}"; do have_group "$g" && groups_present+=("$g"); done

    install_project "[pi]"

    # The config: root-owned, readable by the kiosk user only (it holds the broker password).
    put_dir "$ETC" 0750 root:kiosk
    if [ -n "$ca_file" ]; then
        put_file "$ca_file" "$ETC/ca.crt" 0644
        args+=(--ca-file "$ETC/ca.crt")
    fi
    [ -z "$config_file" ] || args+=(--base "$config_file")
    [ -z "$site" ] || args+=(--site "$site")
    [ -z "$kiosk_id" ] || args+=(--kiosk-id "$kiosk_id")
    [ -z "$broker_host" ] || args+=(--broker-host "$broker_host")
    if [ -z "$broker_port" ] && [ -n "$ca_file" ] && [ -n "$broker_host" ]; then broker_port=8883; fi
    [ -z "$broker_port" ] || args+=(--broker-port "$broker_port")
    if [ -z "$mqtt_user" ] && [ -n "$site" ] && [ -n "$kiosk_id" ] && [ -z "$config_file" ]; then
        mqtt_user="$site/$kiosk_id"
    fi
    [ -z "$mqtt_user" ] || args+=(--mqtt-user "$mqtt_user")
    [ -z "$scanner" ] || args+=(--scanner "$scanner")
    [ -z "$badge" ] || args+=(--badge "$badge")
    [ -z "$printer" ] || args+=(--printer "$printer")
    [ -z "$display" ] || args+=(--display "$display")
    cfg=$(mktemp)
    if ! render_config kiosk --existing "$root$ETC/config.toml" "${args[@]}" > "$cfg"; then
        rm -f "$cfg"
        die "the kiosk config is not valid (see above)"
    fi
    put_file "$cfg" "$ETC/config.toml" 0640 root:kiosk
    rm -f "$cfg"
    save_options root:kiosk
    # The state directory (systemd's StateDirectory= would make it at the first start; made here
    # so `kiosk doctor` can check it before that). With --data-device it is the mount point.
    put_dir "$KIOSK_DATA" 0750 kiosk:kiosk

    # systemd: the kiosk unit, its drop-ins, the bounded wait for NTP, the hardware watchdog.
    put_file "$source_dir/systemd/returpost-kiosk.service" "$UNIT_DIR/returpost-kiosk.service" 0644
    {
        echo "# Written by provisioning/install.sh: the device groups that exist on this system."
        echo "[Service]"
        echo "SupplementaryGroups=${groups_present[*]}"
    } | put_text "$UNIT_DIR/returpost-kiosk.service.d/groups.conf" 0644
    if [ "$display" = td2-landscape ]; then
        printf '%s\n' "# Touch Display 2 in landscape: Kivy turns the picture and the touch input." \
            "[Service]" "Environment=KCFG_GRAPHICS_ROTATION=90" \
            | put_text "$UNIT_DIR/returpost-kiosk.service.d/display.conf" 0644
    fi
    put_file "$source_dir/firmware/systemd/time-wait-sync.conf" \
        "$UNIT_DIR/systemd-time-wait-sync.service.d/returpost.conf" 0644
    put_file "$source_dir/firmware/systemd/returpost-watchdog.conf" \
        /etc/systemd/system.conf.d/returpost-watchdog.conf 0644

    # The journal on persistent storage: a mount unit for the data partition, when given.
    if [ -n "$data_device" ]; then
        mount_unit='var-lib-returpost\x2dkiosk.mount'
        {
            echo "# Written by provisioning/install.sh: the kiosk's journal lives on this partition,"
            echo "# so it survives reboots even when the root file system is a read-only overlay."
            echo "[Unit]"
            echo "Description=Returpost kiosk data (journal, print queue)"
            echo "Before=returpost-kiosk.service"
            echo "[Mount]"
            echo "What=$data_device"
            echo "Where=$KIOSK_DATA"
            echo "Type=ext4"
            echo "Options=noatime,nodev,nosuid,noexec"
            echo "[Install]"
            echo "WantedBy=local-fs.target"
        } | put_text "$UNIT_DIR/$mount_unit" 0644
        units_to_enable+=("$mount_unit")
    fi

    # udev: stable names and access for the scanner, badge reader and printer.
    rules=$(mktemp)
    echo "# Written by provisioning/install.sh from firmware/udev/*.rules.in" > "$rules"
    udev_rule() {   # TEMPLATE VID:PID
        vid=${2%%:*}
        pid=${2##*:}
        sed -e "s/@VID@/${vid,,}/g" -e "s/@PID@/${pid,,}/g" \
            "$source_dir/firmware/udev/$1.rules.in" >> "$rules"
    }
    if [[ "$scanner" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$ ]]; then udev_rule scanner "$scanner"; fi
    if [[ "$badge" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$ ]]; then udev_rule badge "$badge"; fi
    case "$printer" in
        usb:*) udev_rule printer-usb "${printer#usb:}" ;;
        serial-usb:*) udev_rule printer-serial-usb "${printer#serial-usb:}" ;;
    esac
    if [ -n "$scanner$badge$printer" ] || [ ! -f "$root/etc/udev/rules.d/99-returpost-kiosk.rules" ]; then
        put_file "$rules" /etc/udev/rules.d/99-returpost-kiosk.rules 0644
    fi
    rm -f "$rules"

    # The Pi's boot configuration (only on a Pi: /boot/firmware/config.txt exists).
    boot=$(boot_dir)
    if [ -n "$boot" ]; then
        tmp=$(mktemp)
        cat "$source_dir/firmware/config.txt" > "$tmp"
        if [ -n "$display" ]; then
            echo "# display: $display (firmware/display/$display.txt)" >> "$tmp"
            cat "$source_dir/firmware/display/$display.txt" >> "$tmp"
        fi
        replace_block "$boot/config.txt" returpost-kiosk < "$tmp"
        rm -f "$tmp"
        if [ -f "$root$boot/cmdline.txt" ]; then
            # shellcheck disable=SC2046 # one token a word, on purpose
            add_tokens "$boot/cmdline.txt" $(cat "$source_dir/firmware/cmdline.txt")
        fi
    else
        say "no /boot/firmware/config.txt: not a Raspberry Pi, boot configuration left alone"
    fi

    finish systemd-time-wait-sync.service returpost-kiosk.service
    # Nothing else draws on the display: no login prompt on tty1 (SSH and the serial console
    # stay). The kiosk unit also has Conflicts=getty@tty1.service.
    if [ -n "$root" ]; then
        echo "plan: systemctl disable getty@tty1.service"
    elif systemctl is-enabled --quiet getty@tty1.service 2>/dev/null; then
        systemctl disable --quiet getty@tty1.service
        changes=$((changes + 1))
        say "disabled the login prompt on tty1 (the kiosk owns the display)"
    fi
    if [ -z "$root" ] && was_changed /etc/udev && command -v udevadm >/dev/null; then
        udevadm control --reload
        udevadm trigger --subsystem-match=input --subsystem-match=usb --subsystem-match=tty
    fi
    local kiosk_changed=0
    if was_changed "$ETC" || was_changed "$APP" || was_changed "$UNIT_DIR/returpost-kiosk"; then
        kiosk_changed=1
    fi
    start_unit returpost-kiosk.service "$kiosk_changed"
    if [ -n "$boot" ] && was_changed "$boot"; then
        say "the boot configuration changed: reboot to apply it (sudo reboot)"
    fi
    say "next: sudo -u kiosk $APP/venv/bin/kiosk --config $ETC/config.toml doctor"
}

# -- central ----------------------------------------------------------------------------------
new_password() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }

# A site CA (10 years) and the broker's server certificate (825 days), made once.
make_ca() {
    local dir=$1 name=$2 san
    mkdir -p "$dir"
    chmod 700 "$dir"
    san="DNS:localhost,IP:127.0.0.1"
    case "$name" in
        *[!0-9.]*) san="$san,DNS:$name" ;;
        *) san="$san,IP:$name" ;;
    esac
    (
        umask 077
        openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=returpost broker CA" \
            -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" \
            -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
        printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
            "$san" > "$dir/server.ext"
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
            -CAcreateserial -days 825 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
        rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
    )
    chmod 644 "$dir/ca.crt" "$dir/server.crt"
    changes=$((changes + 1))
    say "made a CA and a server certificate for $name in $dir"
}

install_central() {
    local central="$ETC/central" users tmp k user pw digest stamp cfg name
    [ -n "$broker_name" ] || broker_name=$(hostname -f 2>/dev/null || hostname)
    for k in "${kiosks[@]}"; do
        [[ "$k" =~ ^[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}$ ]] \
            || die "--kiosk $k: want SITE/ID (letters, digits, - and _)"
    done

    ensure_packages python3 python3-venv python3-dev gcc linux-libc-dev mosquitto \
        mosquitto-clients openssl
    ensure_user returpost /var/lib/returpost-central
    install_project ""

    put_dir "$ETC" 0750 root:returpost
    save_options root:returpost
    put_dir "$central" 0700

    # TLS: the organisation's certificates (--tls-dir), else a CA made here once.
    if [ -n "$tls_dir" ]; then
        for f in ca.crt server.crt server.key; do
            [ -f "$tls_dir/$f" ] || die "--tls-dir $tls_dir: $f is missing"
        done
        put_file "$tls_dir/ca.crt" "$MOSQ/certs/ca.crt" 0644
        put_file "$tls_dir/server.crt" "$MOSQ/certs/server.crt" 0644
        put_file "$tls_dir/server.key" "$MOSQ/certs/server.key" 0600 mosquitto:mosquitto
    elif [ ! -f "$root$central/ca/server.crt" ] && [ -f "$root$MOSQ/certs/server.crt" ]; then
        say "keeping the broker certificates in $MOSQ/certs (installed earlier with --tls-dir)"
    else
        [ -f "$root$central/ca/server.crt" ] || make_ca "$root$central/ca" "$broker_name"
        put_file "$root$central/ca/ca.crt" "$MOSQ/certs/ca.crt" 0644
        put_file "$root$central/ca/server.crt" "$MOSQ/certs/server.crt" 0644
        put_file "$root$central/ca/server.key" "$MOSQ/certs/server.key" 0600 mosquitto:mosquitto
    fi

    # Users: central plus one per kiosk, passwords made once and kept in users.txt (root only).
    users="$root$central/users.txt"
    tmp=$(mktemp)
    [ -f "$users" ] && cat "$users" > "$tmp"
    grep -q '^central ' "$tmp" || echo "central $(new_password)" >> "$tmp"
    for k in "${kiosks[@]}"; do
        grep -q "^$k " "$tmp" || echo "$k $(new_password)" >> "$tmp"
    done
    put_file "$tmp" "$central/users.txt" 0600
    rm -f "$tmp"

    # The broker's password file, hashed by provisioning/mosquitto/make-passwd (salted: made
    # again only when users.txt changed).
    digest=$(sha256sum < "$users" | cut -c1-32)
    stamp="$root$central/broker/.users-digest"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ] || [ ! -f "$root$central/broker/passwd" ]; then
        "$source_dir/provisioning/mosquitto/make-passwd" "$root$central/broker" < "$users" >/dev/null
        echo "$digest" > "$stamp"
        changes=$((changes + 1))
    fi
    put_file "$root$central/broker/passwd" "$MOSQ/passwd" 0640 mosquitto:mosquitto
    put_file "$source_dir/provisioning/mosquitto/acl" "$MOSQ/acl" 0640 mosquitto:mosquitto
    put_file "$source_dir/provisioning/mosquitto/mosquitto.conf" /etc/mosquitto/mosquitto.conf 0644

    # One bundle per kiosk: what `install.sh kiosk --bundle DIR` needs, nothing else.
    while read -r user pw; do
        if [ -z "$user" ] || [ "$user" = central ]; then continue; fi
        name=${user/\//__}
        {
            echo "# Kiosk $user: copy this folder to the kiosk and run"
            echo "#   sudo provisioning/install.sh kiosk --bundle DIR"
            echo "[kiosk]"
            echo "site = \"${user%%/*}\""
            echo "id = \"${user##*/}\""
            echo ""
            echo "[mqtt]"
            echo "host = \"$broker_name\""
            echo "port = 8883"
            echo "tls = true"
            echo "ca_file = \"$ETC/ca.crt\""
            echo "username = \"$user\""
            echo "password = \"$pw\""
        } | put_text "$central/kiosks/$name/config.toml" 0600
        put_file "$root$MOSQ/certs/ca.crt" "$central/kiosks/$name/ca.crt" 0644
    done < "$users"

    # Central's own config: the loopback listener of the broker on this host.
    RETURPOST_CENTRAL_PASSWORD=$(awk '$1 == "central" {print $2}' "$users")
    export RETURPOST_CENTRAL_PASSWORD
    cfg=$(mktemp)
    if ! render_config central --existing "$root$ETC/config.toml" --broker-host 127.0.0.1 \
        --broker-port 1883 --no-tls --central-user central > "$cfg"; then
        rm -f "$cfg"
        die "the central config is not valid (see above)"
    fi
    put_file "$cfg" "$ETC/config.toml" 0640 root:returpost
    rm -f "$cfg"
    put_dir /var/lib/returpost-central 0750 returpost:returpost

    put_file "$source_dir/systemd/returpost-central.service" "$UNIT_DIR/returpost-central.service" 0644
    # BEGIN web (issue 10, owner: web): the TL web app on 127.0.0.1:8080, TLS by the reverse
    # proxy documented in README "Webbappen för teamledare (TL)"; users: kiosk web-user add.
    put_file "$source_dir/systemd/returpost-web.service" "$UNIT_DIR/returpost-web.service" 0644
    units_to_enable+=(returpost-web.service)
    # END web
    finish mosquitto.service returpost-central.service
    if [ -z "$root" ] && { was_changed "$MOSQ" || was_changed /etc/mosquitto/mosquitto.conf; }; then
        systemctl restart mosquitto.service
        say "restarted mosquitto"
    elif [ -n "$root" ]; then
        echo "plan: systemctl restart mosquitto.service (when its files changed)"
    fi
    local central_changed=0
    if was_changed "$ETC/config.toml" || was_changed "$APP" || was_changed "$UNIT_DIR/returpost-central"; then
        central_changed=1
    fi
    start_unit returpost-central.service "$central_changed"
    # BEGIN web (issue 10, owner: web)
    start_unit returpost-web.service "$(was_changed "$UNIT_DIR/returpost-web" && echo 1 || echo "$central_changed")"
    # END web
    say "kiosk bundles (config.toml + ca.crt each): $central/kiosks/"
}

load_saved
case "$role" in
    kiosk) install_kiosk ;;
    central) install_central ;;
esac
say "done: $changes changes${root:+ (under $root)}"
