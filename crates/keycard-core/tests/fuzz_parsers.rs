//! Mutation fuzzing of every parser that reads user input, on stable Rust (issue 14).
//!
//! Each target starts from a seed corpus of real-shaped inputs (the fixtures and examples),
//! mutates them at the byte level with a small seeded PRNG (bit flips, interesting bytes and
//! tokens, truncations, deletions, repeats, splices between seeds, deep nesting, alias chains,
//! extreme numbers and dates) and feeds the result to the parser. A panic fails the test and
//! leaves the input under `target/fuzz-failures/`; errors must come back as the parser's typed
//! error with a message. The run is deterministic for a seed, bounded by iterations and time.
//!
//! Longer runs (docs/FUZZING.md): `KEYCARD_FUZZ_SECONDS=600 KEYCARD_FUZZ_ITERS=100000000
//! KEYCARD_FUZZ_SEED=7 cargo test --release -p keycard-core --test fuzz_parsers`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use keycard_core::access_analyzer::parse_generated_policy;
use keycard_core::cloudtrail::{ScanOptions, Scanner};
use keycard_core::coverage::trail_config::coverage_from_documents;
use keycard_core::ledger::{self, LedgerIdentity, ReadOptions};
use keycard_core::proposal::KeepConfig;
use keycard_core::template::{Template, try_find_grants};

// ---------------------------------------------------------------------------------------------
// The engine: a PRNG, the mutations, the loop.

/// SplitMix64: tiny, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn range(&mut self, len: usize) -> (usize, usize) {
        let a = self.below(len + 1);
        let b = self.below(len + 1);
        (a.min(b), a.max(b))
    }
}

/// Bytes that matter to JSON and YAML syntax.
const BYTES: &[u8] = b"{}[]\":,\\\n\r\t -?&*!|>#%@'0123456789eE.+\x00\xff\xc3";

/// Tokens that have broken parsers before: extremes, escapes, intrinsics, anchors, dates.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "-0",
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "0.0000000000000000000000000001",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\"",
    "[]",
    "{}",
    "[[[[[[[[",
    "]]]]",
    "{\"a\":",
    "\"Records\":",
    "\"eventTime\":\"9999-12-31T23:59:59Z\"",
    "\"eventTime\":\"0000-01-01T00:00:00Z\"",
    "\"2099-01-01T00:00:00Z\"",
    "\"*\"",
    "\"iam:*\"",
    "!If [C, ",
    "!Ref ",
    "!Sub '${",
    "Fn::If",
    "&a ",
    "*a",
    "<<: *a",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "? ",
    "\u{feff}",
    "\u{2028}",
    "é",
    "\t",
];

fn mutate(rng: &mut Rng, seed: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = d.len();
        match rng.below(12) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = BYTES[rng.below(BYTES.len())];
            }
            2 => d.truncate(rng.below(len + 1)),
            3 => {
                let (a, b) = rng.range(len);
                d.drain(a..b.min(a + 64));
            }
            4 => {
                // Repeat a slice a few to many times (long strings, big arrays).
                let (a, b) = rng.range(len);
                let b = b.min(a + 256);
                let piece = d[a..b].to_vec();
                let many = rng.below(8) == 0;
                let times = 1 + rng.below(if many { 512 } else { 8 });
                let at = rng.below(d.len() + 1);
                let rep: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * times)
                    .collect();
                d.splice(at..at, rep);
            }
            5 => {
                // Splice a piece of another seed in.
                let other = &corpus[rng.below(corpus.len())];
                let (a, b) = rng.range(other.len());
                let at = rng.below(len + 1);
                d.splice(at..at, other[a..b.min(a + 512)].iter().copied());
            }
            6 | 7 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(len + 1);
                if rng.below(2) == 0 && at < len {
                    let end = (at + t.len()).min(len);
                    d.splice(at..end, t.iter().copied());
                } else {
                    d.splice(at..at, t.iter().copied());
                }
            }
            8 => {
                // Deep nesting, JSON or YAML flow style.
                let n = 1 + rng.below(3000);
                let at = rng.below(len + 1);
                let mut nest = vec![b'['; n];
                nest.extend(std::iter::repeat_n(b']', rng.below(n + 1)));
                d.splice(at..at, nest);
            }
            9 => {
                // An alias chain (a billion-laughs shape) at the end.
                let levels = 2 + rng.below(20);
                let mut s = String::from("\nx0: &a0 [lol, lol, lol, lol]\n");
                for i in 1..levels {
                    let p = i - 1;
                    s.push_str(&format!("x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}]\n"));
                }
                d.extend_from_slice(s.as_bytes());
            }
            10 if len > 1 => {
                // Swap two slices.
                let (a, b) = rng.range(len);
                let (c, e) = rng.range(len);
                if b <= c {
                    let first = d[a..b].to_vec();
                    let second = d[c..e].to_vec();
                    d.splice(c..e, first);
                    d.splice(a..b, second);
                }
            }
            _ => {
                // Replace a run of digits with an extreme number.
                if let Some(i) = (0..len)
                    .map(|k| (k + rng.below(len.max(1))) % len.max(1))
                    .take(32)
                    .find(|&k| d.get(k).is_some_and(u8::is_ascii_digit))
                {
                    let end = (i..len).find(|&k| !d[k].is_ascii_digit()).unwrap_or(len);
                    let big = ["99999999999999999999999", "-1", "0", "4294967296", "1e308"];
                    d.splice(i..end, big[rng.below(big.len())].bytes());
                }
            }
        }
    }
    d
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `target` on mutations of `seeds` until the iteration or time budget is spent. The
/// target returns `Err(message)` for a typed error, which must not be empty.
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, target: impl Fn(&[u8]) -> Result<(), String>) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let iterations = env_number("KEYCARD_FUZZ_ITERS", 400);
    let budget = Duration::from_secs_f64(
        std::env::var("KEYCARD_FUZZ_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3.0),
    );
    let seed = env_number("KEYCARD_FUZZ_SEED", 0x006b_6579_6361_7264);
    let mut rng = Rng(seed
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) + u64::from(b)));
    let started = Instant::now();
    let mut ran = 0u64;
    let mut errors = 0u64;
    // The seeds themselves first: they must parse or fail cleanly too.
    let inputs = seeds
        .iter()
        .cloned()
        .map(Some)
        .chain(std::iter::repeat(None));
    for (i, fixed) in inputs.enumerate() {
        // Every seed runs; mutations run until either budget is spent.
        let spent = i as u64 >= iterations.max(seeds.len() as u64) || started.elapsed() > budget;
        if fixed.is_none() && spent {
            break;
        }
        let input = match fixed {
            Some(s) => s,
            None => {
                let base = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, base, &seeds)
            }
        };
        match catch_unwind(AssertUnwindSafe(|| target(&input))) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => {
                errors += 1;
                assert!(
                    !message.trim().is_empty(),
                    "{name}: an error without a message"
                );
            }
            Err(_) => {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join(format!("{name}-{seed}-{i}.bin"));
                std::fs::write(&file, &input).unwrap();
                panic!(
                    "{name}: the parser panicked on iteration {i} (seed {seed}); input saved to {}",
                    file.display()
                );
            }
        }
        ran += 1;
    }
    eprintln!(
        "{name}: {ran} inputs ({errors} refused with an error) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        ran >= seeds.len() as u64,
        "{name}: the seeds did not all run"
    );
}

// ---------------------------------------------------------------------------------------------
// Seeds: real-shaped inputs from the repository.

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &str, keep: impl Fn(&Path) -> bool, max_bytes: u64) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join(dir), &mut out);
    out.retain(|p| keep(p) && std::fs::metadata(p).is_ok_and(|m| m.len() <= max_bytes));
    out.sort();
    out
}

fn read_all(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn ends_with(p: &Path, suffixes: &[&str]) -> bool {
    let name = p.to_string_lossy();
    suffixes.iter().any(|s| name.ends_with(s))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap_or_default();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// After every date in the seeds, so that they are accepted as they are.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
}

fn ledger_seeds() -> Vec<Vec<u8>> {
    let mut seeds = read_all(&files(
        "examples",
        |p| ends_with(p, &["ledger.json"]),
        1 << 20,
    ));
    // A headerless ledger (a bare usage), as keycard wrote before ledger version 1.
    let bare: Vec<Vec<u8>> = seeds
        .iter()
        .filter_map(|s| serde_json::from_slice::<serde_json::Value>(s).ok())
        .filter_map(|v| v.get("usage").map(ToString::to_string))
        .map(String::into_bytes)
        .collect();
    seeds.extend(bare);
    seeds
}

// ---------------------------------------------------------------------------------------------
// One target per parser.

#[test]
fn fuzz_template_loader() {
    let mut paths = files(
        "tests/fixtures/templates",
        |p| ends_with(p, &[".yaml", ".json"]),
        20_000,
    );
    paths.extend(files(
        "examples",
        |p| ends_with(p, &["template.yaml", "template.json"]),
        200_000,
    ));
    fuzz("template", read_all(&paths), |bytes| {
        let t = Template::load_bytes("t.yaml", bytes).map_err(|e| e.to_string())?;
        try_find_grants(&t).map_err(|e| e.to_string())?;
        Ok(())
    });
}

#[test]
fn fuzz_cloudtrail_reader() {
    let gz = files(
        "tests/fixtures/cloudtrail/tree",
        |p| ends_with(p, &[".json.gz"]),
        64 << 10,
    );
    let mut seeds: Vec<Vec<u8>> = gz
        .iter()
        .take(12)
        .map(|p| gunzip(&std::fs::read(p).unwrap()))
        .collect();
    seeds.retain(|s| !s.is_empty());
    let opts = ScanOptions::default();
    let scan = |name: &str, bytes: &[u8]| {
        let mut scanner = Scanner::new(&opts);
        scanner.scan_reader(name, bytes);
        let result = scanner.finish();
        assert_eq!(result.files.read, 1, "every object is counted");
        match result.files.malformed.first() {
            Some(m) => Err(m.reason.clone()),
            None => Ok(()),
        }
    };
    let round = std::cell::Cell::new(0u32);
    fuzz("cloudtrail", seeds, |bytes| {
        round.set(round.get() + 1);
        let name = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/06/02/x.json.gz";
        match round.get() % 4 {
            // Plain JSON, then the same compressed, then compressed bytes mangled.
            0 => scan(name, &gzip(bytes)),
            1 => {
                let mut z = gzip(bytes);
                let i = (round.get() as usize * 7919) % z.len().max(1);
                if let Some(b) = z.get_mut(i) {
                    *b ^= 0x5a;
                }
                z.truncate(z.len() - (round.get() as usize % 3));
                scan(name, &z)
            }
            _ => scan(name, bytes),
        }
    });
}

#[test]
fn fuzz_ledger() {
    let opts = ReadOptions {
        expected: LedgerIdentity {
            stack: Some("ingest-pipeline".into()),
            account: Some("123456789012".into()),
        },
        now: now(),
        accept_foreign: true,
        adopt_headerless: true,
    };
    fuzz("ledger", ledger_seeds(), |bytes| {
        let l = ledger::read("ledger.json", &text(bytes), &opts).map_err(|e| e.to_string())?;
        // What was accepted can be written back and read again.
        ledger::read("again.json", &l.to_json(), &opts)
            .map(drop)
            .map_err(|e| format!("a ledger read back differently: {e}"))
    });
}

#[test]
fn fuzz_usage_file() {
    fuzz("usage", ledger_seeds(), |bytes| {
        ledger::read_usage("usage.json", &text(bytes), now())
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

#[test]
fn fuzz_keep_file() {
    let mut seeds = read_all(&files(
        "examples",
        |p| ends_with(p, &["keep.json"]),
        1 << 20,
    ));
    seeds.push(
        b"keep:\n  - principal: WorkerRole\n    actions: [s3:DeleteObject]\n    reason: cleanup job\n"
            .to_vec(),
    );
    fuzz("keep", seeds, |bytes| {
        let t = text(bytes);
        if t.trim_start().starts_with('{') {
            return KeepConfig::from_json("keep.json", &t)
                .map(drop)
                .map_err(|e| e.to_string());
        }
        // The CLI reads YAML keep files through the template loader.
        let wrapped = format!("{t}\nResources: {{}}\n");
        let doc = Template::load("keep.yaml", &wrapped).map_err(|e| e.to_string())?;
        let keep = doc
            .root()
            .to_json()
            .get("keep")
            .cloned()
            .unwrap_or_default();
        KeepConfig::from_value("keep.yaml", serde_json::json!({ "keep": keep }))
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

#[test]
fn fuzz_trail_config() {
    let mut paths = files(
        "tests/fixtures/trail-config",
        |p| ends_with(p, &[".json"]),
        1 << 20,
    );
    paths.extend(files(
        "examples",
        |p| ends_with(p, &["trail.json"]),
        1 << 20,
    ));
    fuzz("trail-config", read_all(&paths), |bytes| {
        let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        coverage_from_documents(&[doc])
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

#[test]
fn fuzz_access_analyzer_response() {
    let paths = files(
        "tests/fixtures/access-analyzer",
        |p| {
            ends_with(
                p,
                &[
                    "get-generated-policy.json",
                    "get-generated-policy-cli-example.json",
                ],
            )
        },
        1 << 20,
    );
    fuzz("access-analyzer", read_all(&paths), |bytes| {
        parse_generated_policy(&text(bytes), None)
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

#[test]
fn the_mutations_are_deterministic_and_varied() {
    let seeds = vec![br#"{"Records":[{"eventTime":"2025-06-01T00:00:00Z"}]}"#.to_vec()];
    let run = |seed| {
        let mut rng = Rng(seed);
        (0..50)
            .map(|_| mutate(&mut rng, &seeds[0], &seeds))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
    let distinct: std::collections::BTreeSet<Vec<u8>> = run(3).into_iter().collect();
    assert!(
        distinct.len() > 40,
        "{} distinct inputs of 50",
        distinct.len()
    );
}
