//! Writing files so that a crash leaves the old or the new content, never
//! a mix: temporary file, fsync, rename, fsync of the folder; no-clobber
//! creation; clear-key exports that do not outlive a failed command; and
//! private folder modes; reading inputs with a bound. Knows nothing of
//! sites.

use std::fs;
use std::io::Read as _;
use std::io::Write as _;
use std::path::Path;

use zeroize::Zeroizing;

use pinctl_core::error::{Error, Result};
pub use pinctl_core::wipe::reserve_wiped;

/// Creates `dir` (and parents) with mode 0700 if missing, and closes an
/// existing one that others may enter or the group may write (a state
/// folder that came from a git checkout is 0755; one made under umask 002
/// is 0775): others lose everything, the group keeps read and enter, which
/// is a grant the operator made, such as the report collector's read access
/// (docs/security.md), but never write.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() && mode & 0o027 != 0 {
            set_mode(dir, mode & 0o750)?;
        }
        if meta.is_dir() {
            return Ok(());
        }
    }
    fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    set_mode(dir, 0o700)
}

pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Temporary file in the same folder, fsync, rename, fsync of the folder.
pub fn write_atomic(path: &Path, data: &[u8], secret: bool) -> Result<()> {
    write_via_temp(path, data, secret, false, ".tmp-")
}

/// As [`write_atomic`], but fails if `path` exists (even as a link).
pub fn write_new_atomic(path: &Path, data: &[u8], secret: bool) -> Result<()> {
    write_via_temp(path, data, secret, true, ".tmp-")
}

/// The prefix of the temporary file of a key export.
const EXPORT_PREFIX: &str = ".pinctl-export-";

/// Writes a key in the clear to `path` (mode 0600) through a temporary
/// file that is removed if the command fails. A killed pinctl can still
/// leave that file behind, so every export first removes those an earlier
/// export left in the same folder.
pub fn write_clear_key(path: &Path, data: &[u8], overwrite: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let leftover = e.file_name().to_string_lossy().starts_with(EXPORT_PREFIX)
                && e.file_type().is_ok_and(|t| t.is_file());
            if leftover {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    write_via_temp(path, data, true, !overwrite, EXPORT_PREFIX)
}

fn write_via_temp(
    path: &Path,
    data: &[u8],
    secret: bool,
    no_clobber: bool,
    prefix: &str,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let werr = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    if no_clobber && path.symlink_metadata().is_ok() {
        return Err(werr(std::io::Error::from(
            std::io::ErrorKind::AlreadyExists,
        )));
    }
    let mode = if secret { 0o600 } else { 0o644 };
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(werr)?;
    tmp.write_all(data).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    crate::failpoint::hit("write")?;
    if no_clobber {
        tmp.persist_noclobber(path).map_err(|e| werr(e.error))?;
    } else {
        tmp.persist(path).map_err(|e| werr(e.error))?;
    }
    sync_dir(dir)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::Write {
            path: dir.to_path_buf(),
            source: e,
        })
}

/// The largest input pinctl reads: far above any real bundle (Debian's
/// whole CA bundle is 0.2 MB), far below what would exhaust memory.
pub const MAX_INPUT: u64 = 256 << 20;

/// Reads a whole input file (`-` is standard input), at most [`MAX_INPUT`]
/// bytes, into a buffer that is wiped when dropped, since it may hold a
/// private key.
pub fn read_input(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    read_capped(path, MAX_INPUT)
}

/// As [`read_input`], with a limit of `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    let read = |e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let label = if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    if path == Path::new("-") {
        // Of unknown length: grown by wiping copies, never by `read_to_end`.
        reserve_wiped(&mut buf, 1 << 16);
        read_to_end_wiped(&mut std::io::stdin().lock().take(max + 1), &mut buf).map_err(read)?;
    } else {
        let meta = std::fs::metadata(path).map_err(read)?;
        if meta.is_dir() {
            return Err(Error::input(label, "is a directory"));
        }
        // Sized up front: growing a wiping buffer by doubling would leave
        // unwiped copies behind, and cost time on big bundles.
        buf.reserve(meta.len().min(max + 1) as usize);
        std::fs::File::open(path)
            .map_err(read)?
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(read)?;
    }
    if buf.len() as u64 > max {
        return Err(Error::input(
            label,
            format!("is larger than {} MiB; pinctl reads no more", max >> 20),
        ));
    }
    Ok(buf)
}

/// A big input file read a piece at a time, so that it is worked on as it
/// comes in and no buffer the size of the file is faulted in.
pub struct ChunkReader {
    file: fs::File,
    path: std::path::PathBuf,
    read: u64,
}

impl ChunkReader {
    /// The regular file at `path` when it holds at least `from` bytes and
    /// at most [`MAX_INPUT`]; None for anything else (standard input, a
    /// small file, a folder), which [`read_input`] reads and judges whole.
    pub fn open(path: &Path, from: u64) -> Result<Option<ChunkReader>> {
        if path == Path::new("-") {
            return Ok(None);
        }
        let read = |e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        };
        let file = fs::File::open(path).map_err(read)?;
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() || !(from..=MAX_INPUT).contains(&meta.len()) {
            return Ok(None);
        }
        Ok(Some(ChunkReader {
            file,
            path: path.to_path_buf(),
            read: 0,
        }))
    }
}

impl pinctl_core::pin::Chunks for ChunkReader {
    /// Appends up to `n` more bytes to `buf`; 0 at the end of the file.
    /// The buffer grows into fresh memory and the old one is wiped, since
    /// the file may hold a private key. A file that has grown past
    /// [`MAX_INPUT`] is an error, as [`read_input`] says.
    fn read_chunk(&mut self, buf: &mut Zeroizing<Vec<u8>>, n: usize) -> Result<usize> {
        reserve_wiped(buf, n);
        // With the room made above, this never grows the buffer.
        let filled = (&mut self.file)
            .take(n as u64)
            .read_to_end(buf)
            .map_err(|e| Error::Read {
                path: self.path.clone(),
                source: e,
            })?;
        self.read += filled as u64;
        if self.read > MAX_INPUT {
            return Err(Error::input(
                self.path.display().to_string(),
                format!(
                    "is larger than {} MiB; pinctl reads no more",
                    MAX_INPUT >> 20
                ),
            ));
        }
        Ok(filled)
    }
}

/// Reads `r` to its end onto `buf`, which grows only through
/// [`reserve_wiped`]: unlike `read_to_end`, no reallocation leaves an
/// unwiped copy of what was read so far, and nothing passes through a
/// buffer on the stack. Size `buf` up front where the length is known.
pub fn read_to_end_wiped(r: &mut impl std::io::Read, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let start = buf.len();
    loop {
        if buf.len() == buf.capacity() {
            reserve_wiped(buf, buf.capacity().max(8192));
        }
        let filled = buf.len();
        // Within the capacity: no reallocation. A window at a time: zeroing
        // all the spare room before each read would cost the square of a
        // long input.
        let window = (buf.capacity() - filled).min(1 << 16);
        buf.resize(filled + window, 0);
        match r.read(&mut buf[filled..]) {
            Ok(0) => {
                buf.truncate(filled);
                return Ok(filled - start);
            }
            Ok(n) => buf.truncate(filled + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(filled),
            Err(e) => {
                buf.truncate(filled);
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out a few bytes a call, with an interruption now and then.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        calls: usize,
    }

    impl std::io::Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(5) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = (self.calls % 7 + 1)
                .min(out.len())
                .min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn read_to_end_wiped_reads_everything_into_room_made_up_front() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = Trickle {
            data: data.clone(),
            at: 0,
            calls: 0,
        };
        let mut buf = Vec::with_capacity(data.len() + 1);
        let before = buf.as_ptr();
        assert_eq!(read_to_end_wiped(&mut r, &mut buf).unwrap(), data.len());
        assert_eq!(buf, data);
        // Sized up front: never moved, so no copy was left behind.
        assert_eq!(buf.as_ptr(), before);
        let mut r = Trickle {
            data: data.clone(),
            at: 0,
            calls: 0,
        };
        let mut grown = vec![1, 2, 3];
        read_to_end_wiped(&mut r, &mut grown).unwrap();
        assert_eq!(&grown[..3], &[1, 2, 3]);
        assert_eq!(&grown[3..], &data[..]);
    }
}

#[cfg(test)]
mod private_dir_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// Group write is closed as well as everything of others; group read
    /// and enter (the collector's grant) stay (issue #24).
    #[test]
    fn group_write_and_others_are_closed_group_read_stays() {
        let t = tempfile::tempdir().unwrap();
        for (before, after) in [
            (0o770, 0o750),
            (0o750, 0o750),
            (0o775, 0o750),
            (0o755, 0o750),
            (0o720, 0o700),
            (0o700, 0o700),
            (0o740, 0o740),
        ] {
            let d = t.path().join(format!("{before:o}"));
            fs::create_dir(&d).unwrap();
            fs::set_permissions(&d, fs::Permissions::from_mode(before)).unwrap();
            create_private_dir(&d).unwrap();
            let got = fs::metadata(&d).unwrap().permissions().mode() & 0o7777;
            assert_eq!(got, after, "{before:o} became {got:o}");
        }
        let fresh = t.path().join("new/state");
        create_private_dir(&fresh).unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o7777,
            0o700
        );
    }
}
