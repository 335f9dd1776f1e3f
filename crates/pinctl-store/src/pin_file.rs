//! Pinning a file: what `pinctl_core::pin` does for bytes, for a path
//! (or `-`, standard input). Big PEM files are pinned as they are read,
//! through [`crate::fsutil::ChunkReader`]; the rest is read whole, bounded.

use std::path::Path;

use pinctl_core::pin::{read_pem_stream, read_pins_with, Detail, PinInfo, CHUNK, STREAM_FROM};

use pinctl_core::error::Result;

/// Pins of every object in `path`.
pub fn pins_of_file(path: &Path) -> Result<Vec<PinInfo>> {
    pins_of_file_with(path, Detail::Full)
}

/// As [`pins_of_file`], finding out only what `detail` asks for.
pub fn pins_of_file_with(path: &Path, detail: Detail) -> Result<Vec<PinInfo>> {
    let label = if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    if let Some(reader) = crate::fsutil::ChunkReader::open(path, STREAM_FROM)? {
        if let Some(pins) = read_pem_stream(&label, reader, detail, CHUNK)? {
            return Ok(pins);
        }
    }
    let mut data = crate::fsutil::read_input(path)?;
    // A PEM bundle without a private key is public: no need to wipe
    // megabytes of certificates when they are dropped.
    if pinctl_core::pem_scan::is_pem(&data) && memchr::memmem::find(&data, b"PRIVATE").is_none() {
        let public = std::mem::take(&mut *data);
        return read_pins_with(&label, &public, detail);
    }
    read_pins_with(&label, &data, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file big enough to be streamed pins as its bytes do.
    #[test]
    fn a_streamed_file_pins_as_its_bytes_do() {
        let cert = include_bytes!("../../../tests/fixtures/p256.cert.pem");
        let mut data = Vec::new();
        while (data.len() as u64) < STREAM_FROM {
            data.extend_from_slice(cert);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.pem");
        std::fs::write(&path, &data).unwrap();
        let pins = |v: Vec<PinInfo>| v.into_iter().map(|p| p.pin).collect::<Vec<_>>();
        assert_eq!(
            pins(pins_of_file_with(&path, Detail::PinOnly).unwrap()),
            pins(read_pins_with("bundle.pem", &data, Detail::PinOnly).unwrap())
        );
    }
}
