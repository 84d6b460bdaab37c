// The script uploaded (SFTP) into a private `mktemp -d` directory on each PC and run as root (directly or
// through `sudo -n`, under `timeout`, which kills its whole process group when renew.timeoutMs runs out).
// Kept as a string in a .ts module so `tsc` ships it in dist/.
//
//   sh deploy.sh <new-account> <managed-ERE> <shell> <ssh-user>      stdin: "<new-account>:<password>\n"
//
// - creates the new account with the shell (or keeps it when it exists) and pipes stdin straight into
//   `chpasswd`, so the password is never a process argument nor a shell variable; right after chpasswd
//   succeeds it prints the marker line PASSWORD_SET_MARKER on stderr: from then on the runner treats every
//   later failure as a warning and still hands the password out;
// - then ends the sessions of every account matching the managed pattern (other than the new one) and
//   deletes it and its home — never root, the SSH login user, nor any account whose uid is outside
//   UID_MIN..UID_MAX of /etc/login.defs (system accounts), whatever the pattern;
// - step log on stderr, one line each: "<LEVEL> <message>" (DEBUG/INFO/WARNING/ERROR/CRITICAL);
// - facts as one JSON object on stdout;
// - removes itself (and its directory) at the end; the runner removes the directory again regardless.
//
// Identity override: when /etc/switchboard/facts.env exists it may set MAC, IFACE, IP and SERIAL. It is
// meant for machines where the hardware identity is hidden (containers, cloned VMs) — and the test rig.
// String.raw keeps backslashes for sh; `\${` is how a literal `${` is written inside it.
export const PASSWORD_SET_MARKER = 'SB-PASSWORD-SET';

export const DEPLOY_SCRIPT = String.raw`#!/bin/sh
# switchboard account renewal — deploy script
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
NEW="$1"; PAT="$2"; SHELL_BIN="\${3:-/bin/bash}"; SSH_USER="\${4:-root}"
SELF_DIR=$(dirname "$0")
log() { printf '%s %s\n' "$1" "$2" >&2; }
esc() { printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
fail() { log CRITICAL "$1"; rm -rf "$SELF_DIR"; exit 3; }

[ "$(id -u)" = 0 ] || fail "not running as root (use ssh.user root or give the user passwordless sudo)"
[ -n "$NEW" ] || fail "no account name given"
[ -x "$SHELL_BIN" ] || log WARNING "shell $SHELL_BIN is missing on this PC"
log DEBUG "deploy script running in $SELF_DIR"
UID_MIN=$(awk '$1=="UID_MIN"{print $2}' /etc/login.defs 2>/dev/null); UID_MIN=\${UID_MIN:-1000}
UID_MAX=$(awk '$1=="UID_MAX"{print $2}' /etc/login.defs 2>/dev/null); UID_MAX=\${UID_MAX:-60000}
# Protected: root, the SSH login user and every account whose uid is not a plain number in UID_MIN..UID_MAX.
protected() {
  [ "$1" = root ] || [ "$1" = "$SSH_USER" ] && return 0
  p_uid=$(getent passwd "$1" | cut -d: -f3)
  [ -z "$p_uid" ] && return 1
  case "$p_uid" in *[!0-9]*) return 0 ;; esac
  [ "$p_uid" -eq 0 ] || [ "$p_uid" -lt "$UID_MIN" ] || [ "$p_uid" -gt "$UID_MAX" ]
}
protected "$NEW" && fail "refusing to use $NEW as the new account: it is root, the SSH user or a system account"

# 1. The new account (re-running with the same name keeps it and only resets the password).
if getent passwd "$NEW" >/dev/null 2>&1; then
  log WARNING "account $NEW already exists; keeping it"
  usermod -s "$SHELL_BIN" "$NEW" </dev/null >/dev/null 2>&1 || log ERROR "usermod -s failed for $NEW"
else
  useradd -m -s "$SHELL_BIN" "$NEW" </dev/null >/dev/null 2>&1 || useradd --badname -m -s "$SHELL_BIN" "$NEW" </dev/null >/dev/null 2>&1 || fail "useradd $NEW failed"
  log INFO "created account $NEW with shell $SHELL_BIN"
fi
# The password arrives on our stdin as "user:password"; chpasswd reads it from there directly.
chpasswd || fail "chpasswd failed for $NEW"
printf '%s %s\n' ${PASSWORD_SET_MARKER} "$NEW" >&2
log INFO "password set for $NEW"

# 2. Previously managed accounts: end sessions, delete with home. Never root, the SSH login user, nor a
# system account (uid outside UID_MIN..UID_MAX), whatever the pattern says.
OLD=
for u in $(cut -d: -f1 /etc/passwd | grep -E -- "$PAT" || true); do
  [ "$u" = "$NEW" ] && continue
  if protected "$u"; then
    log WARNING "account $u (uid $(getent passwd "$u" | cut -d: -f3)) matches the managed pattern but is protected (root, the SSH user or a system account): kept"
    continue
  fi
  OLD="$OLD $u"
done
for u in $OLD; do
  log INFO "ending sessions of $u"
  if command -v loginctl >/dev/null 2>&1; then loginctl terminate-user "$u" </dev/null >/dev/null 2>&1 || true; fi
  pkill -KILL -u "$u" </dev/null >/dev/null 2>&1 || true
  sleep 0.2
  pkill -KILL -u "$u" </dev/null >/dev/null 2>&1 || true
  HOME_DIR=$(getent passwd "$u" | cut -d: -f6)
  if userdel -r -f "$u" </dev/null >/dev/null 2>&1 || userdel -r "$u" </dev/null >/dev/null 2>&1; then
    log INFO "deleted account $u and its home $HOME_DIR"
  else
    log ERROR "userdel $u failed"
  fi
  case "$HOME_DIR" in /|/root|/home|/home/|"") ;; *) if [ -d "$HOME_DIR" ]; then rm -rf -- "$HOME_DIR"; log WARNING "removed leftover home $HOME_DIR"; fi ;; esac
done

# 3. Facts.
MAC=; IFACE=; IP=; SERIAL=
[ -r /etc/switchboard/facts.env ] && . /etc/switchboard/facts.env && log DEBUG "identity override from /etc/switchboard/facts.env"
if [ -z "$IFACE" ]; then IFACE=$(ip route show default 2>/dev/null | awk '{for(i=1;i<NF;i++) if($i=="dev"){print $(i+1); exit}}'); fi
if [ -z "$IFACE" ]; then for d in /sys/class/net/*; do n=$(basename "$d"); [ "$n" = lo ] && continue; IFACE=$n; break; done; fi
okmac() { printf '%s' "$1" | grep -Eqi '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' && [ "$1" != 00:00:00:00:00:00 ]; }
[ -z "$MAC" ] && [ -n "$IFACE" ] && MAC=$(cat "/sys/class/net/$IFACE/address" 2>/dev/null)
# A default route over a tunnel (wg0, tun0, ppp0) has no MAC: take the first interface that has one.
if [ -n "$MAC" ] && ! okmac "$MAC"; then MAC=; fi
if [ -z "$MAC" ]; then
  for d in /sys/class/net/*; do n=$(basename "$d"); [ "$n" = lo ] && continue; m=$(cat "$d/address" 2>/dev/null); if okmac "$m"; then log WARNING "interface $IFACE has no MAC address; using $n ($m) as the PC's identity"; MAC=$m; break; fi; done
fi
[ -z "$IP" ] && [ -n "$IFACE" ] && IP=$(ip -4 -o addr show dev "$IFACE" 2>/dev/null | awk '{print $4; exit}' | cut -d/ -f1)
[ -z "$SERIAL" ] && SERIAL=$(cat /sys/class/dmi/id/product_serial 2>/dev/null)
[ -z "$SERIAL" ] && SERIAL=unknown
VENDOR=$(cat /sys/class/dmi/id/sys_vendor 2>/dev/null || echo unknown)
PRODUCT=$(cat /sys/class/dmi/id/product_name 2>/dev/null || echo unknown)
HOSTNAME_=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
OS=$( . /etc/os-release 2>/dev/null; echo "\${PRETTY_NAME:-unknown}")
KERNEL=$(uname -sr)
CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
[ -z "$CPU" ] && CPU=$(uname -m)
CORES=$(nproc 2>/dev/null || echo 0)
RAM_KB=$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null)
DISK=$(df -Pk / 2>/dev/null | awk 'NR==2{print $2" "$3}')
DISK_KB=\${DISK%% *}; DISK_USED_KB=\${DISK#* }
USERS=$(who 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ *$//')
[ -z "$MAC" ] && log WARNING "no MAC address found for the primary interface"
printf '{"hostname":"%s","iface":"%s","mac":"%s","ip":"%s","os":"%s","kernel":"%s","cpu":"%s","cores":%s,"ramKb":%s,"diskKb":%s,"diskUsedKb":%s,"serial":"%s","vendor":"%s","product":"%s","users":"%s","account":"%s"}\n' \
  "$(esc "$HOSTNAME_")" "$(esc "$IFACE")" "$(esc "$MAC")" "$(esc "$IP")" "$(esc "$OS")" "$(esc "$KERNEL")" "$(esc "$CPU")" \
  "\${CORES:-0}" "\${RAM_KB:-0}" "\${DISK_KB:-0}" "\${DISK_USED_KB:-0}" "$(esc "$SERIAL")" "$(esc "$VENDOR")" "$(esc "$PRODUCT")" "$(esc "$USERS")" "$(esc "$NEW")"
log DEBUG "facts collected"

# 4. Clean up.
rm -rf "$SELF_DIR"
exit 0
`.replace(/\\\$\{/g, '${');
