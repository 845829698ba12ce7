//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers and the data disk has room), for load balancers and
//! orchestrators.

use std::path::Path;

use axum::extract::State;
use axum::http::StatusCode;

use crate::service::App;

pub async fn live() -> &'static str {
    "ok"
}

pub async fn ready(State(app): State<App>) -> (StatusCode, String) {
    if let Err(err) = app.ping().await {
        tracing::warn!(error = %err, "readiness check failed");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable".into());
    }
    let dir = app.config.data_dir.clone();
    let free = tokio::task::spawn_blocking(move || free_bytes(&dir)).await.ok().flatten();
    let min = app.config.min_free_disk_mb.saturating_mul(1024 * 1024);
    match free {
        Some(free) if free < min => {
            let message = format!(
                "data disk full: {} MB free in {}, below min_free_disk_mb ({})",
                free / (1024 * 1024),
                app.config.data_dir.display(),
                app.config.min_free_disk_mb
            );
            tracing::warn!("{message}");
            (StatusCode::SERVICE_UNAVAILABLE, message)
        }
        _ => (StatusCode::OK, "ready".into()),
    }
}

/// Bytes an unprivileged process may still write on the file system that
/// holds `dir` (`None` when it cannot be read, e.g. the folder is missing).
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid C string and `stats` is written by statvfs
    // before it is read (only when the call succeeds).
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    #[allow(clippy::unnecessary_cast)] // the field widths differ between platforms
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn free_space_is_read_from_the_file_system() {
        let free = super::free_bytes(std::path::Path::new(".")).expect("statvfs on the working directory");
        assert!(free > 0);
        assert_eq!(super::free_bytes(std::path::Path::new("/no/such/folder")), None);
    }
}
