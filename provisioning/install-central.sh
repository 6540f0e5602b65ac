#!/usr/bin/env bash
# The central role of the installer: `install_central`. Sourced by provisioning/install.sh, which parses
# the options (see install.sh --help) and provides lib.sh; run directly, it is the same as
# `provisioning/install.sh central ...`. The central host: broker, collector, kiosk bundles.
# shellcheck disable=SC2154  # the option globals and the lib.sh paths: set by install.sh

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    exec "$(dirname "$0")/install.sh" central "$@"
fi

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
    install_project "[central]"

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
    # The TL web app on 127.0.0.1:8080, TLS by the reverse proxy documented in docs/central-operations.md
    # ("Webbappen för teamledare (TL)"); users: kiosk web-user add.
    put_file "$source_dir/systemd/returpost-web.service" "$UNIT_DIR/returpost-web.service" 0644
    units_to_enable+=(returpost-web.service)
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
    start_unit returpost-web.service "$(was_changed "$UNIT_DIR/returpost-web" && echo 1 || echo "$central_changed")"
    say "kiosk bundles (config.toml + ca.crt each): $central/kiosks/"
}
