//! One module per subcommand. Each exposes `Args` (clap) and `run(args, &Ui) -> Result<u8>`
//! returning an exit code from `crate::exit`.

pub(crate) mod check;
pub(crate) mod completions;
pub(crate) mod coverage_args;
pub(crate) mod grants;
pub(crate) mod propose;
pub(crate) mod usage;
