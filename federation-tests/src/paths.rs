//! Where the `officehours` binary and the kept logs live.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Result};

/// The Cargo profile directory the tests were built into (`target/debug`).
fn profile_dir() -> PathBuf {
    // Integration tests run from `target/debug/deps/<test>-<hash>`.
    if let Ok(exe) = std::env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name().is_some_and(|n| n == "deps")
        && let Some(profile) = deps.parent()
    {
        return profile.to_path_buf();
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"),
    };
    target.join("debug")
}

/// Cargo's target directory (the parent of `debug`).
pub fn target_dir() -> PathBuf {
    let profile = profile_dir();
    profile.parent().map(Path::to_path_buf).unwrap_or(profile)
}

/// `<target dir>/federation-logs`, where logs of failed tests are kept.
pub fn logs_root() -> PathBuf {
    target_dir().join("federation-logs")
}

/// The `officehours` binary to run: `OFFICEHOURS_BIN`, or the one Cargo built
/// next to the test executable.
pub fn officehours_bin() -> Result<PathBuf> {
    let (path, origin) = match std::env::var_os("OFFICEHOURS_BIN") {
        Some(path) => (PathBuf::from(path), "OFFICEHOURS_BIN"),
        None => (profile_dir().join(format!("officehours{}", std::env::consts::EXE_SUFFIX)), "the target dir"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::new(format!(
            "the officehours binary is missing at {} (from {origin}); run `cargo build --bin officehours` first \
             (`cargo test --workspace` builds it too), or set OFFICEHOURS_BIN",
            path.display()
        )))
    }
}

/// A folder name for one test's kept logs: the test's name (libtest names the
/// thread after it), or a timestamp outside the test harness.
pub(crate) fn log_folder_name(label: Option<&str>) -> String {
    let thread = std::thread::current();
    let name = match label.or(thread.name()) {
        Some(name) if name != "main" => name.to_string(),
        _ => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            format!("run-{}-{}", now.as_secs(), std::process::id())
        }
    };
    name.replace("::", "__")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect()
}
