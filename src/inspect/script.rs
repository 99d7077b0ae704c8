//! The gathering script: one fixed text, run with one command on the pooled SSH connection,
//! printing one marked section per source, and the markers [`super::parse`] splits it on.
//!
//! The script is constant text: nothing from a request, a form or the server's name is in it.

use std::time::Duration;

use crate::ssh::{ExecLimits, SshSettings};

/// Starts every section; `parse::sections` splits the output on these lines.
pub(super) const SECTION: &str = "@@kolokasi-section";
/// Ends every section, followed by the exit status of the section's command.
pub(super) const STATUS: &str = "@@kolokasi-status";
/// The last section; without it the output was cut short.
pub(super) const END: &str = "end";

/// Exit status of a root-only source the login may not read (sysexits' `EX_NOPERM`).
pub(super) const NEEDS_ROOT: i32 = 77;

/// The gathering script. Each `s NAME COMMAND…` prints `@@kolokasi-section NAME`, the command's
/// output, then `@@kolokasi-status RC`. Errors go to /dev/null: a missing source shows as a
/// non-zero status or an empty section, which the parser reports as unavailable.
///
/// Root-only sources (`product_serial`, `dmidecode`) run through `asroot`: directly as root,
/// through `sudo -n` when that works without a password, else not at all (status 77, reported
/// "needs root"; for `dmidecode` even when it is not installed, since root is what is missing
/// first). Everything else is readable by any user and runs as the login.
/// Packages: rpm on a RHEL-family system (`/etc/redhat-release`, or rhel/centos/fedora in
/// os-release's `ID`/`ID_LIKE`), else dpkg, else rpm.
pub(super) const SCRIPT: &str = r#"export LC_ALL=C
s() { n=$1; shift; printf '%s %s\n' '@@kolokasi-section' "$n"; "$@" 2>/dev/null; printf '\n%s %s\n' '@@kolokasi-status' "$?"; }
uid=$(id -u)
if [ "$uid" = 0 ]; then priv=root; asroot() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null </dev/null; then priv=sudo; asroot() { sudo -n "$@" </dev/null; }
else priv=unprivileged; asroot() { return 77; }; fi
privilege() { echo "$priv $uid"; }
osrel() { cat /etc/os-release || cat /usr/lib/os-release; }
dmi() { cat "/sys/class/dmi/id/$1"; }
psu() { [ "$priv" = unprivileged ] && return 77; command -v dmidecode >/dev/null 2>&1 || return 127; asroot dmidecode -q -t 39; }
rhel() { [ -e /etc/redhat-release ] || grep -Eqs '^(ID|ID_LIKE)=.*(rhel|centos|fedora)' /etc/os-release; }
rpms() { echo rpm; rpm -qa --qf '%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n'; }
pkgs() {
  if rhel && command -v rpm >/dev/null 2>&1; then rpms
  elif command -v dpkg-query >/dev/null 2>&1; then
    echo dpkg; dpkg-query -W -f='${Package}\t${Version}\t${Status}\n'
  elif command -v rpm >/dev/null 2>&1; then rpms
  else return 127; fi
}
tcp() { ss -ltnH || ss -ltn; }
udp() { ss -lunH || ss -lun; }
s hostname uname -n
s privilege privilege
s os-release osrel
s redhat-release cat /etc/redhat-release
s kernel uname -r
s cpuinfo cat /proc/cpuinfo
s meminfo cat /proc/meminfo
s lsblk lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL
s board_vendor dmi board_vendor
s board_name dmi board_name
s product_serial asroot cat /sys/class/dmi/id/product_serial
s psu psu
s packages pkgs
s tcp tcp
s udp udp
s end true
"#;

/// The caps of the gathering command: what a healthy server prints is ~10-200 KiB (most of
/// it the package list) in well under a second.
pub const LIMITS: ExecLimits = ExecLimits { timeout: Duration::from_secs(60), max_output_bytes: SshSettings::MAX_OUTPUT_BYTES };
