#!/usr/bin/env bash
# The installer's library (sourced by provisioning/install.sh; not run on its own): where things
# go, and the idempotent file-management helpers every role uses (put_file, put_text, put_dir,
# replace_block, ensure_packages, ensure_user, install_project, units). They read the globals
# install.sh sets from its options (root, source_dir, start, ...) and count what they change in
# `changes` and `changed_paths`.
# shellcheck disable=SC2154  # root, source_dir, here, start, no_packages: set by install.sh

# shellcheck disable=SC2034  # used by the role scripts
APP=/opt/returpost-kiosk
ETC=/etc/returpost-kiosk
KIOSK_DATA=/var/lib/returpost-kiosk
UNIT_DIR=/etc/systemd/system
MOSQ=/etc/mosquitto/returpost
KIOSK_GROUPS=(input gpio lp dialout video render)

die() { echo "install: error: $*" >&2; exit 2; }
say() { echo "install: $*"; }
need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi; }

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
    # Pinned versions (constraints.txt); wheels from --wheelhouse DIR first (no compiling evdev).
    local pins=(-c "$APP/src/constraints.txt")
    [ -z "$wheelhouse" ] || pins+=(--find-links "$wheelhouse")
    if [ -n "$root" ]; then
        echo "plan: python3 -m venv $APP/venv"
        echo "plan: $APP/venv/bin/pip install ${pins[*]} $APP/src$extras"
        return
    fi
    if [ ! -x "$APP/venv/bin/python" ]; then
        python3 -m venv "$APP/venv"
        changes=$((changes + 1))
    fi
    if ! cmp -s "$stamp" "$APP/venv/.installed" 2>/dev/null; then
        say "installing the project into $APP/venv (pip; a few minutes on a Pi)"
        "$APP/venv/bin/python" -m pip install -q --upgrade pip
        "$APP/venv/bin/python" -m pip install -q "${pins[@]}" "$APP/src$extras"
        "$APP/venv/bin/python" -m pip install -q --no-deps --force-reinstall "$APP/src"
        cp "$stamp" "$APP/venv/.installed"
        changes=$((changes + 1))
        changed_paths+=("$APP/venv")
    fi
}

# build_wheelhouse DIR: wheels of the project and every pinned dependency (evdev and lgpio
# compiled once) for a fleet of Pis of the same OS, architecture and Python; kiosks then install
# with --wheelhouse DIR instead of compiling on each Pi.
build_wheelhouse() {
    local dir=$1 tmp
    ensure_packages python3 python3-venv python3-dev gcc linux-libc-dev
    if [ -n "$root" ]; then
        echo "plan: python3 -m pip wheel -q -c $source_dir/constraints.txt -w $dir ${source_dir}[kiosk,pi]"
        return
    fi
    mkdir -p "$dir"
    tmp=$(mktemp -d)
    python3 -m venv "$tmp/venv"
    "$tmp/venv/bin/python" -m pip install -q --upgrade pip wheel
    say "building wheels into $dir (compiles evdev and lgpio once; minutes on a Pi)"
    "$tmp/venv/bin/python" -m pip wheel -q -c "$source_dir/constraints.txt" -w "$dir" "${source_dir}[kiosk,pi]"
    rm -rf "$tmp"
    changes=$((changes + 1))
    say "wheelhouse ready: $(find "$dir" -name '*.whl' | wc -l) wheels in $dir; on each kiosk:" \
        "install.sh kiosk --wheelhouse $dir ..."
}

# render_config ROLE ARGS...: the validated config on stdout (provisioning/render_config.py).
# kiosk.core.config needs the project's packages (msgspec): a real install validates with the venv
# made just before; a plan (--root) has none and uses the checkout's .venv (scripts/setup), else
# python3.
render_config() {
    local py=python3
    if [ -z "$root" ] && [ -x "$APP/venv/bin/python" ]; then
        py="$APP/venv/bin/python"
    elif [ -n "$root" ] && [ -x "$source_dir/.venv/bin/python" ]; then
        py="$source_dir/.venv/bin/python"
    fi
    PYTHONPATH="$source_dir${PYTHONPATH:+:$PYTHONPATH}" "$py" "$here/render_config.py" "$@"
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
