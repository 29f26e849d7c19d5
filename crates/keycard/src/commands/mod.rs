//! One module per subcommand. Each exposes `Args` (clap) and `run(args, &Ui) -> Result<u8>`
//! returning an exit code from `crate::exit`.

pub mod check;
pub mod completions;
pub mod coverage_args;
pub mod grants;
pub mod propose;
pub mod usage;
