//! Whether this machine can mount a FUSE file system (what the `power-loss` fault needs):
//! the one runtime probe the settings check, the nemesis and the tests go by.
//!
//! ```text
//! /dev/fuse opens read-write ─▶ root with CAP_SYS_ADMIN (mount(2)) or fusermount3 on PATH
//! ```

use std::path::Path;
use std::sync::OnceLock;

/// The FUSE device.
pub const DEVICE: &str = "/dev/fuse";
/// The setuid helper that mounts and unmounts FUSE file systems without privileges.
pub const FUSERMOUNT: &str = "fusermount3";

/// Why: no device.
pub const NO_DEVICE: &str = "power-loss needs FUSE: /dev/fuse is missing (load the fuse module, \
     or give the container the device)";
/// Why: the device does not open.
pub const NO_ACCESS: &str =
    "power-loss needs FUSE: /dev/fuse cannot be opened read-write by this user";
/// Why: no way to mount.
pub const NO_MOUNT: &str = "power-loss needs FUSE: neither CAP_SYS_ADMIN (to mount(2)) nor \
     fusermount3 on PATH (apt-get install fuse3)";

/// Whether `name` is an executable file in a directory of `PATH`.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(d.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Whether this process holds CAP_SYS_ADMIN (bit 21 of `CapEff` in `/proc/self/status`).
fn sys_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

/// Why FUSE cannot be used here, when it cannot (probed once per process).
pub fn unavailable() -> Option<&'static str> {
    static PROBE: OnceLock<Option<&'static str>> = OnceLock::new();
    *PROBE.get_or_init(|| {
        if !Path::new(DEVICE).exists() {
            return Some(NO_DEVICE);
        }
        if std::fs::OpenOptions::new().read(true).write(true).open(DEVICE).is_err() {
            return Some(NO_ACCESS);
        }
        if !sys_admin() && !on_path(FUSERMOUNT) {
            return Some(NO_MOUNT);
        }
        None
    })
}
