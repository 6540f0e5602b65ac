#!/usr/bin/env bash
# The kiosk role of the installer: `install_kiosk`. Sourced by provisioning/install.sh, which parses
# the options (see install.sh --help) and provides lib.sh; run directly, it is the same as
# `provisioning/install.sh kiosk ...`. The kiosk on a Raspberry Pi.
# shellcheck disable=SC2154  # the option globals and the lib.sh paths: set by install.sh

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    exec "$(dirname "$0")/install.sh" kiosk "$@"
fi

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
    # A real printer: said before anything changes; render_config.py checks the
    # resulting config too (a file backend only for a device node, never a file on disk).
    if [ -z "$printer" ] && [ -z "$config_file" ] && [ ! -f "$root$ETC/config.toml" ]; then
        die "a kiosk needs a real printer: give --printer usb:VID:PID | serial-usb:VID:PID |" \
            "serial:/dev/PORT[@BAUD] | network:HOST[:PORT] | file:/dev/NODE (e.g. /dev/usb/lp0)"
    fi
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
    # camera (optional shelf camera): Tesseract's Swedish model; libtesseract-dev to build tesserocr
    # where no wheel fits (a Pi)
    ensure_packages tesseract-ocr tesseract-ocr-swe libtesseract-dev pkg-config g++
    ensure_user kiosk "$KIOSK_DATA" "${KIOSK_GROUPS[@]}"
    for g in "${KIOSK_GROUPS[@]}"; do have_group "$g" && groups_present+=("$g"); done

    install_project "[kiosk,pi]"

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
