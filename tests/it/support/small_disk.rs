//! A small file system of the test's own: a tmpfs of a few megabytes
//! mounted on a temporary folder (root, or CAP_SYS_ADMIN, as in CI),
//! unmounted when dropped. [`SmallDisk::fill`] takes every free byte with
//! a filler file, [`SmallDisk::free`] gives them back.

use std::io::Write;
use std::path::Path;
use std::process::Command;

pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `megabytes`; `None` (with a printed reason, or a
    /// panic in CI) when this machine does not let the tests mount one.
    pub fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("a mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m,mode=0755"), "officehours-test"])
            .arg(dir.path())
            .output();
        let why = match &out {
            Ok(out) if out.status.success() => return Some(SmallDisk { dir }),
            Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Err(err) => err.to_string(),
        };
        super::require(&format!("mounting a small tmpfs for a full disk (needs root; mount said: {why})"), false);
        None
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the file system says it is full; returns
    /// how many bytes it took.
    pub fn fill(&self) -> u64 {
        let mut file = std::fs::File::create(self.path().join("filler")).expect("the filler file");
        let chunk = vec![0x5a_u8; 64 * 1024];
        let mut written = 0;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(err) => panic!("filling the disk: {err}"),
            }
        }
        // The last, partial pages too.
        loop {
            match file.write(&chunk[..512]) {
                Ok(n) if n > 0 => written += n as u64,
                _ => break,
            }
        }
        written
    }

    /// Removes the filler: the space is back.
    pub fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a process that has not exited yet): detach it now,
            // the kernel frees it when the last file closes.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}
