//! The naive floor for `keycard usage`: inflate each CloudTrail file with flate2 (the same
//! zlib-rs backend) and parse it into a `serde_json::Value` tree, one thread, counting records.
//!
//! This is what "just read the logs" costs with no typed parsing, no skipping of unneeded
//! fields and no parallelism; keycard has to be at least this fast per core. Run by
//! `scripts/bench-usage` (it measures time and peak RSS around this binary):
//!
//! ```sh
//! cargo bench -p keycard-core --bench usage_floor -- <cloudtrail-dir>
//! ```

use std::io::Read;
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!("usage: usage_floor <cloudtrail-dir>");
        std::process::exit(2);
    };
    let started = Instant::now();
    let (mut files, mut records, mut bad) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = path.to_string_lossy();
        if !entry.file_type().is_file()
            || name.contains("CloudTrail-Digest")
            || !(name.ends_with(".json.gz") || name.ends_with(".json"))
        {
            continue;
        }
        files += 1;
        buf.clear();
        let Ok(file) = std::fs::File::open(path) else {
            bad += 1;
            continue;
        };
        let read = if name.ends_with(".gz") {
            flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)).read_to_end(&mut buf)
        } else {
            std::io::BufReader::new(file).read_to_end(&mut buf)
        };
        if read.is_err() {
            bad += 1;
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(&buf) {
            Ok(v) => records += v["Records"].as_array().map_or(0, |a| a.len() as u64),
            Err(_) => bad += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"files\": {files}, \"records\": {records}, \"unreadable\": {bad}, \"seconds\": {secs:.3}, \"records_per_second\": {:.0}}}",
        records as f64 / secs.max(1e-9)
    );
}
