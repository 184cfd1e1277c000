#!/usr/bin/env bash
# Install otto's server side as system services (docs/operations.md):
# ottod, otto and the broker's plugin under PREFIX, a system user `otto`
# that owns the data directory (0700: the CA key, the link secret and the
# admin token readable by ottod alone; what the broker reads, by the
# `mosquitto` group), `ottod init` run once, and two systemd units:
# otto.service (ottod, as otto, hardened) and otto-mosquitto.service (the
# broker with the configuration ottod init wrote, as mosquitto).
#
#   sudo scripts/install.sh --mqtt HOST:8883 --http 0.0.0.0:8443 --public-url https://HOST:8443 --name HOST
#
#   --build DIR     the build to install from (default build/; `make` first)
#   --prefix P      programs under P (default /usr/local)
#   --data D        the data directory (default /var/lib/otto)
#   --root R        install into R as if it were / (a staging or test root):
#                   users are added to R's /etc/passwd, nothing is started
#   --no-start      do not enable and start the units (systemd)
#   --mqtt, --http, --public-url, --name   passed to ottod init (first install)
# Run again to upgrade the programs: the data directory is kept as it is
# (ottod migrates its store at start).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$here/build" PREFIX=/usr/local DATA=/var/lib/otto ROOT="" START=1
INIT=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --root) ROOT=$(cd "$2" && pwd); START=0; shift 2 ;;
    --no-start) START=0; shift ;;
    --mqtt | --http | --public-url | --name) INIT+=("$1" "$2"); shift 2 ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
say() { echo "install: $*"; }
[ "$(id -u)" = 0 ] || { echo "install: run as root (it adds a system user and writes $PREFIX and $DATA)" >&2; exit 1; }
for f in ottod otto otto-agent mosquitto_otto.so; do
    [ -f "$BUILD/$f" ] || { echo "install: $BUILD/$f is missing: build first (make)" >&2; exit 1; }
done
command -v mosquitto >/dev/null || { echo "install: mosquitto is not installed (apt-get install mosquitto)" >&2; exit 1; }
R=${ROOT:-}
useradd_r() { if [ -n "$R" ]; then useradd --root "$R" "$@"; else useradd "$@"; fi; }
has_user() { grep -q "^$1:" "$R/etc/passwd"; }

# ---- programs
install -d "$R$PREFIX/bin" "$R$PREFIX/lib/otto" "$R$PREFIX/share/otto/web"
install -m 0755 "$BUILD/ottod" "$BUILD/otto" "$BUILD/otto-agent" "$R$PREFIX/bin/"
install -m 0644 "$BUILD/mosquitto_otto.so" "$R$PREFIX/lib/otto/"
if [ -d "$BUILD/console" ]; then cp -r "$BUILD/console/." "$R$PREFIX/share/otto/web/"; fi
say "programs in $R$PREFIX/bin, the broker's plugin in $R$PREFIX/lib/otto"

# ---- users: otto runs ottod; mosquitto (Debian's package makes it) the broker
if ! has_user otto; then
    useradd_r --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin \
        --comment "otto update server" otto
    say "system user otto added"
fi
if ! has_user mosquitto; then
    useradd_r --system --user-group --home-dir /var/lib/mosquitto --no-create-home --shell /usr/sbin/nologin mosquitto
fi
uid=$(awk -F: '$1 == "otto" {print $3}' "$R/etc/passwd")
gid=$(awk -F: '$1 == "otto" {print $4}' "$R/etc/passwd")

# ---- the data directory: made once by ottod init, as root, then given to otto
if [ ! -f "$R$DATA/ottod.conf" ]; then
    [ ${#INIT[@]} -gt 0 ] || { echo "install: first install: give --mqtt, --http (and --public-url, --name) for ottod init" >&2; exit 2; }
    install -d -m 0700 "$R$DATA"
    # ottod init looks for the plugin beside ottod, or in ../lib/otto
    "$R$PREFIX/bin/ottod" init --data "$R$DATA" "${INIT[@]}" >/dev/null
    if [ -n "$R" ]; then # the files name where they will be, not the staging root
        for f in "$R$DATA"/*.conf "$R$DATA"/otto.env; do sed -i "s#$R$DATA#$DATA#g" "$f"; done
        sed -i "s#$R$PREFIX#$PREFIX#g" "$R$DATA/mosquitto.conf"
    fi
    say "ottod init: $DATA (the CA, certificates, mosquitto.conf, the ACL, the admin token)"
fi
# otto owns everything; what the broker reads keeps its mosquitto group (ottod init set it)
chown -R "$uid" "$R$DATA"
find "$R$DATA" ! -group mosquitto -exec chgrp "$gid" {} +
chmod -R o-rwx "$R$DATA"
chmod 0750 "$R$DATA"   # the mosquitto group may enter: tls/, acl, revoked, mosquitto.conf (0640); nothing else is group-readable
chmod 0600 "$R$DATA/tls/ca.key" "$R$DATA/admin.token" "$R$DATA/otto.env"
[ -f "$R$DATA/links.key" ] && chmod 0600 "$R$DATA/links.key"

# ---- units
install -d "$R/etc/systemd/system"
cat >"$R/etc/systemd/system/otto.service" <<UNIT
# written by otto's scripts/install.sh
[Unit]
Description=otto update server (ottod)
After=network-online.target otto-mosquitto.service
Wants=network-online.target otto-mosquitto.service

[Service]
Type=simple
User=otto
Group=otto
ExecStart=$PREFIX/bin/ottod --data $DATA --web $PREFIX/share/otto/web
Restart=on-failure
RestartSec=2
# ottod needs its data directory and nothing else of the system
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$DATA
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
CapabilityBoundingSet=
UMask=0077
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
cat >"$R/etc/systemd/system/otto-mosquitto.service" <<UNIT
# written by otto's scripts/install.sh: the broker with the configuration
# ottod init wrote (TLS, a certificate per client, the ACL, otto's
# revocation plugin). Debian's mosquitto.service keeps /etc/mosquitto.
[Unit]
Description=MQTT broker for otto (Mosquitto)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=mosquitto
Group=mosquitto
ExecStart=/usr/sbin/mosquitto -c $DATA/mosquitto.conf
ExecReload=/bin/kill -HUP \$MAINPID
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
say "units: otto.service (ottod as otto), otto-mosquitto.service (the broker as mosquitto)"
if [ "$START" = 1 ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable --now otto-mosquitto.service otto.service
    say "started; the CLI: . $DATA/otto.env (as root, or copy it)"
else
    say "not started: systemctl daemon-reload && systemctl enable --now otto-mosquitto otto"
fi
