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

/**
 * The account guards of the deploy script, also run on their own by the tests (under sh, with PASSWD_FILE and
 * LOGIN_DEFS pointing at test files). Every check fails closed: an account whose uid cannot be read as a plain
 * number, or any comparison that errors, counts as protected.
 */
export const DEPLOY_GUARDS = String.raw`
uid_of() { awk -F: -v n="$1" '$1==n{print $3; exit}' "$PASSWD_FILE" 2>/dev/null; }
home_of() { awk -F: -v n="$1" '$1==n{print $6; exit}' "$PASSWD_FILE" 2>/dev/null; }
in_passwd() { awk -F: -v n="$1" '$1==n{f=1} END{exit !f}' "$PASSWD_FILE" 2>/dev/null; }
isnum() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; [ \${#1} -le 9 ]; }
# UID_MIN..UID_MAX of login.defs; a missing or malformed value falls back to 1000 / 60000.
uid_range() {
  UID_MIN=$(awk '$1=="UID_MIN"{print $2; exit}' "$LOGIN_DEFS" 2>/dev/null)
  UID_MAX=$(awk '$1=="UID_MAX"{print $2; exit}' "$LOGIN_DEFS" 2>/dev/null)
  if ! isnum "$UID_MIN" || [ "$UID_MIN" -lt 1 ]; then [ -n "$UID_MIN" ] && log WARNING "UID_MIN \"$UID_MIN\" in $LOGIN_DEFS is not a usable number: using 1000"; UID_MIN=1000; fi
  if ! isnum "$UID_MAX" || [ "$UID_MAX" -lt "$UID_MIN" ]; then [ -n "$UID_MAX" ] && log WARNING "UID_MAX \"$UID_MAX\" in $LOGIN_DEFS is not a usable number: using 60000"; UID_MAX=60000; fi
  [ "$UID_MAX" -ge "$UID_MIN" ] || { UID_MIN=1000; UID_MAX=60000; }
}
# Protected (status 0): root, the SSH login user, and every account whose uid (read from the passwd file) is
# missing, not a plain number, 0, or outside UID_MIN..UID_MAX. Only an account proven ordinary returns 1.
protected() {
  [ "$1" = root ] || [ "$1" = "$SSH_USER" ] && return 0
  p_uid=$(uid_of "$1")
  isnum "$p_uid" || return 0
  [ "$p_uid" -ne 0 ] && [ "$p_uid" -ge "$UID_MIN" ] && [ "$p_uid" -le "$UID_MAX" ] && return 1
  return 0
}
# Another account in the passwd file has the same uid (deleting or killing by uid would hit it too).
shared_uid() { awk -F: -v u="$2" -v n="$1" '$3==u && $1!=n{f=1} END{exit !f}' "$PASSWD_FILE" 2>/dev/null; }
# A home directory that may be removed with its (already deleted) account of uid $2: below /home, a plain
# path (no . or .. parts), a real directory owned by that uid, and neither the home of any account still in the
# passwd file nor above one. Prints the reason when it may not.
home_removable() {
  h=$1
  while [ "$h" != "\${h%/}" ]; do h=\${h%/}; done
  case "$h" in /home/?*) ;; *) echo "not below /home"; return 1 ;; esac
  case "$h/" in */./*|*/../*|*//*) echo "not a plain path"; return 1 ;; esac
  if awk -F: -v h="$h" '{d=$6; while (d ~ /.\/$/) sub(/\/$/, "", d)} d==h || index(d, h "/")==1 {f=1} END{exit !f}' "$PASSWD_FILE"; then echo "the home of another account"; return 1; fi
  [ -L "$h" ] && { echo "a symbolic link"; return 1; }
  [ -d "$h" ] || { echo "not a directory"; return 1; }
  [ "$(stat -c %u -- "$h" 2>/dev/null)" = "$2" ] || { echo "not owned by uid $2"; return 1; }
  return 0
}
`.replace(/\\\$\{/g, '${');

export const DEPLOY_SCRIPT = String.raw`#!/bin/sh
# switchboard account renewal — deploy script
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
NEW="$1"; PAT="$2"; STATUS=0; SHELL_BIN="\${3:-/bin/bash}"; SSH_USER="\${4:-root}"
SELF_DIR=$(dirname "$0")
log() { printf '%s %s\n' "$1" "$2" >&2; }
esc() { printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
fail() { log CRITICAL "$1"; rm -rf "$SELF_DIR"; exit 3; }

[ "$(id -u)" = 0 ] || fail "not running as root (use ssh.user root or give the user passwordless sudo)"
[ -n "$NEW" ] || fail "no account name given"
[ -x "$SHELL_BIN" ] || log WARNING "shell $SHELL_BIN is missing on this PC"
log DEBUG "deploy script running in $SELF_DIR"
PASSWD_FILE=/etc/passwd; LOGIN_DEFS=/etc/login.defs
${DEPLOY_GUARDS}
uid_range
if [ "$NEW" = root ] || [ "$NEW" = "$SSH_USER" ] || { in_passwd "$NEW" && protected "$NEW"; } || { ! in_passwd "$NEW" && getent passwd "$NEW" >/dev/null 2>&1; }; then
  fail "refusing to use $NEW as the new account: it is root, the SSH user or a system account"
fi
# The managed pattern must be an ERE this grep accepts, before anything changes (status 2 = bad pattern).
PAT_ERR=$(printf 'x\n' | grep -E -- "$PAT" 2>&1 >/dev/null); [ $? -ge 2 ] && fail "the managed pattern $PAT is not a valid POSIX ERE for grep -E: $(printf '%s' "$PAT_ERR" | tr -d '\000-\037')"

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
NAMES=$(cut -d: -f1 "$PASSWD_FILE" | grep -E -- "$PAT" 2>/dev/null); RC=$?
if [ "$RC" -ge 2 ]; then log ERROR "grep -E rejected the managed pattern $PAT: no account was deleted"; NAMES=; STATUS=4; fi
for u in $NAMES; do
  [ "$u" = "$NEW" ] && continue
  if protected "$u"; then
    log WARNING "account $u (uid $(uid_of "$u")) matches the managed pattern but is protected (root, the SSH user or a system account): kept"
    continue
  fi
  if shared_uid "$u" "$(uid_of "$u")"; then
    log WARNING "account $u (uid $(uid_of "$u")) matches the managed pattern but shares its uid with another account: kept"
    continue
  fi
  OLD="$OLD $u"
done
for u in $OLD; do
  U_UID=$(uid_of "$u"); HOME_DIR=$(home_of "$u")
  log INFO "ending sessions of $u"
  if command -v loginctl >/dev/null 2>&1; then loginctl terminate-user "$u" </dev/null >/dev/null 2>&1 || true; fi
  pkill -KILL -u "$U_UID" </dev/null >/dev/null 2>&1 || true
  sleep 0.2
  pkill -KILL -u "$U_UID" </dev/null >/dev/null 2>&1 || true
  # No -r: the home is removed below only when it is that account's own (userdel with -r and -f removes a
  # home shared with another account).
  userdel "$u" </dev/null >/dev/null 2>&1 || userdel -f "$u" </dev/null >/dev/null 2>&1
  if in_passwd "$u"; then
    log ERROR "userdel $u failed: the account and its home are kept"
    STATUS=4
    continue
  fi
  WHY=$(home_removable "$HOME_DIR" "$U_UID")
  if [ -z "$WHY" ]; then
    rm -rf -- "$HOME_DIR" && log INFO "deleted account $u and its home $HOME_DIR" || { log ERROR "deleted account $u; removing its home $HOME_DIR failed"; STATUS=4; }
  elif [ -e "$HOME_DIR" ]; then
    log WARNING "deleted account $u; its home $HOME_DIR was kept ($WHY)"
  else
    log INFO "deleted account $u (it had no home directory)"
  fi
  MAIL_F="/var/mail/$u"
  if [ -f "$MAIL_F" ] && [ ! -L "$MAIL_F" ] && [ "$(stat -c %u -- "$MAIL_F" 2>/dev/null)" = "$U_UID" ]; then rm -f -- "$MAIL_F"; fi
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
exit "\${STATUS:-0}"
`.replace(/\\\$\{/g, '${');
