//! Every input file is read through one reader that stops at a limit.
//!
//! Reading a file whole and checking its size afterwards lets the input decide how much memory
//! keycard takes: a template path pointing at `/dev/zero` grew until the machine ran out, and a
//! 1 GB template reached 1 GB RSS before the 10 MiB error (issue 14). Here a regular file over
//! the limit is refused from its metadata without reading a byte, and anything else (a device,
//! a FIFO, stdin) is read at most one byte past the limit.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The kinds of input keycard reads, each with its ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A CloudFormation/SAM template: the template engine's own limit (10 MiB, ten times what
    /// CloudFormation accepts from S3).
    Template,
    /// A ledger written by `propose` (one entry per principal, action and resource seen).
    Ledger,
    /// A usage file (`keycard usage --format json`, or a ledger) given as evidence.
    Usage,
    /// A keep file (hand-written: actions to keep per principal).
    Keep,
    /// A trail configuration (`describe-trails` / `get-event-selectors` output).
    TrailConfig,
    /// An IAM Access Analyzer `GetGeneratedPolicy` response.
    AccessAnalyzerResponse,
}

impl Input {
    /// Largest accepted size in bytes.
    pub const fn limit(self) -> u64 {
        match self {
            Input::Template => 10 << 20,
            // Ledgers and usage files grow with the evidence (a large account's 120 MB ledger
            // has been seen); 256 MiB keeps one parse within a few hundred MB.
            Input::Ledger | Input::Usage => 256 << 20,
            // Hand-written or a single API response: a few KB in practice.
            Input::Keep | Input::TrailConfig | Input::AccessAnalyzerResponse => 10 << 20,
        }
    }

    /// How the input is named in messages.
    pub const fn what(self) -> &'static str {
        match self {
            Input::Template => "a template",
            Input::Ledger => "a ledger",
            Input::Usage => "a usage file",
            Input::Keep => "a keep file",
            Input::TrailConfig => "a trail configuration",
            Input::AccessAnalyzerResponse => "an Access Analyzer response",
        }
    }
}

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{name} is larger than {} MiB, the most keycard reads for {what}; not read", mib(*.limit))]
    TooLarge {
        name: String,
        what: &'static str,
        limit: u64,
    },
    /// The OS error is the source (printed after the message by `{:#}`), not repeated here.
    #[error("cannot read {} {name}", noun(what))]
    Io {
        name: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} is not UTF-8 text")]
    NotUtf8 { name: String },
}

/// "a template" → "template": the input's kind without its article, to follow "cannot read".
fn noun(what: &str) -> &str {
    what.strip_prefix("a ")
        .or_else(|| what.strip_prefix("an "))
        .unwrap_or(what)
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / f64::from(1u32 << 20);
    if m.fract() == 0.0 {
        format!("{m:.0}")
    } else {
        format!("{m:.2}")
    }
}

/// Reads at most `limit` bytes from `reader`; more is [`ReadError::TooLarge`].
pub fn read_bytes_limited(
    name: &str,
    reader: impl Read,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| ReadError::Io {
            name: name.to_owned(),
            what,
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            name: name.to_owned(),
            what,
            limit,
        });
    }
    Ok(out)
}

/// Reads an input from any reader (stdin, an S3 body).
pub fn read(name: &str, reader: impl Read, input: Input) -> Result<Vec<u8>, ReadError> {
    read_bytes_limited(name, reader, input.limit(), input.what())
}

/// Reads an input file. A regular file over the limit is refused from its size alone.
pub fn read_file(path: &Path, input: Input) -> Result<Vec<u8>, ReadError> {
    read_file_limited(path, input.limit(), input.what())
}

/// [`read_file`] with an explicit limit.
pub fn read_file_limited(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, ReadError> {
    let name = path.display().to_string();
    let io = |source| ReadError::Io {
        name: name.clone(),
        what,
        source,
    };
    let file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_file() && meta.len() > limit {
        return Err(ReadError::TooLarge { name, what, limit });
    }
    read_bytes_limited(&name, file, limit, what)
}

/// Reads an input file as UTF-8 text.
pub fn read_file_to_string(path: &Path, input: Input) -> Result<String, ReadError> {
    let bytes = read_file(path, input)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 {
        name: path.display().to_string(),
    })
}

/// Reads an input from any reader as UTF-8 text.
pub fn read_to_string(name: &str, reader: impl Read, input: Input) -> Result<String, ReadError> {
    let bytes = read(name, reader, input)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 {
        name: name.to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn small_inputs_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keep.json");
        std::fs::write(&p, "{}").unwrap();
        assert_eq!(read_file_to_string(&p, Input::Keep).unwrap(), "{}");
        assert_eq!(
            read_to_string("<stdin>", &b"abc"[..], Input::Template).unwrap(),
            "abc"
        );
    }

    #[test]
    fn a_regular_file_over_the_limit_is_refused_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.yaml");
        // A sparse file: 1 GiB long, nothing on disk, nothing read.
        let f = File::create(&p).unwrap();
        f.set_len(1 << 30).unwrap();
        let err = read_file(&p, Input::Template).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { limit, .. } if limit == 10 << 20));
        assert_eq!(
            err.to_string(),
            format!(
                "{} is larger than 10 MiB, the most keycard reads for a template; not read",
                p.display()
            )
        );
    }

    #[test]
    fn an_endless_stream_stops_one_byte_past_the_limit() {
        let mut taken = 0u64;
        let endless = std::iter::repeat_with(|| {
            taken += 1;
            0u8
        });
        struct Endless<I>(I);
        impl<I: Iterator<Item = u8>> Read for Endless<I> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                for b in out.iter_mut() {
                    *b = self.0.next().unwrap_or(0);
                }
                Ok(out.len())
            }
        }
        let err = read("<stdin>", Endless(endless), Input::Keep).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }));
        assert_eq!(taken, Input::Keep.limit() + 1);
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_fails_fast() {
        let err = read_file(Path::new("/dev/zero"), Input::Template).unwrap_err();
        assert!(err.to_string().contains("larger than 10 MiB"), "{err}");
    }

    #[test]
    fn exactly_the_limit_is_accepted_and_bad_utf8_is_named() {
        let bytes = [b'a'; 16];
        assert_eq!(
            read_bytes_limited("x", &bytes[..], 16, "x").unwrap().len(),
            16
        );
        assert!(read_bytes_limited("x", &bytes[..], 15, "x").is_err());
        let err = read_to_string("t.yaml", &[0xff, 0xfe][..], Input::Template).unwrap_err();
        assert_eq!(err.to_string(), "t.yaml is not UTF-8 text");
    }
}
