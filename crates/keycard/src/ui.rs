//! Terminal output: colour, quiet/verbose, progress bars and tables.
//!
//! Results go to stdout and everything else (progress, notes, warnings, errors) to stderr, so
//! `keycard … --format json | jq` always gets clean JSON. Colour is decided separately for the
//! two streams: `keycard check > findings.txt` in a terminal still colours its warnings but not
//! the file.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keycard_core::report::escape::needs_escape;
use keycard_core::report::{printable, printable_lines};

/// Options every subcommand accepts (listed under their own heading in every `--help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct UiArgs {
    /// Print only results and errors (no progress, notes or warnings).
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print what is being done and why (files read, decisions taken).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// When to colour output: `auto` colours terminals unless NO_COLOR is set.
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// The `--color` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Result format of commands that print results: text for people, JSON for scripts.
/// Commands with more formats (`check` has SARIF) define their own enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Format {
    #[default]
    Text,
    Json,
}

/// How the CLI talks to the person at the terminal.
#[derive(Debug, Clone)]
pub(crate) struct Ui {
    pub quiet: bool,
    pub verbose: bool,
    /// Colour on stderr (notes, warnings, errors).
    pub color_err: bool,
    /// Colour on stdout (results printed as text).
    pub color_out: bool,
    /// Whether stderr is a terminal: progress bars are drawn only then.
    pub interactive: bool,
}

impl Ui {
    /// Reads the process environment and the terminal state once, at start-up.
    pub(crate) fn new(args: &UiArgs) -> Self {
        Self::from_parts(
            args,
            |key| std::env::var_os(key),
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        )
    }

    /// Decides colour and interactivity from explicit inputs, so tests need no process env.
    ///
    /// NO_COLOR (any non-empty value, <https://no-color.org>) and `TERM=dumb` turn colour off in
    /// `auto` mode; `--color always` wins over both because the person asked for it.
    pub(crate) fn from_parts(
        args: &UiArgs,
        env: impl Fn(&str) -> Option<OsString>,
        stdout_tty: bool,
        stderr_tty: bool,
    ) -> Self {
        let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = env("TERM").is_some_and(|v| v == "dumb");
        let auto = |tty: bool| tty && !no_color && !dumb;
        let (color_out, color_err) = match args.color {
            ColorChoice::Always => (true, true),
            ColorChoice::Never => (false, false),
            ColorChoice::Auto => (auto(stdout_tty), auto(stderr_tty)),
        };
        Ui {
            quiet: args.quiet,
            verbose: args.verbose,
            color_err,
            color_out,
            interactive: stderr_tty && !dumb,
        }
    }

    // Messages carry text from inputs (ARNs, paths, event names): every one is shown through
    // `printable_lines`, so a control character or bidi override in them is seen, not obeyed.

    pub(crate) fn error(&self, msg: &str) {
        let msg = printable_lines(msg);
        eprintln!("{} {msg}", Paint(self.color_err).red_bold("error:"));
    }

    pub(crate) fn warn(&self, msg: &str) {
        if !self.quiet {
            let msg = printable_lines(msg);
            eprintln!("{} {msg}", Paint(self.color_err).yellow_bold("warning:"));
        }
    }

    /// A note for the person (where artifacts went, what was skipped); hidden by `--quiet`.
    pub(crate) fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{}", printable_lines(msg));
        }
    }

    /// Detail shown only with `--verbose`.
    pub(crate) fn debug(&self, msg: &str) {
        if self.verbose {
            eprintln!("{}", Paint(self.color_err).dim(&printable_lines(msg)));
        }
    }

    /// Styling for text results printed on stdout.
    pub(crate) fn paint(&self) -> Paint {
        Paint(self.color_out)
    }

    /// A progress bar for a scan over `files` files (unknown count: `None`), showing files done
    /// and events per second. It draws only on an interactive stderr and never with `--quiet`,
    /// so logs and pipes stay clean.
    pub(crate) fn scan_progress(&self, label: &str, files: Option<u64>) -> ScanProgress {
        let bar = if self.interactive && !self.quiet {
            let bar = ProgressBar::with_draw_target(files, ProgressDrawTarget::stderr());
            let template = if files.is_some() {
                "{spinner} {prefix} [{bar:30}] {pos}/{len} files  {msg}  {elapsed}"
            } else {
                // No count yet: nothing but the label and the time until a file is done.
                "{spinner} {prefix}  {msg}  {elapsed}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        ScanProgress {
            bar,
            events: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

/// Progress of a scan; shareable across rayon workers (`&ScanProgress` is `Sync`).
///
/// The CloudTrail scanner feeds it through `keycard_core::cloudtrail::Progress`, once per log
/// file, from its worker threads.
#[derive(Debug)]
pub(crate) struct ScanProgress {
    bar: ProgressBar,
    events: AtomicU64,
    started: Instant,
}

impl keycard_core::cloudtrail::Progress for ScanProgress {
    fn files(&self, total: u64) {
        self.set_files(total);
    }
    fn file_done(&self, events: u64) {
        ScanProgress::file_done(self, events);
    }
}

impl ScanProgress {
    /// Records one finished file and the events it held.
    pub(crate) fn file_done(&self, events: u64) {
        let total = self.events.fetch_add(events, Ordering::Relaxed) + events;
        self.bar.inc(1);
        if !self.bar.is_hidden() {
            let rate = per_second(total, self.started.elapsed());
            let files = if self.bar.length().is_some() {
                String::new()
            } else {
                format!("{} files, ", self.bar.position())
            };
            self.bar
                .set_message(format!("{files}{total} events, {rate} events/s"));
        }
    }

    /// Sets or corrects the number of files once it is known.
    pub(crate) fn set_files(&self, files: u64) {
        self.bar.set_length(files);
    }

    /// Events counted so far.
    #[cfg(test)]
    pub(crate) fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Removes the bar from the terminal; results printed afterwards start on a clean line.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Events per second, rounded, without dividing by zero on very fast scans.
fn per_second(events: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs < 0.001 {
        return events;
    }
    (events as f64 / secs).round() as u64
}

/// ANSI styling that is a no-op when colour is off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub(crate) fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
    pub(crate) fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }
    pub(crate) fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }
    pub(crate) fn red_bold(self, text: &str) -> String {
        self.wrap("1;31", text)
    }
    pub(crate) fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }
    pub(crate) fn yellow_bold(self, text: &str) -> String {
        self.wrap("1;33", text)
    }
    pub(crate) fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }
    pub(crate) fn cyan(self, text: &str) -> String {
        self.wrap("36", text)
    }
}

/// Writes a command's results to stdout. A reader that went away (`keycard grants … | head`) is
/// not an error worth a message or a panic (`print!` panics on it): the rest is dropped and
/// the command ends with its usual exit code, as Unix tools do.
///
/// Text results hold input text too: it is made printable here, once for every command, with
/// the colour sequences [`Paint`] writes kept (and nothing else that a terminal would obey).
/// JSON output is unaffected: serde_json already writes control characters as `\u00XX`.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let text = printable_keeping_colour(text);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
        Ok(()) => Ok(()),
    }
}

/// [`printable_lines`], except for the exact SGR sequences [`Paint`] writes (`ESC [ 1;31 m`):
/// colours from this program stay, every other escape is shown as text.
fn printable_keeping_colour(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&printable_lines(&rest[..i]));
        let after = &rest[i + 1..];
        let sgr = after.strip_prefix('[').and_then(|r| {
            let n = r
                .find(|c: char| !(c.is_ascii_digit() || c == ';'))
                .unwrap_or(r.len());
            r[n..].starts_with('m').then_some(n + 2)
        });
        match sgr {
            Some(len) => {
                out.push('\x1b');
                out.push_str(&after[..len]);
                rest = &after[len..];
            }
            None => {
                out.push_str(&printable("\x1b"));
                rest = after;
            }
        }
    }
    out.push_str(&printable_lines(rest));
    std::borrow::Cow::Owned(out)
}

/// Renders rows as an aligned text table with a header rule. Cells are measured in characters
/// (not bytes) so ARNs and arrows line up; the last column is not padded.
///
/// Cells are made printable (input text such as ARNs lands in them) before they are measured,
/// so an escaped control character also keeps its column aligned.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| printable_keeping_colour(c).into_owned())
                .collect()
        })
        .collect();
    let rows = rows.as_slice();
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut line = String::new();
        for (i, cell) in cells.enumerate().take(cols) {
            if i + 1 == cols {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        line.trim_end().to_string()
    };
    let mut out = render(&mut headers.iter().copied());
    out.push('\n');
    let rules: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            "-".repeat(if i + 1 == cols {
                headers[i].chars().count().max(*w).min(40)
            } else {
                *w
            })
        })
        .collect();
    out.push_str(&rules.join("  "));
    out.push('\n');
    for row in rows {
        out.push_str(&render(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_keeps_our_colours_and_shows_every_other_escape() {
        let ours = Paint(true).green("proposed");
        let hostile = "role/x\x1b]0;title\x07\x1b[2J\u{202e}y";
        let text = format!("{ours} {hostile}\n");
        assert_eq!(
            printable_keeping_colour(&text),
            format!("{ours} role/x\\u{{1b}}]0;title\\u{{7}}\\u{{1b}}[2J\\u{{202e}}y\n")
        );
        // A colour sequence from input is indistinguishable from ours and stays: harmless
        // (no cursor movement, title or hyperlink), and the values printed are escaped
        // before they reach here wherever they come from inputs.
        assert!(matches!(
            printable_keeping_colour("plain\ntext\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    fn args(color: ColorChoice) -> UiArgs {
        UiArgs {
            quiet: false,
            verbose: false,
            color,
        }
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn colour_follows_terminal_and_no_color() {
        let ui = Ui::from_parts(&args(ColorChoice::Auto), env_of(&[]), true, false);
        assert!(ui.color_out);
        assert!(!ui.color_err);
        assert!(!ui.interactive);

        let ui = Ui::from_parts(
            &args(ColorChoice::Auto),
            env_of(&[("NO_COLOR", "1")]),
            true,
            true,
        );
        assert!(!ui.color_out && !ui.color_err);
        assert!(ui.interactive, "NO_COLOR does not hide progress");

        // An empty NO_COLOR does not count (no-color.org).
        let ui = Ui::from_parts(
            &args(ColorChoice::Auto),
            env_of(&[("NO_COLOR", "")]),
            true,
            true,
        );
        assert!(ui.color_out);

        let ui = Ui::from_parts(
            &args(ColorChoice::Auto),
            env_of(&[("TERM", "dumb")]),
            true,
            true,
        );
        assert!(!ui.color_out && !ui.interactive);
    }

    #[test]
    fn explicit_colour_choice_wins() {
        let ui = Ui::from_parts(
            &args(ColorChoice::Always),
            env_of(&[("NO_COLOR", "1")]),
            false,
            false,
        );
        assert!(ui.color_out && ui.color_err);
        let ui = Ui::from_parts(&args(ColorChoice::Never), env_of(&[]), true, true);
        assert!(!ui.color_out && !ui.color_err);
    }

    #[test]
    fn paint_is_plain_without_colour() {
        assert_eq!(Paint(false).red_bold("x"), "x");
        assert_eq!(Paint(true).red_bold("x"), "\x1b[1;31mx\x1b[0m");
    }

    #[test]
    fn progress_is_hidden_off_terminal_but_still_counts() {
        let ui = Ui::from_parts(&args(ColorChoice::Auto), env_of(&[]), false, false);
        let progress = ui.scan_progress("scanning", Some(3));
        assert!(progress.bar.is_hidden());
        progress.file_done(10);
        progress.file_done(5);
        assert_eq!(progress.events(), 15);
        assert_eq!(progress.bar.position(), 2);
        progress.finish();
    }

    #[test]
    fn rates_do_not_divide_by_zero() {
        assert_eq!(per_second(100, Duration::ZERO), 100);
        assert_eq!(per_second(100, Duration::from_secs(4)), 25);
    }

    #[test]
    fn tables_align_by_characters() {
        let out = table(
            &["role", "granted → proposed"],
            &[
                vec!["ApiRole".into(), "* → 4".into()],
                vec!["WorkerFunctionRole".into(), "s3:* → 2".into()],
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "role                granted → proposed");
        assert_eq!(lines[1], format!("{}  {}", "-".repeat(18), "-".repeat(18)));
        assert_eq!(lines[2], "ApiRole             * → 4");
        assert_eq!(lines[3], "WorkerFunctionRole  s3:* → 2");
    }
}
