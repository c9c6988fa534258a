//! Exit statuses, shared by the command line and the workflows that decide them.

/// Success.
pub const EXIT_OK: u8 = 0;
/// An error: bad input, failed checks, an AWS failure, a declined deployment.
pub const EXIT_ERROR: u8 = 1;
/// "Attention": changes present (`plan --detailed-exitcode`), a quota shortfall, an estimate over
/// the budget.
pub const EXIT_ATTENTION: u8 = 2;
/// The user stopped a run with Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;
