//! Buffers that may hold a private key grow without leaving a copy behind.
//! The file readers that use this live in `pinctl-store`.

/// Makes room for `additional` more bytes in `buf`, keeping its content:
/// when it must grow, the content moves to fresh memory and the old memory
/// is wiped (a plain `reserve` would free it as it is, key and all).
pub fn reserve_wiped(buf: &mut Vec<u8>, additional: usize) {
    use zeroize::Zeroize as _;
    if buf.capacity() - buf.len() >= additional {
        return;
    }
    let mut bigger = Vec::with_capacity((buf.len() + additional).max(2 * buf.capacity()));
    bigger.extend_from_slice(buf);
    buf.zeroize();
    *buf = bigger;
}
