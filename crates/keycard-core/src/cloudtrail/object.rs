//! One CloudTrail object's bytes, inflated with a ceiling.
//!
//! A gzip member of 1 MB can inflate to 1 GiB (issue 14: 1.1 GB RSS per worker, and the batch
//! Lambda inflated 16 objects whole). The decompressed bytes are read through a limit instead:
//! an object larger than [`MAX_OBJECT_BYTES`] once inflated stops being read at the limit and
//! is reported as a malformed file naming it; the scan goes on with the next object. The same
//! reader serves [`super::scan_dir`], [`super::Scanner`] and the Lambda batch step (which calls
//! [`read_object`] through `Scanner::scan_reader`, or directly with its own cap).

use std::io::Read;

/// Largest object keycard inflates, in bytes (256 MiB). Not an AWS limit (CloudTrail documents
/// none): a delivery is about five minutes of one region's events, a few MB compressed and
/// tens of MB inflated even for busy accounts, so this is far above any real file and low
/// enough that one worker per core stays within a few hundred MB.
pub const MAX_OBJECT_BYTES: u64 = 256 << 20;

/// Why an object's bytes could not be read completely.
#[derive(Debug, thiserror::Error)]
pub enum ObjectReadError {
    /// Over the cap once inflated; nothing of it is used.
    #[error(
        "larger than {} MiB once decompressed (keycard's per-object limit; CloudTrail delivers far smaller files); not read",
        cap_mib(*.cap)
    )]
    TooLarge { cap: u64 },
    /// A gzip object whose stream breaks (truncated, corrupt); the bytes before the break are
    /// in the buffer.
    #[error("gzip stream broken ({0})")]
    Gzip(#[source] std::io::Error),
    /// The underlying reader failed; the bytes before the failure are in the buffer.
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
}

fn cap_mib(cap: u64) -> String {
    let mib = cap as f64 / f64::from(1u32 << 20);
    if mib.fract() == 0.0 {
        format!("{mib:.0}")
    } else {
        format!("{mib:.2}")
    }
}

/// Reads one object (gzip, multi-member gzip, or plain JSON) into `buf`, which is cleared
/// first, inflating at most `cap` bytes. On [`ObjectReadError::TooLarge`] the buffer is left
/// empty; on a broken stream it holds what was read before the break.
pub fn read_object(
    mut reader: impl Read,
    cap: u64,
    buf: &mut Vec<u8>,
) -> Result<(), ObjectReadError> {
    buf.clear();
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ObjectReadError::Io(e)),
        }
    }
    let chained = (&head[..got]).chain(reader);
    // One byte over the cap tells "exactly the cap" from "more than the cap".
    let limit = cap.saturating_add(1);
    let gzip = got == 2 && head == [0x1f, 0x8b];
    let res = if gzip {
        flate2::read::MultiGzDecoder::new(chained)
            .take(limit)
            .read_to_end(buf)
    } else {
        chained.take(limit).read_to_end(buf)
    };
    if buf.len() as u64 > cap {
        buf.clear();
        return Err(ObjectReadError::TooLarge { cap });
    }
    match res {
        Ok(_) => Ok(()),
        Err(e) if gzip => Err(ObjectReadError::Gzip(e)),
        Err(e) => Err(ObjectReadError::Io(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(parts: &[&[u8]]) -> Vec<u8> {
        // One member per part, as CloudTrail's multi-member objects are.
        let mut out = Vec::new();
        for p in parts {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(p).unwrap();
            out.extend(e.finish().unwrap());
        }
        out
    }

    /// A reader that yields zeros for ever (like /dev/zero) and counts what was taken.
    struct Zeros {
        given: u64,
    }

    impl Read for Zeros {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            out.fill(0);
            self.given += out.len() as u64;
            Ok(out.len())
        }
    }

    #[test]
    fn plain_and_multi_member_gzip_are_read_whole_under_the_cap() {
        let mut buf = Vec::new();
        read_object(&br#"{"Records":[]}"#[..], 100, &mut buf).unwrap();
        assert_eq!(buf, br#"{"Records":[]}"#);
        let gz = gzip(&[b"{\"Records\":", b"[]}"]);
        read_object(&gz[..], 100, &mut buf).unwrap();
        assert_eq!(buf, br#"{"Records":[]}"#);
        // Exactly the cap is fine.
        read_object(&gz[..], 14, &mut buf).unwrap();
        assert_eq!(buf.len(), 14);
    }

    #[test]
    fn an_object_over_the_cap_is_refused_without_reading_past_it() {
        let mut buf = Vec::new();
        let mut zeros = Zeros { given: 0 };
        let err = read_object(&mut zeros, 1 << 20, &mut buf).unwrap_err();
        assert!(matches!(err, ObjectReadError::TooLarge { cap } if cap == 1 << 20));
        assert!(buf.is_empty());
        assert!(zeros.given < 2 << 20, "read {} bytes", zeros.given);
        assert_eq!(
            err.to_string(),
            "larger than 1 MiB once decompressed (keycard's per-object limit; CloudTrail delivers far smaller files); not read"
        );

        // A small gzip member that inflates past the cap (a gzip bomb).
        let bomb = gzip(&[&vec![b' '; 4 << 20]]);
        assert!(bomb.len() < 64 << 10);
        let err = read_object(&bomb[..], 1 << 20, &mut buf).unwrap_err();
        assert!(matches!(err, ObjectReadError::TooLarge { .. }));
    }

    #[test]
    fn a_truncated_gzip_keeps_what_was_read_and_says_so() {
        let gz = gzip(&[&vec![b'x'; 100_000]]);
        let mut buf = Vec::new();
        let err = read_object(&gz[..gz.len() / 2], 1 << 20, &mut buf).unwrap_err();
        assert!(matches!(err, ObjectReadError::Gzip(_)), "{err}");
        assert!(err.to_string().starts_with("gzip stream broken ("));
    }
}
