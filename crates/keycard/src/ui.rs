//! Terminal output: colour (honouring NO_COLOR and TTY detection), quiet/verbose, progress.

use std::io::IsTerminal;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct UiArgs {
    /// Print only results and errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more about what is being done.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

/// How the CLI talks to the person at the terminal. Results go to stdout; everything else to
/// stderr so that `--format json` output can be piped.
#[derive(Debug, Clone)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: bool,
    /// Colour on stderr: only for a terminal, never when NO_COLOR is set.
    pub color: bool,
    /// Whether stderr is a terminal (progress bars are hidden otherwise).
    pub interactive: bool,
}

impl Ui {
    pub fn new(args: &UiArgs) -> Self {
        let interactive = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            quiet: args.quiet,
            verbose: args.verbose,
            color: interactive && !no_color,
            interactive,
        }
    }

    pub fn error(&self, msg: &str) {
        if self.color {
            eprintln!("\x1b[1;31merror:\x1b[0m {msg}");
        } else {
            eprintln!("error: {msg}");
        }
    }

    pub fn warn(&self, msg: &str) {
        if self.quiet {
            return;
        }
        if self.color {
            eprintln!("\x1b[1;33mwarning:\x1b[0m {msg}");
        } else {
            eprintln!("warning: {msg}");
        }
    }

    pub fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.verbose {
            eprintln!("{msg}");
        }
    }
}
